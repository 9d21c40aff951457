#!/usr/bin/env bash
# cli_docs_drift.sh CLI SOURCE_DIR - the man page and the bash completion
# cannot drift from the CLI: every command of the command table (as
# `modelstore --help` prints it) and every option each command's --help
# names must be in both, and neither may name a command the table lacks.
set -euo pipefail
cli=${1:?modelstore binary}
src=${2:?source directory}
man="$src/doc/modelstore.1"
comp="$src/completion/modelstore.bash"
fail=0
no() { echo "FAIL $*" >&2; fail=1; }
cmds=$("$cli" --help | awk '/^Commands:/{f=1;next} f&&/^  [a-z]/{print $1} f&&/^$/{f=0}')
[ -n "$cmds" ] || { echo "FAIL no commands in --help" >&2; exit 1; }
listed=$(sed -n 's/^_modelstore_commands="\(.*\)"/\1/p' "$comp")
for c in $cmds; do
  grep -qx "\.B $c" "$man" || no "man page lacks command $c"
  [[ " $listed " == *" $c "* ]] || no "completion lacks command $c"
  [[ "$(sed -n "s/^ *$c) *echo \"\(.*\)\" ;;/\1/p" "$comp")" ]] || no "completion has no options for $c"
  for o in $("$cli" "$c" --help 2>&1 | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
    case $o in --db|--json|--name|--fallback-dir|--help) continue ;; esac
    opts=$(sed -n "s/^ *$c) *echo \"\(.*\)\" ;;/\1/p" "$comp")
    [[ " $opts " == *" $o "* ]] || no "completion lacks $c $o"
    grep -q -- "$(echo "$o" | sed 's/-/\\\\-/g')" "$man" || no "man page lacks $c $o"
  done
done
for c in $listed; do
  echo "$cmds" | grep -qx "$c" || no "completion names $c, which is no command"
done
# the page is valid roff
if command -v groff >/dev/null; then
  groff -man -Tutf8 -ww -z "$man" 2>&1 | grep . && no "groff warns about the man page"
fi
bash -n "$comp" || no "completion is not valid bash"
[ $fail = 0 ] && echo "man page and completion match the command table"
exit $fail
