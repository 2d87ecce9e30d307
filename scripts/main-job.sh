#!/usr/bin/env bash
# The main job, end to end on the bundled real clip:
#   1. make a watermark key;
#   2. encode both watermark variants (A = symbol 0, B = symbol 1) of the 184-s clip as aligned
#      CMAF outputs with HLS and DASH manifests;
#   3. build one viewer's stream, taking segment i from A or B by a bit pattern, and play it
#      through the HLS manifest with FFmpeg into a file (what a pirate would capture);
#   4. attack that copy (downscale to 640x360, x264 CRF 28);
#   5. decide every segment's symbol from the copy and compare with the viewer's bits.
# Work goes to ./out/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash datasets/fetch.sh
cargo build --release --locked -p abmark-cli -p eval
abmark=target/release/abmark
clip=datasets/cache/abmark-720p.mp4
out=$(pwd)/out
mkdir -p "$out"

[ -f "$out/wm.key" ] || "$abmark" keygen -o "$out/wm.key"

echo "== 1. variants"
"$abmark" variants "$clip" -o "$out/variants" --key "$out/wm.key" --force

echo "== 2. one viewer's stream: segment i from variant bit i (a fixed demo pattern)"
target/release/eval mix "$out/variants" --name viewer --pattern 0110100111001011
ffmpeg -hide_banner -loglevel error -nostdin -y -i "$out/variants/viewer.m3u8" -c copy "$out/viewer.mp4"

echo "== 3. attack: downscale to 640x360, x264 CRF 28"
ffmpeg -hide_banner -loglevel error -nostdin -y -i "$out/viewer.mp4" \
  -vf scale=640:360 -c:v libx264 -preset veryfast -crf 28 -an "$out/pirated.mp4"

echo "== 4. detection: per-segment symbols of the pirated copy"
"$abmark" symbols "$out/pirated.mp4" --ref "$clip" --key "$out/wm.key" --json > "$out/symbols.json"
target/release/eval compare "$out/symbols.json" --pattern 0110100111001011
