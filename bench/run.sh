#!/usr/bin/env bash
# Run every benchmark on one PostgreSQL (its own cluster with default
# durability, fsync on, unless DATABASE_URL is set) and print each figure
# beside the plain-libpq ceiling measured in the same run.
#   bench/run.sh [build-dir]        MS_BENCH_BIG=1 adds the 2 GB runs
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
[ -x "$build/bench/bench_artifacts" ] || {
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j"$(nproc)" >/dev/null
}
if [ -z "${DATABASE_URL:-}" ]; then
  state=$(mktemp /tmp/ms-bench-state.XXXXXX)
  MS_PG_EXTRA_CONF="fsync = on" tests/pg_harness.sh start "$state"
  trap 'tests/pg_harness.sh stop "$state"' EXIT
  # shellcheck disable=SC1090
  . "$state"
  export DATABASE_URL
fi
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r); $(psql -XAtc 'select version()' "$DATABASE_URL" | cut -d' ' -f1-2)"
echo "openssl speed ceiling (SHA-256, 16 KiB blocks):"
openssl speed -seconds 1 -evp sha256 2>/dev/null | tail -n 1 || true
sizes=1,25,200
[ "${MS_BENCH_BIG:-0}" = 1 ] && sizes=1,25,200,2048
echo "== artifacts (push/pull)"
"$build/bench/bench_artifacts" --sizes "$sizes" --runs "${MS_BENCH_RUNS:-3}"
for b in "$build"/bench/bench_*; do
  case "$(basename "$b")" in bench_artifacts) continue ;; esac
  [ -x "$b" ] || continue
  echo "== $(basename "$b")"
  "$b"
done
if [ -f "$build/python/modelstore/__init__.py" ]; then
  echo "== bench_python (the Python package beside C and the CLI)"
  /usr/bin/python3 bench/bench_python.py --build "$build" --runs "${MS_BENCH_RUNS:-3}"
fi
if [ "${MS_BENCH_BIG:-0}" = 1 ]; then
  echo "== 2 GB push/pull through the CLI, peak resident memory"
  f=$(mktemp /tmp/ms-big.XXXXXX)
  head -c $((2048 << 20)) /dev/urandom >"$f"
  /usr/bin/time -f "push: %e s, max RSS %M KiB" "$build/cli/modelstore" --name big push -q --version big1 "$f"
  /usr/bin/time -f "pull: %e s, max RSS %M KiB" "$build/cli/modelstore" --name big pull -q big1 -o "$f.out"
  cmp "$f" "$f.out" && echo "2 GB round trip byte-exact"
  rm -f "$f" "$f.out"
fi
