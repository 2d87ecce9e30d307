#!/usr/bin/env bash
# Load benchmark of `abmark serve`'s personalised-manifest endpoints with wrk, on 127.0.0.1.
# Server and load generator share the machine (2 cores here), so the figures are a floor.
#
#   bash eval/scripts/serve-load.sh [OUT]
#
# OUT: a variants output (default: ./out/variants from the main job, else one made here from the
# 24-s clip). Each endpoint gets 30 s of wrk with 2 threads and 64 connections, and every request
# carries one of 1000 distinct tokens (so no per-token shortcut can help). ABMARK_LOAD_TLS=1,
# ABMARK_LOAD_ORIGIN=ORIGIN and ABMARK_LOAD_ACCESS_LOG=1 run the edge with HTTPS, with
# --allow-origin and with --access-log (lib/edge-options.sh). ABMARK_BIN=PATH serves with that
# binary instead of this tree's release build (to compare two commits with the same script and
# input).
#
# Besides wrk's figures, each endpoint prints the server's CPU time per request (user + system
# of the `abmark serve` process over the run, from /proc): on a machine shared with other work
# throughput moves with the neighbours, CPU per request less, and it leaves out the load
# generator's own work (its TLS, for one). Compare it only between runs under similar load: on
# an idle machine the runtime's idle workers poll instead of sleeping and raise it.
set -euo pipefail
cd "$(dirname "$0")/../.."

bash scripts/setup.sh wrk
bash datasets/fetch.sh
if [ -n "${ABMARK_BIN:-}" ]; then
  abmark=$ABMARK_BIN
else
  cargo build --release --locked -p abmark-cli
  abmark=target/release/abmark
fi
work=target/eval-work/serve-load
mkdir -p "$work"
out=${1:-out/variants}
if [ ! -f "$out/job.json" ]; then
  out=$work/variants
  [ -f "$work/wm.key" ] || "$abmark" keygen -o "$work/wm.key" >/dev/null
  [ -f "$out/job.json" ] || "$abmark" variants datasets/cache/abmark-720p-short.mp4 -o "$out" \
    --key "$work/wm.key" --force >/dev/null
  key=$work/wm.key
else
  key=$(dirname "$out")/wm.key
fi
segments=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['segment_count'])" "$out/job.json")
top=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['renditions']; print(max(r, key=lambda x: x['width']*x['height'])['id'])" "$out/job.json")

source eval/scripts/lib/edge-options.sh

# The server's CPU time so far (user + system), in clock ticks: CPU per request is a figure a
# machine shared with other work does not skew the way requests/s is.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ticks_per_s=$(getconf CLK_TCK)

# 1000 viewers' tokens, as a Lua table wrk picks from at random.
lua=$work/tokens.lua
{
  echo "$lua_origin"
  echo "tokens = {"
  for s in $(seq 1 1000); do
    printf '"%s",\n' "$("$abmark" token --key "$key" --session "$((s * 7919))" --subject "v$s" --ttl 7200)"
  done
  echo "}"
  cat <<'LUA'
math.randomseed(42)
request = function()
  local t = tokens[math.random(#tokens)]
  local headers = {}
  if origin then headers["Origin"] = origin end
  return wrk.format("GET", string.format(path_template, t), headers)
end
LUA
} > "$lua"

"$abmark" serve "$out" --key "$key" --listen 127.0.0.1:0 --session-log "$work/sessions.jsonl" \
  "${edge_args[@]}" > "$work/serve.out" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q listening "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
base=$(sed -n 's/^listening on //p' "$work/serve.out")

echo "serve-load: $out ($segments segments, top rendition $top), $(nproc) cores"
for path in "/hls/master.m3u8?token=%s" "/hls/$top.m3u8?token=%s" "/dash/manifest.mpd?token=%s"; do
  script=$work/run.lua
  { echo "path_template = \"$path\""; cat "$lua"; } > "$script"
  echo "== GET ${path%%\?*}"
  before=$(cpu_ticks "$pid")
  wrk -t2 -c64 -d30s --latency -s "$script" "$base" > "$work/wrk.out"
  after=$(cpu_ticks "$pid")
  grep -E "requests in|Requests/sec|Latency|50%|90%|99%|Non-2xx|Socket errors" "$work/wrk.out"
  requests=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$work/wrk.out")
  python3 -c "import sys; t, n, hz = map(int, sys.argv[1:]); print(f'server CPU: {t / hz * 1e6 / n:.1f} us per request ({t / hz:.1f} s for {n} requests)')" \
    "$((after - before))" "$requests" "$ticks_per_s"
done
if [ "${ABMARK_LOAD_ACCESS_LOG:-0}" = 1 ]; then
  dropped=$(curl -s "$base/metrics" | sed -n 's/^abmark_access_log_lines_dropped_total //p')
  echo "access log: $(wc -l < "$work/access.jsonl") lines, $(du -h "$work/access.jsonl" | cut -f1), dropped: ${dropped:-?}"
fi
