#!/usr/bin/env bash
# Wall time of `abmark variants` against the FFmpeg CLI doing the same encodes without a
# watermark: one decode, the two renditions (source size and half) encoded twice each with the
# same x264 preset, CRF and closed 2-s GOPs. Needs hyperfine (apt-get install hyperfine).
#   eval/scripts/variants-vs-ffmpeg.sh [CLIP] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../.."
clip=${1:-datasets/cache/abmark-720p.mp4}
runs=${2:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release --locked -p abmark-cli >/dev/null
[ -f "$work/wm.key" ] || target/release/abmark keygen -o "$work/wm.key" >/dev/null
read -r w h fps < <(ffprobe -v error -select_streams v:0 -show_entries stream=width,height,r_frame_rate \
  -of csv=p=0 "$clip" | tr ',' ' ')
keyint=$(python3 -c "from fractions import Fraction as F; print(round(2*F('$fps')))")
x264=(-c:v libx264 -preset veryfast -crf 20 -x264-params "keyint=$keyint:min-keyint=$keyint:scenecut=0:open-gop=0" -an)
half="scale=$(( (w / 2) & ~1 )):$(( (h / 2) & ~1 ))"
ffmpeg_cmd="ffmpeg -hide_banner -loglevel error -nostdin -y -i $clip \
 -filter_complex '[0:v]split=4[a][b][c][d];[c]${half}[c2];[d]${half}[d2]' \
 -map '[a]' ${x264[*]} $work/a.mp4 -map '[b]' ${x264[*]} $work/b.mp4 \
 -map '[c2]' ${x264[*]} $work/c.mp4 -map '[d2]' ${x264[*]} $work/d.mp4"
abmark_cmd="target/release/abmark variants $clip -o $work/out --key $work/wm.key --preset veryfast --crf 20 --force"
hyperfine --runs "$runs" --warmup 0 --export-markdown "$work/result.md" \
  -n "abmark variants" "$abmark_cmd" -n "ffmpeg, 4 encodes, no watermark" "$ffmpeg_cmd"
cat "$work/result.md"
