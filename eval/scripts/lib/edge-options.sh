# Sourced by the edge load scripts: the optional settings they run the edge with.
#
#   ABMARK_LOAD_TLS=1              serve HTTPS (a fresh self-signed EC P-256 certificate for
#                                  127.0.0.1, made with openssl; wrk speaks TLS, one handshake
#                                  per connection, kept alive for the whole run)
#   ABMARK_LOAD_ORIGIN=https://x   serve with --allow-origin x, and every request carries
#                                  `Origin: x` (the check and the CORS answer on every request)
#   ABMARK_LOAD_ACCESS_LOG=1       serve with --access-log $work/access.jsonl (a line per
#                                  request; the file is emptied first, and its size and the
#                                  lines dropped are printed at the end)
#
# Sets: edge_args (extra `abmark serve` arguments) and lua_origin (a Lua statement that sets
# `origin`, nil when unset). Needs $work.
edge_args=()
lua_origin="origin = nil"
if [ "${ABMARK_LOAD_TLS:-0}" = 1 ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$work/tls.key" -out "$work/tls.pem" 2>/dev/null
  chmod 600 "$work/tls.key"
  edge_args+=(--tls-cert "$work/tls.pem" --tls-key "$work/tls.key")
fi
if [ -n "${ABMARK_LOAD_ORIGIN:-}" ]; then
  edge_args+=(--allow-origin "$ABMARK_LOAD_ORIGIN")
  lua_origin="origin = \"$ABMARK_LOAD_ORIGIN\""
fi
if [ "${ABMARK_LOAD_ACCESS_LOG:-0}" = 1 ]; then
  : > "$work/access.jsonl"
  edge_args+=(--access-log "$work/access.jsonl")
fi
