#!/usr/bin/env bash
# HTTP refresh rotations per second: `gatehouse serve` (release build) under wrk, each refresh
# token spent exactly once (see http-refresh.lua), rate limits raised for the run.
#
#   Benchmarks/http-refresh.sh                 # 32 connections, 2 wrk threads, 10 s
#   CONNECTIONS=64 DURATION=30s Benchmarks/http-refresh.sh
#
# Needs wrk (apt-get install wrk) and curl. For PostgreSQL and two nodes: Benchmarks/multi-node.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/lib/gatehouse-node.sh

CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
DURATION=${DURATION:-10s}
SESSIONS=${SESSIONS:-$((CONNECTIONS * 4))}

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is missing: apt-get install curl" >&2; exit 1; }

swift build -c release --product gatehouse >&2
NODE_WORK=$(mktemp -d)
trap 'stop_nodes; rm -rf "$NODE_WORK"' EXIT
start_node "$NODE_WORK/bench.sqlite"
# One session (one refresh family) per token; more tokens than connections in flight.
seed_tokens "$NODE_URL" "$SESSIONS" "$NODE_WORK/tokens.txt"

echo "gatehouse serve (release), $SESSIONS refresh families, wrk -t$THREADS -c$CONNECTIONS -d$DURATION on $(nproc) cores"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s Benchmarks/http-refresh.lua "$NODE_URL" -- "$NODE_WORK/tokens.txt" "$THREADS"
