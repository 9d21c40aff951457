#!/usr/bin/env bash
# Run every benchmark on one PostgreSQL (its own cluster with default
# durability, fsync on, unless DATABASE_URL is set), each beside its
# plain-libpq ceiling, interleaved, and print one table of ratios.
#   bench/run.sh [build-dir]
#   MS_BENCH_RUNS=N  rounds per figure (default 5)
#   MS_BENCH_BIG=1   adds the 2 GB artifact runs, the CLI round trip and
#                    bench_partition (10 million rows, about 15 minutes)
# A ratio above 1.0 means the ceiling must be re-checked before it is
# believed; the machine's load averages are printed before and after,
# since a shared machine moves every absolute figure.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
runs=${MS_BENCH_RUNS:-5}
[ -x "$build/bench/bench_artifacts" ] || {
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_BENCH=ON >/dev/null
  cmake --build "$build" -j2 >/dev/null
}
out=$(mktemp /tmp/ms-bench-out.XXXXXX)
if [ -z "${DATABASE_URL:-}" ]; then
  state=$(mktemp /tmp/ms-bench-state.XXXXXX)
  MS_PG_EXTRA_CONF="fsync = on" tests/pg_harness.sh start "$state"
  trap 'tests/pg_harness.sh stop "$state"; rm -f "$state" "$out"' EXIT
  # shellcheck disable=SC1090
  . "$state"
  export DATABASE_URL
else
  trap 'rm -f "$out"' EXIT
fi
{
  echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -r); $(psql -XAtc 'select version()' "$DATABASE_URL" | cut -d' ' -f1-2)"
  echo "load before: $(uptime | sed 's/.*load average/load average/')"
  # every figure moves with this: a 4 KiB page first touched costs about
  # 18 us on the benchmark VM, and a backend touches each shared buffer
  # (docs/operations.md, Huge pages)
  echo "huge pages (2 MiB): $(awk '/HugePages_Total/{t=$2} /HugePages_Free/{f=$2} /HugePages_Rsvd/{r=$2} END{printf "%d reserved by the kernel, %d in use or reserved by processes (PostgreSQL: huge_pages = %s)", t, t-f+r, "'"$(psql -XAtc 'show huge_pages' "$DATABASE_URL")"'"}' /proc/meminfo)"
  echo "openssl speed ceiling (SHA-256, 16 KiB blocks):"
  openssl speed -seconds 1 -evp sha256 2>/dev/null | tail -n 1 || true
  sizes=1,25,200
  [ "${MS_BENCH_BIG:-0}" = 1 ] && sizes=1,25,200,2048
  echo "== bench_artifacts --sizes $sizes --runs $runs"
  "$build/bench/bench_artifacts" --sizes "$sizes" --runs "$runs" --cli "$build/cli/modelstore"
  echo "== bench_predlog --rounds $runs"
  "$build/bench/bench_predlog" --rounds "$runs"
  # twice the rounds: a round is one 2-second process per method, and
  # their figures move by +-10% on this VM from one round to the next
  echo "== bench_import --rounds $((2 * runs)) (predictions import vs psql \\copy)"
  "$build/bench/bench_import" --rounds "$((2 * runs))"
  echo "== bench_loader"
  "$build/bench/bench_loader"
  echo "== bench_actuals --rows 200000 --runs $runs"
  "$build/bench/bench_actuals" --rows 200000 --runs "$runs"
  echo "== bench_fanout --loaders 20"
  "$build/bench/bench_fanout" --loaders 20
  if [ "${MS_BENCH_BIG:-0}" = 1 ]; then
    echo "== bench_partition (10 million rows)"
    "$build/bench/bench_partition"
  fi
  if [ -f "$build/python/modelstore/__init__.py" ]; then
    echo "== bench_python (the Python package beside C and the CLI)"
    /usr/bin/python3 bench/bench_python.py --build "$build" --runs "$runs"
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
  echo "load after: $(uptime | sed 's/.*load average/load average/')"
} 2>&1 | tee "$out" | grep -v '^RESULT|'
echo
echo "== summary (ratio: of the medians; spread: min-max of the per-round ratios)"
{
  echo "benchmark|ours|ceiling|ratio|spread|target|pass"
  echo "---|---|---|---|---|---|---"
  grep '^RESULT|' "$out" | cut -d'|' -f2-
} | column -t -s '|'
