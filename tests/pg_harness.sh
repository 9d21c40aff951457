#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for tests, benchmarks and the demo.
#
#   pg_harness.sh start STATE [DATADIR]  initdb + start; writes STATE (env file)
#   pg_harness.sh start-tls STATE [DATADIR]  the same with TLS only: a CA
#                                        and a server certificate for
#                                        localhost and 127.0.0.1 made at
#                                        start (never stored anywhere
#                                        else), ssl = on, and TCP logins
#                                        only over TLS (hostssl).  STATE
#                                        adds MS_PG_TLS_CA (the CA's
#                                        certificate) and
#                                        MS_PG_TLS_OTHER_CA (an unrelated
#                                        CA, for refusals)
#   pg_harness.sh stop STATE             stop the server and delete the cluster
#   pg_harness.sh kill STATE             pg_ctl stop -m immediate (keep data)
#   pg_harness.sh halt STATE             pg_ctl stop -m fast (keep data)
#   pg_harness.sh restart STATE          start a stopped server again
#
# STATE is a shell-sourceable file: PGHOST PGPORT PGUSER DATABASE_URL
# MS_PG_DIR MS_PG_BIN ...  As root the server runs as the unprivileged
# `postgres` account (PostgreSQL refuses to run as root).
set -euo pipefail

cmd=${1:?usage: pg_harness.sh start|start-tls|stop|kill|halt|restart STATE [DATADIR]}
state=${2:?state file required}

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bindir/pg_ctl" ] || { echo "pg_harness: no PostgreSQL server binaries (apt-get install postgresql)" >&2; exit 1; }

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_server() {
  as_owner "$bindir/pg_ctl" -D "$MS_PG_DIR/data" -l "$MS_PG_DIR/server.log" \
    -o "-p $PGPORT" -w -t 60 start >/dev/null
}

# make_tls DIR: a throwaway CA, a server certificate signed by it for
# CN/SAN localhost and IP 127.0.0.1, and a second, unrelated CA.  Keys stay
# in DIR (the cluster's directory, removed by stop).
make_tls() {
  local d=$1
  mkdir -p "$d"
  (
    cd "$d"
    umask 077
    openssl req -x509 -new -newkey rsa:2048 -nodes -days 2 \
      -subj "/CN=modelstore test CA" -keyout ca.key -out ca.crt
    openssl req -x509 -new -newkey rsa:2048 -nodes -days 2 \
      -subj "/CN=unrelated test CA" -keyout other-ca.key -out other-ca.crt
    openssl req -new -newkey rsa:2048 -nodes -subj "/CN=localhost" \
      -keyout server.key -out server.csr
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >san.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key \
      -CAcreateserial -days 2 -extfile san.ext -out server.crt
    chmod 644 ca.crt other-ca.crt server.crt
  ) >"$d/openssl.log" 2>&1 || { cat "$d/openssl.log" >&2; exit 1; }
  if [ "$(id -u)" = 0 ]; then chown -R postgres: "$d"; fi
}

tls=0
if [ "$cmd" = start-tls ]; then tls=1; cmd=start; fi

case "$cmd" in
start)
  dir=${3:-}
  if [ -z "$dir" ]; then
    dir=$(mktemp -d /tmp/ms-pg.XXXXXX)
  fi
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; chmod 755 "$dir"; fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    [ "$tls" = 1 ] && make_tls "$dir/tls"
    as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust \
      -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
    as_owner mkdir -p "$dir/sock"
    as_owner tee -a "$dir/data/postgresql.conf" >/dev/null <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir/sock'
max_connections = 200
shared_buffers = 256MB
${MS_PG_EXTRA_CONF:-fsync = off}
log_min_messages = warning
CONF
    if [ "$tls" = 1 ]; then
      as_owner tee -a "$dir/data/postgresql.conf" >/dev/null <<CONF
ssl = on
ssl_cert_file = '$dir/tls/server.crt'
ssl_key_file = '$dir/tls/server.key'
CONF
      as_owner tee "$dir/data/pg_hba.conf" >/dev/null <<'HBA'
local all all trust
hostssl all ms_pwuser 127.0.0.1/32 scram-sha-256
hostssl all all 127.0.0.1/32 trust
hostssl all all ::1/128 trust
HBA
    else
      as_owner tee "$dir/data/pg_hba.conf" >/dev/null <<'HBA'
local all all trust
host all ms_pwuser 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 trust
host all all ::1/128 trust
HBA
    fi
  fi
  MS_PG_DIR=$dir
  for _ in $(seq 1 20); do
    PGPORT=$(( 20000 + RANDOM % 30000 ))
    port_free "$PGPORT" || continue
    if start_server; then ok=1; break; fi
  done
  [ "${ok:-}" = 1 ] || { cat "$dir/server.log" >&2; exit 1; }
  cat >"$state" <<ST
MS_PG_DIR=$dir
MS_PG_BIN=$bindir
PGHOST=127.0.0.1
PGPORT=$PGPORT
PGUSER=postgres
PGDATABASE=postgres
DATABASE_URL=postgresql://postgres@127.0.0.1:$PGPORT/postgres
MS_PG_SOCKET=$dir/sock
ST
  if [ -f "$dir/tls/ca.crt" ]; then
    printf 'MS_PG_TLS_CA=%s\nMS_PG_TLS_OTHER_CA=%s\n' "$dir/tls/ca.crt" \
      "$dir/tls/other-ca.crt" >>"$state"
  fi
  "$bindir/psql" -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres \
    -c "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ms_pwuser') THEN CREATE ROLE ms_pwuser LOGIN SUPERUSER PASSWORD 'ms-secret-pw'; END IF; END\$\$" >/dev/null
  echo "pg_harness: PostgreSQL on 127.0.0.1:$PGPORT, data in $dir" >&2
  ;;
stop)
  [ -f "$state" ] || exit 0
  # shellcheck disable=SC1090
  . "$state"
  # a standby (tests/standby_harness.sh) a failed test left running
  if [ -f "$state.standby" ]; then "$0" stop "$state.standby" || true; fi
  # poolers (tests/pgbouncer_harness.sh) a test left running
  if [ -f "$state.bouncers" ]; then
    while read -r bdir; do
      pid=$(cat "$bdir/pgbouncer.pid" 2>/dev/null) && kill "$pid" 2>/dev/null || true
      case "$bdir" in /tmp/ms-bouncer.*) rm -rf "$bdir" ;; esac
    done <"$state.bouncers"
    rm -f "$state.bouncers"
  fi
  as_owner "$MS_PG_BIN/pg_ctl" -D "$MS_PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  case "$MS_PG_DIR" in /tmp/ms-pg.*) rm -rf "$MS_PG_DIR" ;; esac
  rm -f "$state"
  ;;
kill|halt)
  . "$state"
  mode=immediate; [ "$cmd" = halt ] && mode=fast
  as_owner "$MS_PG_BIN/pg_ctl" -D "$MS_PG_DIR/data" -m "$mode" -w stop >/dev/null
  ;;
restart)
  . "$state"
  start_server
  ;;
*) echo "pg_harness: unknown command $cmd" >&2; exit 2 ;;
esac
