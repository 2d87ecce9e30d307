#!/usr/bin/env bash
# Load benchmark of `abmark serve`'s ClearKey licence endpoint (POST /license) with wrk, on
# 127.0.0.1. Server and load generator share the machine (2 cores here): the figures are a floor.
#
#   bash eval/scripts/licence-load.sh [PACKAGED_OUT] [CPIX] [sqlite|redis]
#
# Defaults: the main job's out/packaged and out/keys.cpix.xml. 1000 viewers (distinct subjects,
# one licence token each: every request is a full token check, deny-list lookup, sealed-key
# fetch and opening, and a stream admission under a limit of 2 per subject), 30 s of wrk with
# 2 threads and 64 connections. The state store is SQLite (default) or a local redis-server.
# ABMARK_LOAD_TLS=1 and ABMARK_LOAD_ORIGIN=ORIGIN run the edge with HTTPS and with
# --allow-origin (lib/edge-options.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."

out=${1:-out/packaged}
cpix=${2:-out/keys.cpix.xml}
store=${3:-sqlite}
[ -f "$out/job.json" ] || { echo "licence-load: $out is not a packaged output (run scripts/main-job.sh)" >&2; exit 1; }
bash scripts/setup.sh wrk redis-server >&2
cargo build --release --locked -q -p abmark-cli
abmark=target/release/abmark
work=target/eval-work/licence-load
rm -rf "$work" && mkdir -p "$work"
"$abmark" keygen -o "$work/wm.key" >/dev/null
"$abmark" keygen -o "$work/master.key" >/dev/null
kid=$(python3 -c '
import base64, json, sys
kid = bytes(json.load(open(sys.argv[1]))["protection"]["video"]["default_kid"])
print(base64.urlsafe_b64encode(kid).decode().rstrip("="))' "$out/job.json")

source eval/scripts/lib/edge-options.sh
lua=$work/licence.lua
{
  echo "$lua_origin"
  echo "tokens = {"
  for s in $(seq 1 1000); do
    printf '"%s",\n' "$("$abmark" token --licence --key "$work/wm.key" --session "$s" --subject "viewer-$s" --content demo --ttl 7200)"
  done
  echo "}"
  cat <<LUA
body = '{"kids":["$kid"],"type":"temporary"}'
math.randomseed(42)
request = function()
  -- One player per token, as a real player sends its id with every licence request.
  local i = math.random(#tokens)
  local headers = {["Authorization"] = "Bearer " .. tokens[i], ["Content-Type"] = "application/json",
                   ["Abmark-Player"] = "player-" .. i}
  if origin then headers["Origin"] = origin end
  return wrk.format("POST", "/license", headers, body)
end
LUA
} > "$lua"

state_args=(--state "$work/state.db")
if [ "$store" = redis ]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no > /dev/null &
  redis_pid=$!
  state_args=(--redis "redis://127.0.0.1:$port/0")
  sleep 0.5
fi
"$abmark" serve "$out" --key "$work/wm.key" --listen 127.0.0.1:0 --content demo \
  --session-log "$work/sessions.jsonl" --master-key "$work/master.key" --keys "$cpix" \
  "${state_args[@]}" --max-streams 2 --licence-log "$work/licences.jsonl" "${edge_args[@]}" > "$work/serve.out" 2> "$work/serve.err" &
pid=$!
trap 'kill $pid ${redis_pid:-} 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q listening "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
base=$(sed -n 's/^listening on //p' "$work/serve.out")
echo "licence-load: $out, store $store, $(nproc) cores"
wrk -t2 -c64 -d30s --latency -s "$lua" "$base" | grep -E "Requests/sec|Latency|50%|90%|99%|Non-2xx|Socket errors"
sleep 1
python3 -c '
import collections, json, sys
c = collections.Counter((r["decision"], r["reason"]) for r in map(json.loads, open(sys.argv[1])))
print("licence log:", dict(c))' "$work/licences.jsonl"
