#!/usr/bin/env bash
# Installs, idempotently, every Debian package abmark's build, tests and main job need.
# Safe to run repeatedly: packages already present are skipped without touching apt.
# Extra package names as arguments are installed too (benchmarks: `setup.sh wrk`).
set -euo pipefail

packages=(
  ffmpeg            # CLI: attacks in tests, ffprobe checks
  curl              # main job: fetches a personalised playlist
  openssl           # tests: test certificates for HTTPS (tls.rs, player_page.rs); the load scripts
  pkg-config
  clang libclang-dev # bindgen for ffmpeg-sys-next
  libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev
  libavfilter-dev libavdevice-dev
  python3-venv      # datasets: a throwaway venv is not needed, but pip download is
  redis-server      # tests: the licence service's shared state store (Redis mode)
  slurmctld slurmd slurm-client munge # tests + deploy/slurm: a real single-node Slurm cluster
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
