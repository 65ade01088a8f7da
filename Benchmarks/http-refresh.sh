#!/usr/bin/env bash
# HTTP refresh rotations per second: `gatehouse serve` (release build) under wrk, each refresh
# token spent exactly once (see http-refresh.lua), rate limits raised for the run.
#
#   Benchmarks/http-refresh.sh                 # 32 connections, 2 wrk threads, 10 s
#   CONNECTIONS=64 DURATION=30s Benchmarks/http-refresh.sh
#
# Needs wrk (apt-get install wrk) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."

CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
DURATION=${DURATION:-10s}
SESSIONS=${SESSIONS:-$((CONNECTIONS * 4))}

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is missing: apt-get install curl" >&2; exit 1; }

swift build -c release --product gatehouse >&2
work=$(mktemp -d)
unlimited=1000000/second
.build/release/gatehouse serve --db "$work/bench.sqlite" --port 0 --dev \
    --rate-limit refresh=$unlimited --rate-limit refresh-ip=$unlimited --rate-limit verify=$unlimited \
    --rate-limit magic-link-ip=$unlimited --rate-limit magic-link-email=$unlimited \
    --log-level warning >"$work/serve.out" 2>"$work/serve.err" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT

for _ in $(seq 100); do
    grep -q 'http://' "$work/serve.out" 2>/dev/null && break
    sleep 0.1
done
base=$(grep -o 'http://[0-9.:]*' "$work/serve.out")

# One session (one refresh family) per token; more tokens than connections in flight.
for i in $(seq "$SESSIONS"); do
    link=$(curl -s -X POST "$base/api/v1/auth/magic-link" -H 'Content-Type: application/json' -d "{\"email\":\"bench$i@example.com\"}")
    token=$(echo "$link" | sed -E 's/.*"dev_token":"([^"]+)".*/\1/')
    curl -s -X POST "$base/api/v1/auth/verify" -H 'Content-Type: application/json' -d "{\"token\":\"$token\"}" \
        | sed -E 's/.*"refresh_token":"([^"]+)".*/\1/' >>"$work/tokens.txt"
    echo >>"$work/tokens.txt"
done

echo "gatehouse serve (release), $SESSIONS refresh families, wrk -t$THREADS -c$CONNECTIONS -d$DURATION on $(nproc) cores"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s Benchmarks/http-refresh.lua "$base" -- "$work/tokens.txt" "$THREADS"
