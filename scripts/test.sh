#!/usr/bin/env bash
# The whole test suite, from a clean clone: installs what it needs, fetches the real clips,
# checks formatting and lints, then runs every test (unit, integration on real media).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash datasets/fetch.sh

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# Tests run with optimisations (see [profile.test]): they decode and score real video.
cargo test --workspace --locked
