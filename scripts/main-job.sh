#!/usr/bin/env bash
# The main job, end to end on the bundled real clip:
#   1. make a watermark key;
#   2. encode both watermark variants (A = symbol 0, B = symbol 1) of the 184-s clip as aligned
#      CMAF outputs with HLS and DASH manifests;
#   3. package them for delivery: cbcs encryption with fresh keys (written as CPIX, mode 0600),
#      DRM signalling in the manifests; decrypt again and check every picture came back;
#   4. mint a viewer's manifest and licence tokens (session 424242), start the personalised edge
#      (abmark serve) on the encrypted output with its ClearKey licence service, fetch that
#      viewer's HLS stream and a licence, and decrypt it with FFmpeg (what a pirate captures);
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

echo "== 3. one viewer's session: tokens, the personalised edge with its licence service, playback"
session=424242
[ -f "$out/master.key" ] || "$abmark" keygen -o "$out/master.key"
# The site's two tokens for this viewer: one for the personal manifests, one for the licence.
token=$("$abmark" token --key "$out/wm.key" --session "$session" --subject demo-viewer \
  --content demo --ttl 600)
licence_token=$("$abmark" token --licence --key "$out/wm.key" --session "$session" \
  --subject demo-viewer --content demo --ttl 600)
rm -f "$out/licence-state.db" "$out/licences.jsonl"
"$abmark" serve "$out/packaged" --key "$out/wm.key" --listen 127.0.0.1:0 --content demo \
  --session-log "$out/sessions.jsonl" --master-key "$out/master.key" --keys "$out/keys.cpix.xml" \
  --state "$out/licence-state.db" --max-streams 2 --licence-log "$out/licences.jsonl" \
  > "$out/serve.out" &
serve_pid=$!
trap 'kill $serve_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q listening "$out/serve.out" 2>/dev/null && break; sleep 0.1; done
base=$(sed -n 's/^listening on //p' "$out/serve.out")
echo "edge at $base, serving session $session, encrypted (cbcs), licences behind tokens"
# What the viewer receives, per segment, and the same stream as one file (abmark mix).
"$abmark" mix "$out/variants" --session "$session" --key "$out/wm.key" \
  -o "$out/viewer-mix.mp4" --json > "$out/mix.json"
top=$(sed -n 's/.*"rendition": "\(.*\)".*/\1/p' "$out/mix.json")
bits=$(sed -n 's/.*"segment_variants": "\([01]*\)".*/\1/p' "$out/mix.json")
echo "segment variants of session $session: $bits"
# The viewer's player, in shell: the personalised playlists, every segment they list, and a
# ClearKey licence for the KID they announce. (FFmpeg's HLS reader cannot fetch licences.)
curl -fsS "$base/hls/master.m3u8?token=$token" | grep -c "token=" >/dev/null
fetch_track() { # init + segments of one personal media playlist, as one encrypted fMP4
  curl -fsS "$base/hls/$1.m3u8?token=$token" | awk -v b="$base" '
    /^#EXT-X-MAP/ { match($0, /URI="[^"]*"/); print b substr($0, RSTART + 5, RLENGTH - 6) }
    !/^#/ && NF { print b $0 }' | while read -r url; do curl -fsS "$url"; done
}
fetch_track "$top" > "$out/viewer-video.enc.mp4"
fetch_track audio > "$out/viewer-audio.enc.mp4"
kid=$(curl -fsS "$base/hls/$top.m3u8?token=$token" \
  | sed -n 's/.*KEYID=0x\([0-9a-f]*\),KEYFORMAT="org.w3.clearkey".*/\1/p' | head -n 1)
kid_b64=$(python3 -c 'import base64, sys; print(base64.urlsafe_b64encode(bytes.fromhex(sys.argv[1])).decode().rstrip("="))' "$kid")
curl -fsS -X POST "$base/license" -H "Authorization: Bearer $licence_token" -H "Abmark-Player: main-job" \
  -H 'Content-Type: application/json' -d "{\"kids\":[\"$kid_b64\"],\"type\":\"temporary\"}" \
  > "$out/licence.json"
content_key=$(python3 -c '
import base64, json, sys
k = json.load(open(sys.argv[1]))["keys"][0]["k"]
print(base64.urlsafe_b64decode(k + "=" * (-len(k) % 4)).hex())' "$out/licence.json")
# Without the licence token the service refuses.
status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$base/license" \
  -H 'Content-Type: application/json' -d "{\"kids\":[\"$kid_b64\"],\"type\":\"temporary\"}")
[ "$status" = 401 ] || { echo "main job: a licence request without a token got $status" >&2; exit 1; }
# Decrypt as the viewer's CDM would (FFmpeg's own CENC code, fed through a pipe: FFmpeg 5.1
# misreads multi-fragment encrypted files it can seek in) and mux picture and sound.
ffmpeg -hide_banner -loglevel error -nostdin -y -decryption_key "$content_key" -i pipe:0 \
  -c copy "$out/viewer-video.mp4" < "$out/viewer-video.enc.mp4"
ffmpeg -hide_banner -loglevel error -nostdin -y -decryption_key "$content_key" -i pipe:0 \
  -c copy "$out/viewer-audio.m4a" < "$out/viewer-audio.enc.mp4"
unset content_key
ffmpeg -hide_banner -loglevel error -nostdin -y -i "$out/viewer-video.mp4" -i "$out/viewer-audio.m4a" \
  -map 0:v -map 1:a -c copy "$out/viewer.mp4"
rm -f "$out/licence.json" "$out/viewer-video.mp4" "$out/viewer-audio.m4a" "$out"/viewer-*.enc.mp4
kill $serve_pid; wait $serve_pid 2>/dev/null || true
echo "session log: $(tail -n 1 "$out/sessions.jsonl")"
echo "licence log: $(cut -c1-400 "$out/licences.jsonl" | tr '\n' ' ')"
if cmp -s <(pictures "$out/viewer.mp4") <(pictures "$out/viewer-mix.mp4"); then
  echo "the stream served over HTTP, decrypted with the licensed key, is identical, picture for picture, to abmark mix"
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
