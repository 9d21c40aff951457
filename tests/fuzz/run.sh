#!/usr/bin/env bash
# tests/fuzz/run.sh SECONDS [TARGET...] - build the libFuzzer harnesses in
# build-fuzz/ (clang, -fsanitize=fuzzer,address,undefined) and fuzz each
# target for SECONDS over its committed corpus (tests/corpus/<dir>, read
# only; new inputs go to build-fuzz/corpus/<target>).  A crash, leak,
# timeout or contract violation leaves its input in
# build-fuzz/<target>-crash-* and fails the script.  Prints the
# executions of each target.  With TARGET names, only those run.
#
# tests/fuzz/run.sh --merge TARGET... - add to the committed corpus the
# inputs of build-fuzz/corpus/<target> that reach new coverage
# (libFuzzer -merge=1), for a long run's finds to be committed.
#
# The one list of targets: one line each, "name corpus-dir dict max-len"
# (dict "-" for none).  The harness is tests/fuzz/<name>.c.
targets=(
  "fuzz_json_check features json.dict 8192"
  "fuzz_spool spool spool.dict 4096"
  "fuzz_sidecar sidecar sidecar.dict 4096"
  "fuzz_conn_redact conn_redact conn.dict 512"
  "fuzz_import_line import_line json.dict 8192"
  "fuzz_args args - 4096"
)
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v clang >/dev/null ||
  { echo "fuzz: clang missing (apt-get install -y clang libclang-rt-14-dev)" >&2; exit 1; }
out=build-fuzz

merge=0
if [ "${1:-}" = --merge ]; then
  merge=1
  shift
  [ $# -gt 0 ] || { echo "usage: tests/fuzz/run.sh --merge TARGET..." >&2; exit 2; }
else
  secs=${1:?usage: tests/fuzz/run.sh SECONDS [TARGET...] | --merge TARGET...}
  shift
fi
want=("$@")

CC=clang cmake -S . -B "$out" -DMS_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug \
  -DBUILD_TESTING=OFF -DBUILD_CLI=OFF -DBUILD_BENCH=OFF -DBUILD_EXAMPLES=OFF \
  >/dev/null

failed=0
for t in "${targets[@]}"; do
  read -r name dir dict maxlen <<<"$t"
  if [ ${#want[@]} -gt 0 ] && ! printf '%s\n' "${want[@]}" | grep -qx "$name"; then
    continue
  fi
  cmake --build "$out" --target "$name" -j2 >/dev/null
  bin="$out/tests/fuzz/$name"
  corpus="$out/corpus/$name"
  mkdir -p "$corpus"
  if [ "$merge" = 1 ]; then
    before=$(ls "tests/corpus/$dir" | wc -l)
    "$bin" -merge=1 -max_len="$maxlen" "tests/corpus/$dir" "$corpus" \
      >"$out/$name-merge.log" 2>&1
    echo "fuzz: $name: tests/corpus/$dir $before -> $(ls "tests/corpus/$dir" | wc -l) inputs"
    continue
  fi
  dictopt=()
  [ "$dict" != - ] && dictopt=(-dict="tests/fuzz/$dict")
  rm -f "$out/$name"-crash-* "$out/$name"-leak-* "$out/$name"-timeout-* \
    "$out/$name"-oom-*
  log="$out/$name.log"
  rc=0
  "$bin" -max_total_time="$secs" -max_len="$maxlen" -timeout=10 \
    "${dictopt[@]}" -print_final_stats=1 -artifact_prefix="$out/$name-" \
    "$corpus" "tests/corpus/$dir" >"$log" 2>&1 || rc=$?
  runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n 1)
  crashes=$(ls "$out/$name"-crash-* "$out/$name"-leak-* "$out/$name"-timeout-* \
    "$out/$name"-oom-* 2>/dev/null || true)
  if [ "$rc" != 0 ] || [ -n "$crashes" ]; then
    tail -n 40 "$log" >&2
    echo "fuzz: $name: FAILED (exit $rc) after ${runs:-?} executions; input: ${crashes:-none written}" >&2
    failed=$((failed + 1))
    continue
  fi
  echo "fuzz: $name: ${runs} executions in ${secs} s, no failure (corpus tests/corpus/$dir $(ls "tests/corpus/$dir" | wc -l), $(ls "$corpus" | wc -l) new inputs)"
done
[ "$failed" = 0 ] || { echo "fuzz: $failed target(s) failed" >&2; exit 1; }
