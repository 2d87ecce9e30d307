#!/usr/bin/env bash
# Instructions per personalised-manifest request of `abmark serve`, counted by callgrind:
# repeatable whatever else the machine runs (wall-clock figures are not).
#
#   bash eval/scripts/serve-callgrind.sh NAME BINARY [serve options...]
#
# Needs the variants and tokens of a previous `serve-load.sh` run (target/eval-work/serve-load).
# Serves them with BINARY under callgrind, sends every token once through the MPD as a warm-up
# (so the session log has seen them all, as in serve-load.sh), then the media playlist and the
# MPD for 20 s each (wrk, 1 thread, 4 connections; ORIGIN='"https://x"' adds that Origin to
# every request), and prints, per endpoint, the hyper connection task's instructions divided by
# the requests answered (and the mean of the two). HTTPS: pass the serve options `--tls-cert FILE
# --tls-key FILE` (the URL the server prints is then https). Output:
# target/eval-work/serve-callgrind/cg.NAME.out.* (one dump per endpoint) and
# annotate.NAME.ENDPOINT.txt (callgrind_annotate --inclusive=yes).
set -euo pipefail
cd "$(dirname "$0")/../.."
name=$1
bin=$(realpath "$2")
shift 2
load=target/eval-work/serve-load
work=target/eval-work/serve-callgrind
[ -f "$load/tokens.lua" ] || { echo "serve-callgrind: run eval/scripts/serve-load.sh first" >&2; exit 1; }
bash scripts/setup.sh wrk valgrind >&2
mkdir -p "$work"
rm -f "$work/cg.$name.out"* "$work/serve.$name.out"
valgrind --tool=callgrind --callgrind-out-file="$work/cg.$name.out" "$bin" serve "$load/variants" \
  --key "$load/wm.key" --listen 127.0.0.1:0 --session-log "$work/sessions.$name.jsonl" "$@" \
  > "$work/serve.$name.out" 2> "$work/serve.$name.err" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 300); do grep -q listening "$work/serve.$name.out" 2>/dev/null && break; sleep 0.2; done
base=$(sed -n 's/^listening on //p' "$work/serve.$name.out")
# Warm-up, not counted: every token once through the MPD, so the session log has seen them all
# (as in serve-load.sh, where the multivariant playlist runs first) and the counted requests are
# the steady state whatever their number.
{
  echo 'path_template = "/dash/manifest.mpd?token=%s"'
  sed "s|^origin = .*|origin = ${ORIGIN:-nil}|" "$load/tokens.lua"
  cat <<'LUA'
local sent, answered = 0, 0
request = function()
  sent = sent + 1
  local headers = {}
  if origin then headers["Origin"] = origin end
  return wrk.format("GET", string.format(path_template, tokens[(sent - 1) % #tokens + 1]), headers)
end
response = function(status)
  answered = answered + 1
  if status ~= 200 then error("warm-up: status " .. status) end
  if answered >= #tokens then wrk.thread:stop() end
end
LUA
} > "$work/warm.lua"
wrk -t1 -c1 -d300s -s "$work/warm.lua" "$base" > "$work/wrk.out"
# One callgrind dump per endpoint (callgrind_control zeroes the counters at each dump), so each
# endpoint's figure is its own whatever the mix of requests wrk managed in its 20 s.
callgrind_control --dump=start "$pid" > /dev/null
summary=()
for path in "/hls/720p.m3u8?token=%s" "/dash/manifest.mpd?token=%s"; do
  { echo "path_template = \"$path\""; sed "s|^origin = .*|origin = ${ORIGIN:-nil}|" "$load/tokens.lua"; } > "$work/run.lua"
  wrk -t1 -c4 -d20s -s "$work/run.lua" "$base" > "$work/wrk.out"
  grep -q "Non-2xx" "$work/wrk.out" && { echo "serve-callgrind: refused requests" >&2; exit 1; }
  n=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$work/wrk.out")
  endpoint=$(basename "${path%%\?*}")
  callgrind_control --dump="$endpoint" "$pid" > /dev/null
  summary+=("$endpoint $n")
done
kill -INT $pid
wait $pid || true
trap - EXIT
# The dumps are numbered in order: .1 the start-up and warm-up, .2 and .3 the two endpoints.
total_ir=0
total_n=0
for k in 0 1; do
  read -r endpoint n <<< "${summary[$k]}"
  dump="$work/cg.$name.out.$((k + 2))"
  annotated="$work/annotate.$name.$endpoint.txt"
  callgrind_annotate --inclusive=yes "$dump" > "$annotated" 2>/dev/null
  ir=$(awk '/Dispatcher<D,Bs,I,T>::poll_catch/ {gsub(",", "", $1); print $1; exit}' "$annotated")
  echo "$name $endpoint: $((ir / n)) instructions per request ($n requests)"
  total_ir=$((total_ir + ir / n))
  total_n=$((total_n + 1))
done
echo "$name: $((total_ir / total_n)) instructions per request (mean of the two endpoints)"
