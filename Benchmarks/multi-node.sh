#!/usr/bin/env bash
# HTTP refresh rotations per second on both engines and on one and two `serve` nodes, in one
# run on one machine, beside PostgreSQL's own limit on the same server: pgbench's simple-update
# transaction (-N) at the same client count. Every request is a real rotation (http-refresh.lua:
# each token spent once). With two nodes, one wrk per node, half the connections each, summed.
# A throwaway PostgreSQL server (Benchmarks/lib/throwaway-postgres.sh: a Unix socket, fsync and
# synchronous_commit on). Everything shares the machine's cores: compare rows, not machines.
#
#   Benchmarks/multi-node.sh                       # 32 connections, 10 s a row
#   CONNECTIONS=64 DURATION=20 Benchmarks/multi-node.sh
#
# Needs wrk, curl and Debian's PostgreSQL server binaries (pgbench among them).
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/lib/throwaway-postgres.sh
source Benchmarks/lib/gatehouse-node.sh

CONNECTIONS=${CONNECTIONS:-32}
DURATION=${DURATION:-10}
SESSIONS=${SESSIONS:-$((CONNECTIONS * 4))}
for tool in wrk curl; do command -v $tool >/dev/null || { echo "$tool is missing: apt-get install $tool" >&2; exit 1; }; done

[ -n "${SKIP_BUILD:-}" ] || swift build -c release --product gatehouse >&2
start_throwaway_postgres
NODE_WORK=$(mktemp -d)
trap 'stop_nodes; rm -rf "$NODE_WORK"; stop_throwaway_postgres' EXIT
"$GATEHOUSE" init --db "$PGURL" >/dev/null

# wrk against each of the running nodes at once (CONNECTIONS split evenly); prints
# "rotations/s p50 p99 errors" (latency the worst node's; errors: non-2xx answers and socket errors).
measure() {
  local nodes=("$@") count=${#@} index=0 out
  local per=$((CONNECTIONS / count)) pids=()
  for base in "${nodes[@]}"; do
    seed_tokens "$base" $((SESSIONS / count)) "$NODE_WORK/tokens-$index.txt"
    index=$((index + 1))
  done
  index=0
  for base in "${nodes[@]}"; do
    wrk -t1 -c"$per" -d"${DURATION}s" --latency -s Benchmarks/http-refresh.lua "$base" -- "$NODE_WORK/tokens-$index.txt" 1 \
      >"$NODE_WORK/wrk-$index.txt" 2>&1 &
    pids+=($!)
    index=$((index + 1))
  done
  wait "${pids[@]}"
  awk '/Requests\/sec/ { rate += $2 }
       /^ +50%/ { p50 = ($2 > p50 ? $2 : p50) } /^ +99%/ { p99 = ($2 > p99 ? $2 : p99) }
       /Non-2xx/ { errors += $NF } /Socket errors/ { gsub(",", ""); errors += $4 + $6 + $8 + $10 }
       END { printf "%.0f %s %s %d\n", rate, p50, p99, errors }' "$NODE_WORK"/wrk-*.txt
  rm -f "$NODE_WORK"/wrk-*.txt
}

# Latencies come as "1.23ms" or "1.02s": both in ms.
ms() { awk -v v="$1" 'BEGIN { if (v ~ /ms$/) { sub("ms", "", v); print v } else if (v ~ /us$/) { sub("us", "", v); print v / 1000 } else { sub("s", "", v); print v * 1000 } }'; }

"${PG_AS[@]}" "$PG_BIN/createdb" -h "$PG_WORK" -p "${PGURL##*port=}" -U postgres pgbench_limit
"${PG_AS[@]}" "$PG_BIN/pgbench" -h "$PG_WORK" -p "${PGURL##*port=}" -U postgres -i -s 10 -q pgbench_limit >/dev/null 2>&1
pgbench_tps=$("${PG_AS[@]}" "$PG_BIN/pgbench" -h "$PG_WORK" -p "${PGURL##*port=}" -U postgres -n -N -c "$CONNECTIONS" -j 2 \
  -T "$DURATION" pgbench_limit 2>/dev/null | awk '/^tps/ { printf "%.0f", $3 }')

echo "refresh rotations over HTTP, release build, wrk with $CONNECTIONS connections for ${DURATION} s a row, $(nproc) cores shared by all"
printf "%-34s %12s %9s %9s %7s %16s\n" "configuration" "rotations/s" "p50 ms" "p99 ms" "errors" "of pgbench -N"
row() {
  local label=$1; shift
  read -r rate p50 p99 errors <<<"$(measure "$@")"
  printf "%-34s %12s %9s %9s %7s %15s%%\n" "$label" "$rate" "$(ms "$p50")" "$(ms "$p99")" "$errors" \
    "$(awk -v r="$rate" -v t="$pgbench_tps" 'BEGIN { printf "%.0f", 100 * r / t }')"
}

start_node "$NODE_WORK/bench.sqlite"; sqlite_a=$NODE_URL
row "SQLite, 1 node" "$sqlite_a"
start_node "$NODE_WORK/bench.sqlite"
row "SQLite, 2 nodes (one file)" "$sqlite_a" "$NODE_URL"
stop_nodes

start_node "$PGURL"; pg_a=$NODE_URL
row "PostgreSQL, 1 node" "$pg_a"
start_node "$PGURL"
row "PostgreSQL, 2 nodes" "$pg_a" "$NODE_URL"
stop_nodes
printf "%-34s %12s\n" "pgbench -N ($CONNECTIONS clients)" "$pgbench_tps tps"
