#!/usr/bin/env bash
# `cmake --install` of the already-built tree into a temporary prefix, then, with nothing but that
# prefix: every public header compiles alone (so none includes an internal one), and a consumer
# project (tests/install/consumer) finds the package, links attnjit::attnjit and runs a CPU prefill
# against its own reference.
# Usage: install_test.sh BUILD_DIR CXX_COMPILER [GENERATOR]
set -euo pipefail
build=$1 cxx=$2 generator=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/attnjit-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; exit 1; }
for f in bin/attnjit include/attnjit/attnjit.h lib/cmake/attnjit/attnjitConfig.cmake \
         lib/cmake/attnjit/attnjitConfigVersion.cmake lib/cmake/attnjit/attnjitTargets.cmake; do
  [ -e "$prefix/$f" ] || { echo "install: $f missing under the prefix"; exit 1; }
done
"$prefix/bin/attnjit" --version >/dev/null

# Each header alone, with only the prefix on the include path (the compiler's own paths aside).
# In parallel with configuring the consumer below: both only read the prefix.
check_headers() {
  local n=0 pids=() names=() h
  for h in "$prefix"/include/attnjit/*.h; do
    names+=("attnjit/$(basename "$h")")
    printf '#include <%s>\n' "${names[-1]}" | "$cxx" -std=c++20 -fsyntax-only -I "$prefix/include" -x c++ - &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || { echo "install: ${names[$i]} does not compile alone against the installed headers"; return 1; }
    n=$((n + 1))
  done
  echo "install: $n public headers compile alone"
}
check_headers &
headers_pid=$!

gen=(); [ -n "$generator" ] && gen=(-G "$generator")
cmake -S "$here/consumer" -B "$tmp/consumer" "${gen[@]}" -DCMAKE_CXX_COMPILER="$cxx" \
      -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >"$tmp/configure.log" \
  || { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/consumer" >"$tmp/build.log" || { cat "$tmp/build.log"; exit 1; }
wait "$headers_pid"
ATTNJIT_CACHE_DIR=$tmp/cache "$tmp/consumer/consumer"
