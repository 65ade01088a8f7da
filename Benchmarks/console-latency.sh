#!/usr/bin/env bash
# How long an audit event committed by another process takes to reach the console's Audit pane:
# the real console in tmux, a CLI process commits `job.enqueued`, the clock starts when that
# process has exited (the row is committed) and stops when tmux's screen shows the row. The
# console checks PRAGMA data_version every --refresh seconds (0.25 by default), so the figure is
# that interval plus the read and the frame (on PostgreSQL the tick asks whether a NOTIFY
# came). A figure, not a test: the tests only wait for the row.
#
#   Benchmarks/console-latency.sh [SAMPLES]      # default 20; release build
#   GATEHOUSE=.build/debug/gatehouse Benchmarks/console-latency.sh 10
#   ENGINE=postgres Benchmarks/console-latency.sh # on a throwaway PostgreSQL
#
# Needs tmux (and for ENGINE=postgres, Debian's PostgreSQL server binaries).
set -euo pipefail
cd "$(dirname "$0")/.."
samples=${1:-20}
command -v tmux >/dev/null || { echo "tmux is missing: apt-get install tmux" >&2; exit 1; }
if [ -z "${GATEHOUSE:-}" ]; then
  swift build -c release --product gatehouse >&2
  GATEHOUSE=.build/release/gatehouse
fi
bin=$(realpath "$GATEHOUSE")
work=$(mktemp -d)
db=$work/latency.sqlite
sock=$work/tmux.sock
cleanup() { tmux -S "$sock" kill-server 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
if [ "${ENGINE:-sqlite}" = postgres ]; then
  source Benchmarks/lib/throwaway-postgres.sh
  start_throwaway_postgres
  db=$PGURL
  trap 'cleanup; stop_throwaway_postgres' EXIT
fi

"$bin" init --db "$db" >/dev/null
"$bin" debug login-churn --db "$db" --count 1 --email latency@example.com >/dev/null
tmux -S "$sock" new-session -d -x 160 -y 50 "env LANG=C.UTF-8 TERM=xterm-256color '$bin' console --db '$db'"
screen() { tmux -S "$sock" capture-pane -p; }
until screen | grep -q HANDLE; do sleep 0.05; done
tmux -S "$sock" send-keys 5
until screen | grep -q "chain ✓"; do sleep 0.05; done

times=()
for _ in $(seq "$samples"); do
  id=$("$bin" jobs start user-export --user latency@example.com --db "$db")
  started=$(date +%s%N)
  until screen | grep -Eq "job:${id}( |$)"; do sleep 0.005; done
  times+=($(( ($(date +%s%N) - started) / 1000000 )))
  sleep 0.3  # let the next sample start anywhere in the refresh interval
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
n=${#sorted[@]}
echo "audit event on the Audit pane, $n samples (ms): min ${sorted[0]}, median ${sorted[$((n / 2))]}, p90 ${sorted[$((n * 9 / 10))]}, max ${sorted[$((n - 1))]}"
