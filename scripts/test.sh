#!/usr/bin/env bash
# The whole test suite, from a clean clone: installs what it needs, fetches the real clips,
# checks formatting and lints, then runs every test (unit, integration on real media).
#
#   bash scripts/test.sh          the whole suite (what .ci/run runs)
#   bash scripts/test.sh --fast   the same checks and tests, except the tests that drive
#                                 third-party interoperability tools (Shaka Packager, pymp4 /
#                                 pywidevine, headless Chromium, the deploy/ linters), `eval bench
#                                 --quick` (with its Slurm run) and the aarch64 (NEON) kernel
#                                 tests under qemu
#
# docs/testing.md says what each tier covers and what --fast leaves out.
set -euo pipefail
cd "$(dirname "$0")/.."

# Tests --fast skips, by exact name. Each one installs or runs a third-party tool through
# scripts/tools.sh (cli/tests/common: tool(), play()) or runs the benchmark. A new test that
# does so belongs in this list. (cli/tests/slurm.rs is not here: its Slurm cluster comes from
# Debian packages scripts/setup.sh installs, like redis-server; see docs/testing.md.)
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
  # cli/tests/investigate.rs: the detection service's web page in Chromium
  chromium_signs_in_uploads_a_copy_and_reads_the_report
  # cli/tests/players.rs: the player matrix (Chromium + shaka-player, dash.js, hls.js)
  shaka_dash_cenc_same_origin
  shaka_dash_cenc_cross_origin
  shaka_dash_cbcs_same_origin
  shaka_dash_cbcs_cross_origin
  dashjs_dash_cenc_same_origin
  dashjs_dash_cenc_cross_origin
  dashjs_dash_cbcs_same_origin
  dashjs_dash_cbcs_cross_origin
  hlsjs_hls_cenc_same_origin
  hlsjs_hls_cenc_cross_origin
  hlsjs_hls_cbcs_same_origin
  hlsjs_hls_cbcs_cross_origin
  a_page_on_another_site_does_not_play
  shaka_plays_the_etsi_edge_mode
  shaka_plays_a_key_rotated_output
  # cli/tests/player_page.rs: the player page (needs the pinned shaka-player; Chromium)
  an_allowed_site_embeds_the_player_and_it_plays
  a_site_not_on_the_list_cannot_frame_the_player
  a_token_for_other_sites_shows_domain_not_allowed
  the_page_opened_from_a_site_not_on_the_list_says_so
  an_expired_token_and_a_denied_subject_get_their_messages
  a_player_fetching_faster_than_the_live_rules_allow_gets_too_fast
  # eval/tests/bench_quick.rs: eval bench --quick (real variants, FFmpeg attacks, detector),
  # then its cells on a local single-node Slurm cluster
  the_quick_benchmark_names_every_viewer_and_accuses_nobody
  # cli/tests/deploy_k8s.rs: kubernetes-validate and hadolint (scripts/tools.sh k8s)
  kubernetes_manifests_validate_and_keep_the_rules
  run_sh_renders_indexed_jobs_that_still_validate
  the_dockerfile_passes_hadolint_and_runs_as_non_root_on_pinned_bases
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
