#!/usr/bin/env bash
# The whole test suite, from a clean clone: installs what it needs, fetches the real clips,
# checks formatting and lints, then runs every test (unit, integration on real media).
#
#   bash scripts/test.sh          the whole suite (what .ci/run runs)
#   bash scripts/test.sh --fast   the same checks and tests, except the tests that drive
#                                 third-party interoperability tools (Shaka Packager, pymp4 /
#                                 pywidevine, headless Chromium), `eval bench --quick` and the
#                                 aarch64 (NEON) kernel tests under qemu
#
# docs/testing.md says what each tier covers and what --fast leaves out.
set -euo pipefail
cd "$(dirname "$0")/.."

# Tests --fast skips, by exact name. Each one installs or runs a third-party tool through
# scripts/tools.sh (cli/tests/common: tool(), play()) or runs the benchmark. A new test that
# does so belongs in this list.
INTEROP_TESTS=(
  # cli/tests/interop.rs: Shaka Packager, pymp4 + pywidevine, Chromium + shaka-player
  shaka_packager_decrypts_ours_and_we_decrypt_shakas
  pymp4_and_pywidevine_read_what_we_write
  chromium_plays_our_dash_through_clearkey
  # cli/tests/licence.rs: every test that plays in Chromium (the HTTP-only one stays)
  chromium_plays_a_personal_encrypted_stream_with_a_licence
  the_authorization_backend_decides_and_fails_closed
  tokens_limits_and_deny_list
  two_replicas_share_the_limit_through_redis
  # cli/tests/key_service.rs: Chromium + shaka-player, Shaka Packager
  chromium_plays_what_the_key_service_keyed_through_the_licence_service
  shaka_packagers_stream_from_the_services_keys_plays_through_the_licence_service
  # eval/tests/bench_quick.rs: eval bench --quick (real variants, FFmpeg attacks, detector)
  the_quick_benchmark_names_every_viewer_and_accuses_nobody
)

fast=0
case "${1:-}" in
  "") ;;
  --fast) fast=1 ;;
  *)
    echo "usage: bash scripts/test.sh [--fast]" >&2
    exit 2
    ;;
esac

bash scripts/setup.sh
bash datasets/fetch.sh

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# Tests run with optimisations (see [profile.test]): they decode and score real video.
if ((fast)); then
  skip=()
  for t in "${INTEROP_TESTS[@]}"; do skip+=(--skip "$t"); done
  # --exact makes each --skip match one test name exactly, never a substring of another.
  cargo test --workspace --locked -- --exact "${skip[@]}"
else
  cargo test --workspace --locked
  # The NEON kernels against their scalar twins, cross-compiled and run under qemu-aarch64.
  ABMARK_AARCH64_OPTIONAL=1 bash scripts/test-aarch64.sh
fi
