#!/usr/bin/env bash
# What splitting `abmark variants` into chunks costs: total CPU time (user + sys, from
# /usr/bin/time, so that other load on a shared machine changes it little) of the one-machine
# run against N chunks run one after the other plus `variants assemble`, and what each chunk
# spent decoding frames before its start (its seek cost). Also checks that the assembled
# output has the one-machine run's segment count and durations.
#   eval/scripts/chunk-overhead.sh [CLIP] [N] [extra variants flags...]
set -euo pipefail
cd "$(dirname "$0")/../.."
clip=${1:-datasets/cache/abmark-720p.mp4}
n=${2:-8}
shift $(( $# > 2 ? 2 : $# ))
extra=("$@")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release --locked -p abmark-cli >/dev/null
A=target/release/abmark
$A keygen -o "$work/wm.key" >/dev/null

cpu() { # seconds of user + sys CPU of the command, from /usr/bin/time
  local log=$1; shift
  /usr/bin/time -f "%U %S %e" -o "$log" "$@" >/dev/null
  awk '{ printf "%.2f %.2f\n", $1 + $2, $3 }' "$log"
}

read -r single single_wall < <(cpu "$work/t-single" \
  $A variants "$clip" -o "$work/single" --key "$work/wm.key" "${extra[@]}" --json)
echo "one machine: ${single} s CPU (${single_wall} s wall)"

total=0
printf '| chunk | segments | frames | decoded before start | CPU s | wall s |\n|---|---|---|---|---|---|\n' \
  > "$work/chunks.md"
for ((i = 0; i < n; i++)); do
  read -r c w < <(cpu "$work/t-$i" \
    $A variants "$clip" -o "$work/chunked" --key "$work/wm.key" "${extra[@]}" --chunk "$i/$n" --json)
  total=$(python3 -c "print(round($total + $c, 2))")
  python3 - "$work/chunked/.chunks/$i-of-$n/chunk.json" "$i" "$c" "$w" >> "$work/chunks.md" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
segs = len(c["outputs"][0]["segments"])
first = c["first_segment"] + 1
print(f"| {sys.argv[2]} | {first}-{first + segs - 1} | {c['frames']} | {c['dropped_frames']} | {sys.argv[3]} | {sys.argv[4]} |")
open(sys.argv[1].rsplit("/.chunks/", 1)[0] + "/../dropped", "a").write(f"{c['dropped_frames']}\n")
EOF
done
read -r asm asm_wall < <(cpu "$work/t-asm" $A variants assemble "$work/chunked" --json)
total=$(python3 -c "print(round($total + $asm, 2))")

# Decoding CPU per frame of this clip (one thread), to price the frames decoded before a start.
read -r dec _ < <(cpu "$work/t-dec" ffmpeg -hide_banner -loglevel error -nostdin -threads 1 \
  -i "$clip" -map 0:v:0 -f null -)
frames=$(python3 -c "import json; print(json.load(open('$work/single/job.json'))['frames'])")
dropped=$(awk '{ s += $1 } END { print s + 0 }' "$work/dropped")

cat "$work/chunks.md"
python3 - "$work" "$single" "$total" "$asm" "$dec" "$frames" "$n" "$dropped" <<'EOF'
import json, sys
work, single, total, asm, dec, frames, n, dropped = sys.argv[1], *map(float, sys.argv[2:7]), int(sys.argv[7]), int(sys.argv[8])
a = json.load(open(f"{work}/single/job.json"))
b = json.load(open(f"{work}/chunked/job.json"))
same = (a["segment_count"], a["segment_durations"], a["frames"]) == (b["segment_count"], b["segment_durations"], b["frames"])
samples = all(
    [s["samples"] for s in x["segments"]] == [s["samples"] for s in y["segments"]]
    for x, y in zip(a["outputs"], b["outputs"])
)
print(f"\nassemble: {asm:.2f} s CPU")
print(f"one machine {single:.2f} s CPU; {n} chunks + assemble {total:.2f} s CPU: {total / single:.3f}x")
print(f"overhead per chunk: {(total - single) / n:.2f} s CPU")
per_frame = dec / frames
print(f"decoding: {per_frame * 1000:.2f} ms CPU per frame (one thread)")
print(f"seek cost: {dropped / n:.1f} frames decoded before a chunk's start on average, "
      f"about {dropped / n * per_frame:.2f} s CPU per chunk")
print(f"assembled output has the one-machine segments, durations, frames and sample counts: {same and samples}")
EOF
