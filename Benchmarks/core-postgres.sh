#!/usr/bin/env bash
# gatehouse-bench's core section on SQLite and on PostgreSQL side by side, in one run: a
# throwaway PostgreSQL server (Benchmarks/lib/throwaway-postgres.sh: a Unix socket, the
# server's default durability), then `gatehouse-bench run --skip-console --postgres URL`.
# A figure, not a test.
#
#   Benchmarks/core-postgres.sh [SECONDS]                       # default 3; release build
#   EXTRA="-c synchronous_commit=off" Benchmarks/core-postgres.sh
#   BENCH=/elsewhere/gatehouse-bench Benchmarks/core-postgres.sh
#
# Needs Debian's PostgreSQL server binaries (apt-get install postgresql).
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/lib/throwaway-postgres.sh
seconds=${1:-3}
if [ -z "${BENCH:-}" ]; then
  swift build -c release --product gatehouse-bench >&2
  BENCH=.build/release/gatehouse-bench
fi
start_throwaway_postgres
"$BENCH" run --seconds "$seconds" --skip-console --postgres "$PGURL"
