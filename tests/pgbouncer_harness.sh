#!/usr/bin/env bash
# PgBouncer in front of a test cluster (tests/pg_harness.sh), for tests
# and benchmarks.
#
#   pgbouncer_harness.sh start PG_STATE MODE STATE   MODE: session|transaction
#   pgbouncer_harness.sh stop STATE                  stop it, delete its dir
#   pgbouncer_harness.sh halt STATE                  stop it, keep its config
#   pgbouncer_harness.sh restart STATE               start it again (same port)
#
# STATE is a shell-sourceable file: BOUNCER_PORT BOUNCER_DIR BOUNCER_MODE
# BOUNCER_URL (postgresql://postgres@127.0.0.1:PORT/postgres; use another
# database name freely: every name maps to the cluster's database of that
# name).
#
# The pool is deliberately hostile to session state: two server
# connections per database and user, kept open (min_pool_size) and handed
# out first-in first-out (server_round_robin), so in transaction mode two
# consecutive transactions of one client land on different server
# connections.  Anything that assumes a prepared statement, a temporary
# table or a SET outlives its transaction fails at once, not by luck.
#
# As root, pgbouncer runs as `postgres` (it refuses to run as root).
# pg_harness.sh stop PG_STATE also stops poolers started against it.
# Authentication: trust, with a generated userlist (pgbouncer still wants
# the user listed).
set -euo pipefail

cmd=${1:?usage: pgbouncer_harness.sh start|stop|halt|restart ...}
bin=${MS_PGBOUNCER:-/usr/sbin/pgbouncer}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# owns_listener PID PORT: PID holds a TCP socket in LISTEN state on PORT
# (IPv4 or IPv6), read from /proc alone (no ss/netstat needed).
owns_listener() {
  local pid=$1 hex inodes ino
  hex=$(printf '%04X' "$2")
  inodes=$(awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { print $10 }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null)
  [ -n "$inodes" ] || return 1
  for ino in $inodes; do
    find "/proc/$pid/fd" -lname "socket:\[$ino\]" 2>/dev/null | grep -q . && return 0
  done
  return 1
}

run_bouncer() {
  # daemonized: it must not keep the caller's pipes open (any inherited
  # descriptor, not only 0-2: a test runner waits for their EOF)
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] && eval "exec $fd>&-"
    done
    as_owner "$bin" -d -q "$BOUNCER_DIR/pgbouncer.ini" </dev/null >/dev/null 2>&1
  )
  # ready when the pid in pgbouncer.pid owns a socket listening on the
  # port: an open port alone may belong to someone else (a pgbouncer that
  # could not bind exits), and a pid alone may not have bound yet
  local pid
  for _ in $(seq 1 100); do
    pid=$(cat "$BOUNCER_DIR/pgbouncer.pid" 2>/dev/null) || pid=
    if [ -n "$pid" ]; then
      owns_listener "$pid" "$BOUNCER_PORT" && return 0
      kill -0 "$pid" 2>/dev/null || return 1
    fi
    sleep 0.1
  done
  return 1
}

write_ini() {
  local mode=$1 PGPORT=$2
  as_owner tee "$BOUNCER_DIR/pgbouncer.ini" >/dev/null <<INI
[databases]
* = host=127.0.0.1 port=$PGPORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir =
auth_type = trust
auth_file = $BOUNCER_DIR/userlist.txt
pool_mode = $mode
default_pool_size = 2
min_pool_size = 2
server_round_robin = 1
max_client_conn = ${MS_BOUNCER_MAX_CLIENTS:-1000}
ignore_startup_parameters = extra_float_digits
logfile = $BOUNCER_DIR/pgbouncer.log
pidfile = $BOUNCER_DIR/pgbouncer.pid
admin_users = postgres
INI
}

stop_bouncer() {
  local pid
  pid=$(cat "$BOUNCER_DIR/pgbouncer.pid" 2>/dev/null) || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}

case "$cmd" in
start)
  pg_state=${2:?PG_STATE required}
  mode=${3:?MODE required}
  state=${4:?STATE required}
  case "$mode" in session|transaction) ;; *)
    echo "pgbouncer_harness: MODE must be session or transaction" >&2; exit 2 ;;
  esac
  [ -x "$bin" ] || { echo "pgbouncer_harness: no $bin (apt-get install pgbouncer)" >&2; exit 1; }
  # shellcheck disable=SC1090
  . "$pg_state"
  BOUNCER_DIR=$(mktemp -d /tmp/ms-bouncer.XXXXXX)
  if [ "$(id -u)" = 0 ]; then chown postgres: "$BOUNCER_DIR"; fi
  as_owner tee "$BOUNCER_DIR/userlist.txt" >/dev/null <<'U'
"postgres" ""
"ms_pwuser" ""
U
  # the cluster's harness stops what is listed here with the cluster,
  # should a test die before stopping its pooler
  echo "$BOUNCER_DIR" >>"$pg_state.bouncers"
  ok=
  for _ in $(seq 1 10); do
    BOUNCER_PORT=$(( 20000 + RANDOM % 30000 ))
    port_free "$BOUNCER_PORT" || continue
    write_ini "$mode" "$PGPORT"
    if run_bouncer; then ok=1; break; fi
  done
  [ -n "$ok" ] || { cat "$BOUNCER_DIR/pgbouncer.log" >&2; exit 1; }
  cat >"$state" <<ST
BOUNCER_DIR=$BOUNCER_DIR
BOUNCER_PORT=$BOUNCER_PORT
BOUNCER_MODE=$mode
BOUNCER_URL=postgresql://postgres@127.0.0.1:$BOUNCER_PORT/postgres
ST
  echo "pgbouncer_harness: $mode pooling on 127.0.0.1:$BOUNCER_PORT -> $PGPORT" >&2
  ;;
stop|halt)
  state=${2:?STATE required}
  [ -f "$state" ] || exit 0
  # shellcheck disable=SC1090
  . "$state"
  stop_bouncer
  if [ "$cmd" = stop ]; then
    case "$BOUNCER_DIR" in /tmp/ms-bouncer.*) rm -rf "$BOUNCER_DIR" ;; esac
    rm -f "$state"
  fi
  ;;
restart)
  state=${2:?STATE required}
  # shellcheck disable=SC1090
  . "$state"
  for _ in $(seq 1 5); do run_bouncer && exit 0; sleep 0.5; done
  cat "$BOUNCER_DIR/pgbouncer.log" >&2
  exit 1
  ;;
*) echo "pgbouncer_harness: unknown command $cmd" >&2; exit 2 ;;
esac
