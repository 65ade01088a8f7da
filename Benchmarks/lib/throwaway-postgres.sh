# Sourced by the benchmark scripts: starts a throwaway PostgreSQL server (initdb into a
# temporary folder, a Unix socket only, the server's default durability: fsync and
# synchronous_commit on; $EXTRA adds `-c name=value` settings), creates the database `bench`,
# and sets PGURL to it. The server is stopped and its folder removed when the script exits
# (this replaces the script's EXIT trap: call it before setting another, or chain them).
# As root the server runs as the postgres user. Needs Debian's server binaries.
start_throwaway_postgres() {
  local bindir
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    echo "PostgreSQL server binaries are missing: apt-get install postgresql" >&2
    exit 1
  fi
  PG_WORK=$(mktemp -d)
  PG_AS=()
  if [ "$(id -u)" = 0 ]; then PG_AS=(runuser -u postgres --); chown postgres "$PG_WORK"; fi
  PG_BIN=$bindir
  local port=$((20000 + RANDOM % 40000))
  "${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_WORK/data" -U postgres --auth=trust -E UTF8 >/dev/null
  trap 'stop_throwaway_postgres' EXIT
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_WORK/data" -l "$PG_WORK/server.log" -w start \
    -o "-k $PG_WORK -p $port -c listen_addresses='' ${EXTRA:-}" >/dev/null
  "${PG_AS[@]}" "$PG_BIN/createdb" -h "$PG_WORK" -p "$port" -U postgres bench
  PGURL="postgresql://postgres@/bench?host=$PG_WORK&port=$port"
}

stop_throwaway_postgres() {
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_WORK/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_WORK"
}
