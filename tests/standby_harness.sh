#!/usr/bin/env bash
# A streaming standby of a test cluster (tests/pg_harness.sh), on this
# machine, for tests and benchmarks.
#
#   standby_harness.sh start PG_STATE STATE   pg_basebackup -R, start, wait
#                                             until it streams
#   standby_harness.sh promote STATE          pg_ctl promote, wait until
#                                             it accepts writes
#   standby_harness.sh stop STATE             stop it, delete its data
#
# STATE has the keys of pg_harness.sh (PGPORT, MS_PG_DIR, ...), so
# `pg_harness.sh kill|halt|restart|stop STATE` work on the standby too.
# As root everything runs as `postgres`.
set -euo pipefail

cmd=${1:?usage: standby_harness.sh start|promote|stop ...}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

case "$cmd" in
start)
  pg_state=${2:?PG_STATE required}
  state=${3:?STATE required}
  # shellcheck disable=SC1090
  . "$pg_state"
  primary_port=$PGPORT
  primary_dir=$MS_PG_DIR
  # the primary lets replication connections in (pg_harness's "all"
  # does not cover them)
  if ! grep -q '^host replication' "$primary_dir/data/pg_hba.conf"; then
    echo "host replication all 127.0.0.1/32 trust" |
      as_owner tee -a "$primary_dir/data/pg_hba.conf" >/dev/null
    as_owner "$MS_PG_BIN/pg_ctl" -D "$primary_dir/data" reload >/dev/null
  fi
  dir=$(mktemp -d /tmp/ms-pg.XXXXXX)
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; chmod 755 "$dir"; fi
  as_owner mkdir -p "$dir/sock"
  as_owner "$MS_PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$primary_port" \
    -U postgres -D "$dir/data" -R -X stream -c fast >"$dir/basebackup.log" 2>&1 ||
    { cat "$dir/basebackup.log" >&2; exit 1; }
  echo "unix_socket_directories = '$dir/sock'" |
    as_owner tee -a "$dir/data/postgresql.conf" >/dev/null
  ok=
  for _ in $(seq 1 20); do
    port=$(( 20000 + RANDOM % 30000 ))
    port_free "$port" || continue
    # the server must not keep the caller's pipes open (a test runner
    # waits for their EOF): close every inherited descriptor past 2
    if (
      for fd in /proc/$BASHPID/fd/*; do
        fd=${fd##*/}
        [ "$fd" -gt 2 ] && eval "exec $fd>&-"
      done
      as_owner "$MS_PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" \
        -o "-p $port" -w -t 60 start </dev/null >/dev/null 2>&1
    ); then ok=1; break; fi
  done
  [ -n "$ok" ] || { cat "$dir/server.log" >&2; exit 1; }
  # streaming: the primary sees its WAL receiver
  for _ in $(seq 1 300); do
    n=$("$MS_PG_BIN/psql" -X -At -h 127.0.0.1 -p "$primary_port" -U postgres \
          -d postgres -c "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
    [ "$n" -ge 1 ] && break
    sleep 0.1
  done
  [ "$n" -ge 1 ] || { echo "standby_harness: the standby does not stream" >&2; exit 1; }
  cat >"$state" <<ST
MS_PG_DIR=$dir
MS_PG_BIN=$MS_PG_BIN
PGHOST=127.0.0.1
PGPORT=$port
PGUSER=postgres
PGDATABASE=postgres
DATABASE_URL=postgresql://postgres@127.0.0.1:$port/postgres
MS_PG_SOCKET=$dir/sock
ST
  echo "standby_harness: standby of $primary_port on 127.0.0.1:$port" >&2
  ;;
promote)
  state=${2:?STATE required}
  # shellcheck disable=SC1090
  . "$state"
  as_owner "$MS_PG_BIN/pg_ctl" -D "$MS_PG_DIR/data" -w -t 60 promote >/dev/null
  ;;
stop)
  state=${2:?STATE required}
  exec "$(dirname "$0")/pg_harness.sh" stop "$state"
  ;;
*) echo "standby_harness: unknown command $cmd" >&2; exit 2 ;;
esac
