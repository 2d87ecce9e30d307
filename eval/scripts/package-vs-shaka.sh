#!/usr/bin/env bash
# Packaging throughput side by side on the same input: `abmark package` and Shaka Packager
# 3.8 (the reference packager) encrypt every track of a variants output (both variants, every
# rendition, the audio) with cenc into 2-s CMAF segments, timed by hyperfine in one run.
# Shaka reads files, so each track is handed to it as one fragmented MP4 (its header and
# segments concatenated, made before timing); abmark reads the same bytes from the directory.
#
#   bash eval/scripts/package-vs-shaka.sh [VARIANTS_OUT=out/variants] [SCHEME=cenc]
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-out/variants}
SCHEME=${2:-cenc}
[ -f "$OUT/job.json" ] || { echo "package-vs-shaka: $OUT is not a variants output (run scripts/main-job.sh)" >&2; exit 1; }
bash scripts/setup.sh hyperfine >&2
SHAKA=$(bash scripts/tools.sh shaka)
cargo build --release -q -p abmark-cli
KID=00112233445566778899aabbccddeeff
KEY=ffeeddccbbaa99887766554433221100

# In memory when possible: both tools write the same bytes, and disk writeback would swamp
# the difference in work.
work=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/in"
shaka_args=()
while read -r path kind count; do
  name=${path//\//-}
  files=("$OUT/$path/init.mp4")
  for ((n = 1; n <= count; n++)); do files+=("$OUT/$path/seg-$n.m4s"); done
  cat "${files[@]}" > "$work/in/$name.mp4"
  stream=video; [ "$kind" = audio ] && stream=audio
  # Single-quoted: hyperfine runs the command through a shell, which must leave $Number$ alone.
  shaka_args+=("'in=$work/in/$name.mp4,stream=$stream,init_segment=$work/shaka/$name/init.mp4,segment_template=$work/shaka/$name/seg-\$Number\$.m4s'")
done < <(python3 -c '
import json,sys
for o in json.load(open(sys.argv[1]))["outputs"]:
    print(o["path"], o["kind"], len(o["segments"]))' "$OUT/job.json")
bytes=$(du -cb "$work"/in/*.mp4 | tail -1 | cut -f1)

hyperfine --warmup 1 --runs 5 --export-json "$work/times.json" \
  --prepare "rm -rf $work/abmark $work/shaka" \
  -n "abmark package" \
  "target/release/abmark package $OUT -o $work/abmark --key $KID:$KEY --scheme $SCHEME" \
  -n "shaka packager" \
  "$SHAKA ${shaka_args[*]} --enable_raw_key_encryption --keys label=:key_id=$KID:key=$KEY --protection_scheme $SCHEME --clear_lead 0 --segment_duration 2 --protection_systems Widevine,PlayReady,CommonSystem --mpd_output $work/shaka/manifest.mpd"

python3 - "$work/times.json" "$bytes" <<'PY'
import json, sys
runs = {r["command"]: r["mean"] for r in json.load(open(sys.argv[1]))["results"]}
mb = int(sys.argv[2]) / 1e6
a, s = runs["abmark package"], runs["shaka packager"]
print(f"media {mb:.0f} MB: abmark {a:.2f} s ({mb / a:.0f} MB/s), shaka {s:.2f} s ({mb / s:.0f} MB/s); abmark is {s / a:.1f}x Shaka's throughput")
PY
