#!/usr/bin/env bash
# tests/fuzz/run.sh SECONDS - build the libFuzzer harness in build-fuzz/
# (clang, -fsanitize=fuzzer,address,undefined) and fuzz the features
# scanner for SECONDS over the committed corpus (tests/corpus/features,
# read only; new inputs go to build-fuzz/corpus).  A crash or contract
# violation leaves its input in build-fuzz/crash-* and fails the script.
# Prints the number of executions.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:?usage: tests/fuzz/run.sh SECONDS}
command -v clang >/dev/null ||
  { echo "fuzz: clang missing (apt-get install -y clang libclang-rt-14-dev)" >&2; exit 1; }
out=build-fuzz
CC=clang cmake -S . -B "$out" -DMS_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug \
  -DBUILD_TESTING=OFF -DBUILD_CLI=OFF -DBUILD_BENCH=OFF -DBUILD_EXAMPLES=OFF \
  >/dev/null
cmake --build "$out" --target fuzz_json_check -j2 >/dev/null
mkdir -p "$out/corpus"
rm -f "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-*
log="$out/fuzz.log"
rc=0
"$out/tests/fuzz/fuzz_json_check" -max_total_time="$secs" -max_len=8192 \
  -timeout=10 -dict=tests/fuzz/json.dict -print_final_stats=1 \
  -artifact_prefix="$out/" "$out/corpus" tests/corpus/features \
  >"$log" 2>&1 || rc=$?
runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n 1)
crashes=$(ls "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-* 2>/dev/null || true)
if [ "$rc" != 0 ] || [ -n "$crashes" ]; then
  tail -n 40 "$log" >&2
  echo "fuzz: FAILED (exit $rc) after ${runs:-?} executions; input: ${crashes:-none written}" >&2
  exit 1
fi
echo "fuzz: ${runs} executions in ${secs} s, no failure (corpus $(ls "$out/corpus" | wc -l) new inputs)"
