#!/usr/bin/env bash
# Run the Python tests (unittest) or the example (example) against the
# cluster of a pg_harness.sh fixture, as CTest does:
#   MS_TEST_STATE=... MS_PYTHONPATH=build/python MS_CLI=build/cli/modelstore \
#     python/tests/run.sh unittest|example
# The state file gives DATABASE_URL (and PGHOST/PGPORT/...).
set -euo pipefail
what=${1:?usage: run.sh unittest|example}
src=$(cd "$(dirname "$0")/../.." && pwd)
: "${MS_TEST_STATE:?MS_TEST_STATE must name a pg_harness.sh state file}"
set -a
# shellcheck disable=SC1090
. "$MS_TEST_STATE"
set +a
export PYTHONPATH=${MS_PYTHONPATH:?}${PYTHONPATH:+:$PYTHONPATH}
export PYTHONDONTWRITEBYTECODE=1
py=${MS_PYTHON:-/usr/bin/python3}
if [ -n "${MS_PY_PRELOAD:-}" ]; then
  # A sanitizer build: the runtimes go into python3 (not instrumented
  # itself).  No leak report: CPython keeps interpreter-lifetime
  # allocations at exit; ASan still stops on any memory error.
  export LD_PRELOAD=$MS_PY_PRELOAD
  export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
fi
work=$(mktemp -d /tmp/ms-py.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
case "$what" in
unittest) "$py" -X faulthandler -m unittest discover -s "$src/python/tests" -v ;;
example)  "$py" "$src/examples/python/train_and_serve.py" --workdir "$work" ;;
*) echo "run.sh: unknown mode $what" >&2; exit 2 ;;
esac
