#!/usr/bin/env bash
# Checks that GET /openapi.json tells the truth: starts `gatehouse serve` on a fresh database and
# runs schemathesis (PyPI) against the document it serves, with every check on (status codes,
# content types, headers, response schemas, auth enforcement, negative/positive data, ...).
#
# Usage: Tests/openapi-conformance.sh [GATEHOUSE_BIN] [SCHEMATHESIS]
#   GATEHOUSE_BIN  a built gatehouse binary (default: .build/debug/gatehouse)
#   SCHEMATHESIS   the `st` executable, or a venv directory holding bin/st
#                  (default: $ST_VENV/bin/st when ST_VENV is set, else `st` on PATH)
# Environment (all optional):
#   ST_MAX_EXAMPLES  test cases per operation and phase (default 50)
#   ST_SEED          hypothesis seed, for reproducible runs (default 1)
#   ST_WORKERS       concurrent schemathesis workers (default 2)
#   ST_REPORT_DIR    where to keep JUnit reports and the server log (default: dropped)
#
# Two passes against one server:
#   1. anonymous, every operation;
#   2. signed in (a bearer token and a session cookie, obtained through the --dev magic-link
#      flow and given to schemathesis per security scheme, so it can still strip them for its
#      auth checks), every operation but the two logouts, which would end those sessions.
# Exits non-zero when either pass reports a failure (or the server cannot be started).
set -euo pipefail

bin=${1:-.build/debug/gatehouse}
st=${2:-}
if [[ -z $st ]]; then
  if [[ -n ${ST_VENV:-} ]]; then st=$ST_VENV/bin/st; else st=$(command -v st || true); fi
fi
if [[ -d $st ]]; then st=$st/bin/st; fi
max_examples=${ST_MAX_EXAMPLES:-50}
seed=${ST_SEED:-1}
workers=${ST_WORKERS:-2}

