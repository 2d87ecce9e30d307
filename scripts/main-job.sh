#!/usr/bin/env bash
# The main job, end to end on the bundled real clip:
#   1. make a watermark key;
#   2. encode both watermark variants (A = symbol 0, B = symbol 1) of the 184-s clip as aligned
#      CMAF outputs with HLS and DASH manifests;
#   3. package them for delivery: cbcs encryption with fresh keys (written as CPIX, mode 0600),
#      DRM signalling in the manifests; decrypt again and check every picture came back;
#   4. mint a viewer's token (session 424242), start the personalised edge (abmark serve) and
#      play that viewer's HLS stream from it with FFmpeg into a file (what a pirate captures);
#   5. attack that copy (downscale to 640x360, x264 CRF 28);
#   6. detect: place the copy in the reference, read every segment's symbol, name the session
#      from the session log and print the evidence (and an SVG plot of it).
# Work goes to ./out/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash datasets/fetch.sh
cargo build --release --locked -p abmark-cli
abmark=target/release/abmark
clip=datasets/cache/abmark-720p.mp4
out=$(pwd)/out
mkdir -p "$out"

[ -f "$out/wm.key" ] || "$abmark" keygen -o "$out/wm.key"

echo "== 1. variants"
"$abmark" variants "$clip" -o "$out/variants" --key "$out/wm.key" --force

echo "== 2. protection: cbcs encryption for delivery, keys in a private CPIX document"
"$abmark" package "$out/variants" -o "$out/packaged" --scheme cbcs --generate-keys \
  --cpix-out "$out/keys.cpix.xml" --content-id demo --force
"$abmark" decrypt "$out/packaged" -o "$out/decrypted" --cpix "$out/keys.cpix.xml" --force
# Coded pictures only (framemd5 of stream-copied packets; timestamps differ between containers).
pictures() { ffmpeg -v error -i "$1" -map 0:v -c copy -f framemd5 - | grep -v '^#' | awk -F', *' '{print $NF}'; }
track() { # init + segments of one track directory, as one fMP4 stream on stdout
  cat "$1/init.mp4"; n=1; while [ -f "$1/seg-$n.m4s" ]; do cat "$1/seg-$n.m4s"; n=$((n + 1)); done
}
for r in $(ls "$out/variants/0"); do
  if ! cmp -s <(track "$out/variants/0/$r" | pictures pipe:0) <(track "$out/decrypted/0/$r" | pictures pipe:0) \
    || cmp -s "$out/variants/0/$r/seg-1.m4s" "$out/packaged/0/$r/seg-1.m4s"; then
    echo "main job: packaging round trip failed for rendition $r" >&2
    exit 1
  fi
done
echo "encrypted and decrypted back: every picture of every rendition identical"

echo "== 3. one viewer's session: a token, the personalised edge, playback by FFmpeg"
session=424242
token=$("$abmark" token --key "$out/wm.key" --session "$session" --subject demo-viewer \
  --content demo --ttl 600)
"$abmark" serve "$out/variants" --key "$out/wm.key" --listen 127.0.0.1:0 --content demo \
  --session-log "$out/sessions.jsonl" > "$out/serve.out" &
serve_pid=$!
trap 'kill $serve_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q listening "$out/serve.out" 2>/dev/null && break; sleep 0.1; done
base=$(sed -n 's/^listening on //p' "$out/serve.out")
echo "edge at $base, serving session $session"
# What the viewer receives, per segment, and the same stream as one file (abmark mix).
"$abmark" mix "$out/variants" --session "$session" --key "$out/wm.key" \
  -o "$out/viewer-mix.mp4" --json > "$out/mix.json"
top=$(sed -n 's/.*"rendition": "\(.*\)".*/\1/p' "$out/mix.json")
bits=$(sed -n 's/.*"segment_variants": "\([01]*\)".*/\1/p' "$out/mix.json")
echo "segment variants of session $session: $bits"
# The viewer's player: the personalised multivariant playlist, then the top rendition.
curl -fsS "$base/hls/master.m3u8?token=$token" | grep -c "token=" >/dev/null
ffmpeg -hide_banner -loglevel error -nostdin -y -i "$base/hls/$top.m3u8?token=$token" \
  -c copy "$out/viewer.mp4"
kill $serve_pid; wait $serve_pid 2>/dev/null || true
echo "session log: $(tail -n 1 "$out/sessions.jsonl")"
if cmp -s <(pictures "$out/viewer.mp4") <(pictures "$out/viewer-mix.mp4"); then
  echo "the stream served over HTTP is identical, picture for picture, to abmark mix"
else
  echo "main job: the served stream differs from abmark mix" >&2
  exit 1
fi

echo "== 4. attack: downscale to 640x360, x264 CRF 28"
ffmpeg -hide_banner -loglevel error -nostdin -y -i "$out/viewer.mp4" \
  -vf scale=640:360 -c:v libx264 -preset veryfast -crf 28 -an "$out/pirated.mp4"

echo "== 5. detection: which session leaked this copy? (evidence plot: out/evidence.svg)"
"$abmark" detect "$out/pirated.mp4" --ref "$out/variants" --key "$out/wm.key" \
  --sessions "$out/sessions.jsonl" --plot "$out/evidence.svg"
