# Sourced by the HTTP benchmark scripts: start `gatehouse serve` nodes and make refresh tokens.
#
#   start_node DB [extra serve options…]   starts a release node on a free port (rate limits
#                                          raised, no job slots), sets NODE_URL, appends its
#                                          pid to NODE_PIDS; stop_nodes stops them all.
#   seed_tokens BASE COUNT FILE            COUNT dev-mode logins through BASE, one refresh
#                                          token (one refresh family) a line into FILE.
# Needs curl; GATEHOUSE (default .build/release/gatehouse) and NODE_WORK (a folder for logs).
NODE_PIDS=()
GATEHOUSE=${GATEHOUSE:-.build/release/gatehouse}

start_node() {
  local db=$1; shift
  local unlimited=1000000/second log
  log="$NODE_WORK/serve-${#NODE_PIDS[@]}"
  "$GATEHOUSE" serve --db "$db" --port 0 --dev --workers 0 --log-level warning \
    --rate-limit refresh=$unlimited --rate-limit refresh-ip=$unlimited --rate-limit verify=$unlimited \
    --rate-limit magic-link-ip=$unlimited --rate-limit magic-link-email=$unlimited "$@" \
    >"$log.out" 2>"$log.err" &
  NODE_PIDS+=($!)
  for _ in $(seq 300); do
    grep -q 'http://' "$log.out" 2>/dev/null && break
    sleep 0.1
  done
  NODE_URL=$(grep -o 'http://[0-9.:]*' "$log.out") || { cat "$log.err" >&2; return 1; }
}

stop_nodes() {
  [ ${#NODE_PIDS[@]} -gt 0 ] || return 0
  kill "${NODE_PIDS[@]}" 2>/dev/null || true
  wait "${NODE_PIDS[@]}" 2>/dev/null || true
  NODE_PIDS=()
}

seed_tokens() {
  local base=$1 count=$2 file=$3 i link token
  : >"$file"
  for i in $(seq "$count"); do
    link=$(curl -s -X POST "$base/api/v1/auth/magic-link" -H 'Content-Type: application/json' -d "{\"email\":\"bench$RANDOM$i@example.com\"}")
    token=$(echo "$link" | sed -E 's/.*"dev_token":"([^"]+)".*/\1/')
    curl -s -X POST "$base/api/v1/auth/verify" -H 'Content-Type: application/json' -d "{\"token\":\"$token\"}" \
      | sed -E 's/.*"refresh_token":"([^"]+)".*/\1/' >>"$file"
    echo >>"$file"
  done
}