[[ $bin == /* ]] || bin=$PWD/$bin
[[ -x $bin ]] || { echo "openapi-conformance: no gatehouse binary at $bin (build it, or pass its path)" >&2; exit 2; }
if [[ -z $st || ! -x $st ]]; then
  echo "openapi-conformance: no schemathesis 'st' (pass its path or a venv, set ST_VENV, or put st on PATH)" >&2
  exit 2
fi
[[ $st == /* ]] || st=$PWD/$st
command -v curl >/dev/null || { echo "openapi-conformance: curl is needed" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-openapi.XXXXXX")
server_pid=
st_pid=
tail_pid=
cleanup() {
  local status=$?
  local pid
  for pid in $st_pid $tail_pid; do kill -TERM "$pid" 2>/dev/null || true; done
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ -n ${ST_REPORT_DIR:-} ]]; then
    mkdir -p "$ST_REPORT_DIR"
    cp -f "$work"/serve.log "$ST_REPORT_DIR"/ 2>/dev/null || true
    cp -rf "$work"/reports/. "$ST_REPORT_DIR"/ 2>/dev/null || true
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

db=$work/db.sqlite
"$bin" init --db "$db" >/dev/null

# --dev: the magic-link answer carries the token, so this script can sign in without a mailbox.
# A webhook secret, so the webhook route is exercised past its 503 "not configured".
# Not `exec`, so that the trap above knows the pid of the server itself.
GATEHOUSE_WEBHOOK_SECRET=whsec_openapi_conformance \
  "$bin" serve --db "$db" --host 127.0.0.1 --port 0 --dev --workers 1 --log-level warning \
  >"$work/serve.log" 2>&1 &
server_pid=$!

# serve prints "gatehouse serving DB on http://127.0.0.1:PORT" once it listens.
base=
deadline=$((SECONDS + 120))
while [[ -z $base ]]; do
  base=$(grep -Eo 'on http://127\.0\.0\.1:[0-9]+' "$work/serve.log" | head -n1 | sed 's/^on //' || true)
  [[ -n $base ]] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "openapi-conformance: the server exited before listening:" >&2; cat "$work/serve.log" >&2; exit 1
  fi
  if ((SECONDS >= deadline)); then
    echo "openapi-conformance: the server did not listen within 120 s:" >&2; cat "$work/serve.log" >&2; exit 1
  fi
  sleep 0.2
done
echo "openapi-conformance: $bin serving on $base"

# Credentials for the signed-in pass, taken before fuzzing uses up the rate limits.
post_json() { curl -sS --fail-with-body --max-time 30 -X POST -H 'Content-Type: application/json' -d "$2" "${@:3}" "$base$1"; }
dev_token() {
  post_json /api/v1/auth/magic-link '{"email":"conformance@example.com"}' | grep -Eo '"dev_token":"[^"]+"' | cut -d'"' -f4
}
access_token=$(post_json /api/v1/auth/verify "{\"token\":\"$(dev_token || true)\"}" |
  grep -Eo '"access_token":"[^"]+"' | cut -d'"' -f4 || true)
session_cookie=$(post_json /session/login "{\"token\":\"$(dev_token || true)\"}" -o /dev/null -D - |
  tr -d '\r' | grep -i '^set-cookie: *gatehouse_session=' | sed -E 's/^[^=]*=([^;]*).*/\1/' || true)
if [[ -z $access_token || -z $session_cookie ]]; then
  echo "openapi-conformance: could not sign in through the --dev magic-link flow" >&2; exit 1
fi
# Shared by both passes. The webhook's signature is an HMAC over the body that no generator can
# forge, so every generated delivery is rightly refused with 400 invalid-signature: that one
# check cannot hold for that one route, and only it is relaxed (everything else still runs).
cat >"$work/common.toml" <<'EOF'
[[operations]]
include-operation-id = "paymentWebhook"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400"]
EOF
# The scheme names are the document's components.securitySchemes keys.
cat "$work/common.toml" >"$work/signed-in.toml"
cat >>"$work/signed-in.toml" <<'EOF'

[auth.openapi.bearer]
bearer = "${GATEHOUSE_ST_ACCESS_TOKEN}"

[auth.openapi.cookie]
api_key = "${GATEHOUSE_ST_SESSION_COOKIE}"
EOF
export GATEHOUSE_ST_ACCESS_TOKEN=$access_token GATEHOUSE_ST_SESSION_COOKIE=$session_cookie

# Run from the temp dir: schemathesis keeps .hypothesis/ and .schemathesis/ in its working directory.
cd "$work"
run_pass() { # NAME [st global options --] [st run options]
  local name=$1; shift
  local global=()
  if [[ ${1:-} == --config-file ]]; then global=("$1" "$2"); shift 2; fi
  echo
  echo "openapi-conformance: pass '$name'"
  local log=$work/st-$name.log status=0
  # In the background and waited for, so that a signal reaches the trap at once; tail shows
  # the output as it comes and stops when schemathesis has.
  : >"$log"
  timeout 600 "$st" "${global[@]}" run "$base/openapi.json" \
    --checks all --max-examples "$max_examples" --seed "$seed" --workers "$workers" \
    --generation-database none --request-timeout 10 --no-color \
    --report junit --report-junit-path "$work/reports/junit-$name.xml" \
    "$@" >"$log" 2>&1 &
  st_pid=$!
  tail -n +1 -f --pid="$st_pid" "$log" &
  tail_pid=$!
  wait "$st_pid" || status=$?
  st_pid=
  wait "$tail_pid" || true
  tail_pid=
  summaries+=("$name: $(grep -E '^=+ .* in [0-9.]+s =+$' "$log" | tail -n1 | tr -d '=' | xargs) (exit $status)")
  return "$status"
}
mkdir -p "$work/reports"
summaries=()
failed=0
run_pass anonymous --config-file "$work/common.toml" || failed=1
run_pass signed-in --config-file "$work/signed-in.toml" \
  --exclude-operation-id logout --exclude-operation-id browserLogout || failed=1

echo
echo "openapi-conformance summary (schemathesis $("$st" --version | awk '{print $NF}'), $max_examples examples/operation, seed $seed):"
printf '  %s\n' "${summaries[@]}"
if ((failed)); then
  echo "openapi-conformance: FAILED: the server does not do what /openapi.json says (details above)"
  exit 1
fi
echo "openapi-conformance: OK"
