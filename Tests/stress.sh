#!/usr/bin/env bash
# Runs the whole test suite N times while another process keeps every core busy, and prints the
# failures per test. A test that fails here fails on a loaded CI machine: fix it, never retry it.
#
#   Tests/stress.sh [RUNS]        (default 5; builds once, then `swift test --skip-build` each run)
#
# Exit status: 0 when every run passed, 1 otherwise. Logs stay in $STRESS_LOGS (default: a temp dir).
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
logs=${STRESS_LOGS:-$(mktemp -d -t gatehouse-stress-XXXX)}
cores=$(nproc)

swift build --build-tests >"$logs/build.log" 2>&1 || { echo "build failed: $logs/build.log"; exit 1; }

# The load: one busy loop per core, at normal priority, for the whole run.
load=()
for _ in $(seq "$cores"); do
  ( while :; do :; done ) &
  load+=($!)
done
trap 'kill "${load[@]}" 2>/dev/null' EXIT

echo "stress: $runs runs of the suite with $cores busy loops beside it; logs in $logs"
failed_runs=0
for run in $(seq "$runs"); do
  started=$(date +%s)
  swift test --skip-build >"$logs/run-$run.log" 2>&1
  status=$?
  seconds=$(( $(date +%s) - started ))
  summary=$(grep -E '^(✔|✘) Test run with' "$logs/run-$run.log" | tail -1)
  leftover=$(pgrep -fc '\.build/.*/debug/gatehouse ' || true)
  echo "run $run: exit $status in ${seconds}s; ${summary:-no summary line}; gatehouse processes left: $leftover"
  if [ "$status" -ne 0 ]; then failed_runs=$((failed_runs + 1)); fi
done

echo
echo "failures per test over $runs runs:"
grep -h -E '^✘ Test ".*" failed' "$logs"/run-*.log | sed -E 's/^✘ Test "(.*)" failed.*/\1/' | sort | uniq -c | sort -rn || true
grep -h -E "error: .*XCTAssert|Test Case .* failed" "$logs"/run-*.log | sort | uniq -c || true
[ "$failed_runs" -eq 0 ] && echo "none: $runs of $runs runs passed" && exit 0
echo "$failed_runs of $runs runs failed"
exit 1
