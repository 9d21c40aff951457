#!/usr/bin/env bash
# Install the built tree into a temp prefix, then build a tiny consumer
# against it twice: with find_package(modelstore) and with pkg-config;
# then the CLI's sources (cli/*.c) against the installed library alone.
set -euo pipefail
src=$1 build=$2
tmp=$(mktemp -d /tmp/ms-consumer.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
mkdir -p "$tmp/app"
cat >"$tmp/app/main.c" <<'C'
#include <modelstore.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
	if (strcmp(ms_version(), MS_VERSION) != 0) return 1;
	printf("%s %s\n", ms_version(), ms_status_str(MS_ENOTFOUND));
	return ms_name_check("default") == MS_OK ? 0 : 1;
}
C
cat >"$tmp/app/CMakeLists.txt" <<'C'
cmake_minimum_required(VERSION 3.18)
project(consumer C)
find_package(modelstore 0.1 REQUIRED)
add_executable(consumer main.c)
target_link_libraries(consumer PRIVATE modelstore::modelstore)
C
cmake -S "$tmp/app" -B "$tmp/app/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/app/build" >/dev/null
LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/app/build/consumer"
libdir=$(ls -d "$tmp"/prefix/lib*/pkgconfig | head -n 1)
PKG_CONFIG_PATH="$libdir" cc -o "$tmp/app/pc" "$tmp/app/main.c" \
  $(PKG_CONFIG_PATH="$libdir" pkg-config --cflags --libs modelstore)
LD_LIBRARY_PATH="$(dirname "$libdir")" "$tmp/app/pc"
# the CLI needs nothing private: its sources build against the installed
# header and shared library alone (no lib/ include path; the library
# exports only the ms_ API, so any ms__ call would fail to link)
mkdir -p "$tmp/cli"
cc -std=c11 -Wall -Wextra -Wno-unused-parameter -Werror -o "$tmp/cli/modelstore" \
  "$src"/cli/*.c $(PKG_CONFIG_PATH="$libdir" pkg-config --cflags --libs modelstore jansson)
readelf -d "$tmp/cli/modelstore" | grep -q 'NEEDED.*libmodelstore\.so' ||
  { echo "the CLI did not link the installed shared library" >&2; exit 1; }
want="modelstore $(PKG_CONFIG_PATH="$libdir" pkg-config --modversion modelstore)"
got=$(LD_LIBRARY_PATH="$(dirname "$libdir")" "$tmp/cli/modelstore" --version)
[ "$got" = "$want" ] || { echo "installed-library CLI: got \"$got\", want \"$want\"" >&2; exit 1; }
LD_LIBRARY_PATH="$(dirname "$libdir")" "$tmp/cli/modelstore" report --help >/dev/null
# the shared library exports the public ms_ API and nothing else
lib=$(ls "$(dirname "$libdir")"/libmodelstore.so.* | head -n 1)
bad=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | grep -v '^ms_[a-z]' || true)
if [ -n "$bad" ]; then
  echo "symbols exported beyond the ms_ API:" >&2
  echo "$bad" >&2
  exit 1
fi
internal=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep '^ms__' || true)
[ -z "$internal" ] || { echo "internal ms__ symbols exported: $internal" >&2; exit 1; }
echo "consumer built both ways, CLI built against the installed library; $(nm -D --defined-only "$lib" | grep -c ' T ms_') ms_ functions exported, nothing else"
