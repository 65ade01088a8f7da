#!/usr/bin/env bash
# HTTP refresh rotations: `gatehouse serve` against the seed system's stack (FastAPI + SQLAlchemy
# on SQLite, ../shared/baselines/fastapi-seed) in one run on this machine, both driven by the
# seed's own wrk script, one after the other. Prints both wrk reports and the ratio: absolute
# figures swing by 4x between machines, ratios measured side by side do not.
#
#   Benchmarks/http-versus-seed.sh                  # 32 connections, 10 s each
#   Benchmarks/http-versus-seed.sh 64 30s
#   GATEHOUSE=/tmp/gatehouse-old Benchmarks/http-versus-seed.sh   # another build, unbuilt
#
# Needs wrk, curl and python3 (the seed's run.sh makes its virtual environment on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/lib/gatehouse-node.sh

CONNECTIONS=${1:-32}
DURATION=${2:-10s}
SEED_STACK=${SEED_STACK:-$(pwd)/../shared/baselines/fastapi-seed}
[ -x "$SEED_STACK/run.sh" ] || { echo "the seed stack is not at $SEED_STACK (set SEED_STACK)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }

[ "$GATEHOUSE" = .build/release/gatehouse ] && swift build -c release --product gatehouse >&2
NODE_WORK=$(mktemp -d)
trap 'stop_nodes; rm -rf "$NODE_WORK"' EXIT
start_node "$NODE_WORK/bench.sqlite"
seed_tokens "$NODE_URL" 200 "$NODE_WORK/tokens.txt"
gatehouse_report=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$SEED_STACK/refresh.lua" "$NODE_URL" -- "$NODE_WORK/tokens.txt" 2)
stop_nodes
seed_report=$("$SEED_STACK/run.sh" "$CONNECTIONS" "$DURATION")

rate() { awk '/Requests\/sec/ {print $2}' <<<"$1"; }
p99() { awk '$1 == "99%" {print $2}' <<<"$1"; }
errors() { awk '/Non-2xx/ {print $NF}' <<<"$1"; }
echo "== gatehouse serve ($GATEHOUSE)"; echo "$gatehouse_report"
echo; echo "== the seed stack"; echo "$seed_report"
echo
printf 'rotations/s: gatehouse %s (p99 %s%s), seed stack %s (p99 %s): %.1fx on %s cores, %s connections\n' \
  "$(rate "$gatehouse_report")" "$(p99 "$gatehouse_report")" "$( [ -n "$(errors "$gatehouse_report")" ] && echo ", non-2xx $(errors "$gatehouse_report")")" \
  "$(rate "$seed_report")" "$(p99 "$seed_report")" \
  "$(python3 -c "print($(rate "$gatehouse_report") / $(rate "$seed_report"))")" "$(nproc)" "$CONNECTIONS"
