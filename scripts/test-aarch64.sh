#!/usr/bin/env bash
# The watermark core's SIMD tests on aarch64 from an x86-64 machine: cross-compiles abmark-wm's
# unit tests and runs each kernel against its scalar twin (engine/wm/src/simd/tests.rs) under
# qemu-aarch64, which is how the NEON paths get tested without an ARM CPU. Idempotent: installs
# qemu-user, the aarch64 cross linker and the rustup target only when they are missing.
# Arguments replace the test filter (default `simd`; `''` runs every abmark-wm unit test).
set -euo pipefail
cd "$(dirname "$0")/.."

target=aarch64-unknown-linux-gnu
filter=(simd)
(($#)) && filter=("$@")

if [ "$(uname -m)" = aarch64 ]; then
  # Already on the architecture: no emulator, no cross linker.
  exec cargo test -p abmark-wm --lib --locked "${filter[@]}"
fi

missing=()
# libc6-dev-arm64-cross is only a Recommends of the cross gcc, and without it the link fails
# (no Scrt1.o, crti.o): name it, since the install below skips recommends.
for p in qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "test-aarch64: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! rustup target list --installed | grep -qx "$target"; then
  if ! rustup target add "$target"; then
    # scripts/test.sh sets ABMARK_AARCH64_OPTIONAL: a machine that cannot download the target
    # (no route to static.rust-lang.org) still runs the rest of the suite, and says so.
    if [ "${ABMARK_AARCH64_OPTIONAL:-0}" = 1 ]; then
      echo "test-aarch64: NOT RUN: rustup could not install $target; the NEON kernels were not tested" >&2
      exit 0
    fi
    exit 1
  fi
fi

# The cross linker, and qemu finding the aarch64 C library where the cross toolchain put it.
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
cargo test -p abmark-wm --lib --locked --target "$target" "${filter[@]}"
