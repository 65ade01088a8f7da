#!/usr/bin/env bash
# What N slow clients cost `gatehouse serve`, and that the body timeout gives it all back:
# each client sends a request head with Content-Length: 1000 and one body byte, then nothing
# (field report II.1). Prints the server's RSS and open descriptors before, while the clients
# hang on, and after the timeout has passed.
#
# Usage: Benchmarks/slow-clients.sh [GATEHOUSE_BIN] [CLIENTS] [BODY_TIMEOUT_SECONDS]
set -euo pipefail
bin=${1:-.build/release/gatehouse}
clients=${2:-2000}
body_timeout=${3:-30}
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
ulimit -n 8192
"$bin" init --db "$work/db.sqlite" >/dev/null
"$bin" serve --db "$work/db.sqlite" --port 0 --body-timeout "$body_timeout" --log-level warning >"$work/serve.log" 2>&1 &
server=$!
until grep -q 'http://' "$work/serve.log"; do sleep 0.1; done
port=$(grep -Eo 'http://127\.0\.0\.1:[0-9]+' "$work/serve.log" | cut -d: -f3)
usage() { echo "$1: RSS $(awk '/VmRSS/ {print $2, $3}' /proc/$server/status), descriptors $(ls /proc/$server/fd | wc -l)"; }
usage "idle server"
python3 - "$port" "$clients" "$body_timeout" "$server" <<'PY'
import socket, subprocess, sys, time
port, count, timeout, pid = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
def usage(label):
    rss = [l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS")][0]
    fds = len(__import__("os").listdir(f"/proc/{pid}/fd"))
    print(f"{label}: RSS {rss} kB, descriptors {fds}", flush=True)
head = b"POST /api/v1/auth/refresh HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
sockets, refused = [], 0
for _ in range(count):
    s = socket.socket(); s.setblocking(False)
    try:
        s.connect_ex(("127.0.0.1", port)); sockets.append(s)
    except OSError:
        refused += 1
time.sleep(1)
for s in sockets:
    try: s.send(head)
    except OSError: pass
time.sleep(3)
usage(f"{len(sockets)} slow clients connected ({refused} refused at connect)")
# Past the cap (1024) the rest wait in the backlog and get their own timeout once accepted.
start = time.time()
while time.time() - start < 4 * timeout + 30:
    time.sleep(1)
    if len(__import__("os").listdir(f"/proc/{pid}/fd")) <= 40: break
usage(f"{time.time() - start:.0f} s later (body timeout {timeout:.0f} s)")
answered = 0
for s in sockets:
    try:
        s.setblocking(True); s.settimeout(1)
        if s.recv(1 << 16).startswith(b"HTTP/1.1 408"): answered += 1
    except OSError: pass
print(f"clients answered 408: {answered}/{len(sockets)}")
PY
usage "after the clients' sockets closed"
