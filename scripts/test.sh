#!/usr/bin/env bash
# The whole test suite: dependencies, a -Werror build, every Check suite
# against a throwaway PostgreSQL cluster (started and removed by CTest),
# then the suites again under AddressSanitizer + UndefinedBehaviorSanitizer
# and the threaded suites under ThreadSanitizer, then 20 s of libFuzzer on
# each parser (tests/fuzz/run.sh; counted as one run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
jobs=$(nproc)

run_suite() { # build-dir cmake-args... -- ctest-args...
  local dir=$1; shift
  local cargs=() targs=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do cargs+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  targs=("$@")
  cmake -S . -B "$dir" -DENABLE_WERROR=ON -DBUILD_BENCH=ON "${cargs[@]}" >/dev/null
  cmake --build "$dir" -j"$jobs" >/dev/null
  local log="$dir/ctest-summary.log"
  (cd "$dir" && ctest --output-on-failure -j2 "${targs[@]}") | tee "$log"
  # "NN% tests passed, F tests failed out of T"
  local line f t
  line=$(grep -E 'tests failed out of [0-9]+' "$log" | tail -n 1)
  f=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
  t=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$line")
  total_failed=$((total_failed + f))
  total_run=$((total_run + t))
}
total_failed=0
total_run=0

echo "== build and test (RelWithDebInfo)"
run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "${MS_SKIP_SANITIZERS:-0}" != 1 ]; then
  echo "== AddressSanitizer + UndefinedBehaviorSanitizer"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DMS_SANITIZE=address,undefined -- -E install_consumer
  echo "== ThreadSanitizer (threaded suites)"
  TSAN_OPTIONS=halt_on_error=1 MS_TEST_KILL_ROWS=100000 \
    run_suite build-tsan -DCMAKE_BUILD_TYPE=Debug -DMS_SANITIZE=thread -- -L thread
  echo "== libFuzzer: every parser, 18 s each (tests/fuzz/run.sh)"
  total_run=$((total_run + 1))
  tests/fuzz/run.sh 18 || total_failed=$((total_failed + 1))
fi
echo "test runs: plain$([ "${MS_SKIP_SANITIZERS:-0}" = 1 ] || echo ", ASan+UBSan, TSan, fuzz")"
echo "$((total_run - total_failed)) passed, $total_failed failed"
