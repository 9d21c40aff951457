#!/usr/bin/env bash
# The main job end to end: install what is missing, build, and run the
# registry on a PostgreSQL of its own (a cluster in .local/ of this
# checkout, started here) unless DATABASE_URL names one.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
ms() { echo "\$ modelstore $*" >&2; "$root/build/cli/modelstore" "$@"; }

state=""
if [ -z "${DATABASE_URL:-}" ]; then
  data="$root/.local/pg"
  # as root the server runs as `postgres`, which must reach the directory
  if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$root"; then
    data=/var/tmp/modelstore-demo-pg
  fi
  mkdir -p "$root/.local"
  state="$root/.local/pg.state"
  MS_PG_EXTRA_CONF="fsync = on" tests/pg_harness.sh start "$state" "$data"
  # shellcheck disable=SC1090
  . "$state"
  export DATABASE_URL
  trap 'tests/pg_harness.sh halt "$state" >/dev/null 2>&1 || true; echo "(demo database stopped; data kept in $data)" >&2' EXIT
fi

work=$(mktemp -d /tmp/modelstore-demo.XXXXXX)
head -c $((8 << 20)) /dev/urandom >"$work/model_v1.bin"
head -c $((3 << 20)) /dev/urandom >"$work/model_v2.bin"
head -c 4096 /dev/urandom >"$work/scaler.bin"

ms migrate
v1=$(ms push --type RandomForest --accuracy 0.85 --rmse 3500.25 --r2 0.92 \
      --metric f1=0.81 --param n_estimators=200 --run-id demo-run-1 \
      "$work/model_v1.bin" scaler="$work/scaler.bin")
echo "pushed $v1" >&2
v2=$(ms push --type RandomForest --accuracy 0.88 --rmse 3100 --r2 0.94 \
      --compress --production --reason "better r2" "$work/model_v2.bin")
echo "pushed and promoted $v2" >&2
ms list
ms promote "$v1" --reason "demo: back to v1"
ms rollback --reason "demo: undo"
ms show production
ms pull production -o "$work/pulled.bin" --force
cmp "$work/pulled.bin" "$work/model_v2.bin" && echo "pulled bytes identical to what was pushed" >&2
ms export --dir "$work/models"
ms --fallback-dir "$work/models" load
echo "# the same load with the database unreachable: served from the fallback copy" >&2
ms --db "postgresql://nobody@127.0.0.1:1/none" --fallback-dir "$work/models" load
ms verify
# predictions: NDJSON through the logger, an actual value later, the report
for i in $(seq 1 200); do
  printf '{"model_version":"%s","input_features":{"year":%d,"mileage":%d},"predicted_value":%d,"confidence_score":0.9}\n' \
    "$v2" $((2000 + i % 20)) $((i * 1000)) $((20000 + i * 10))
done | ms predictions import --spool-dir "$work/spool"
id=$(psql -XAtq "$DATABASE_URL" -c "SELECT prediction_id FROM model_predictions ORDER BY prediction_time LIMIT 1" 2>/dev/null || true)
[ -n "$id" ] && ms predictions actual "$id" 20500
ms report --html "$work/report.html"
ms report
ms --fallback-dir "$work/models" doctor
rm -rf "$work"
echo "demo finished" >&2
