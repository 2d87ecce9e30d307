#!/usr/bin/env bash
# The main job, end to end on the bundled real clip: make a key, embed symbol 0 and symbol 1,
# attack a marked copy the way a pirate would (downscale + re-encode), and decide every
# segment's symbol from the copy. Prints the evidence. Work goes to ./out/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash datasets/fetch.sh
cargo build --release --locked -p abmark-cli
abmark=target/release/abmark
clip=datasets/cache/abmark-720p.mp4
out=out
mkdir -p "$out"

[ -f "$out/wm.key" ] || "$abmark" keygen -o "$out/wm.key"
for symbol in 0 1; do
  "$abmark" embed "$clip" -o "$out/marked-$symbol.mp4" --key "$out/wm.key" --symbol "$symbol" \
    --preset veryfast --quality --force
done

echo "== attack: the symbol-1 copy downscaled to 640x360 and re-encoded at CRF 28"
ffmpeg -hide_banner -loglevel error -nostdin -y -i "$out/marked-1.mp4" \
  -vf scale=640:360 -c:v libx264 -preset veryfast -crf 28 -an "$out/pirated.mp4"

echo "== detection"
"$abmark" symbols "$out/pirated.mp4" --ref "$clip" --key "$out/wm.key"
