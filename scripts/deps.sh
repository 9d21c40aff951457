#!/usr/bin/env bash
# Install what building, testing and the demo need, from Debian's packages,
# only when something is missing.  Needs root (or sudo) when it installs.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libpq-dev libssl-dev zlib1g-dev
      libjansson-dev check libsubunit-dev postgresql postgresql-contrib
      clang libclang-rt-14-dev openssl pgbouncer chromium
      python3-dev python3-sklearn)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
