#!/usr/bin/env bash
# Fills .carry/ (git-ignored) with the third-party headers the GPU machine lacks (it has no
# network): sqlite3.h, nlohmann/, CLI/, xxhash.h (+ xxh3.h), and — only with --gtest, for a
# machine without GoogleTest — gtest/gmock headers plus static libraries and their CMake package.
# Run on this (development) machine, then carry .carry/ to the GPU machine with the tree.
# For the Python module it also carries nanobind's sources (.carry/nanobind: python/CMakeLists.txt
# builds from them when the GPU machine's Python has no nanobind) and pytest with its pure-Python
# dependencies (.carry/python, on the tests' PYTHONPATH), both from the venv scripts/setup.sh makes.
set -euo pipefail
cd "$(dirname "$0")/.."
src=${CARRY_FROM:-/usr/include}
dst=.carry/include
with_gtest=0
[[ "${1:-}" == "--gtest" ]] && with_gtest=1

rm -rf .carry
mkdir -p "$dst"
copy() {  # copy <path under $src> (file or folder); missing ones are an error
  if [[ ! -e "$src/$1" ]]; then
    echo "gpu-carry: $src/$1 not found (install the Debian package: scripts/setup.sh)" >&2
    exit 1
  fi
  cp -r "$src/$1" "$dst/"
}
copy sqlite3.h
copy sqlite3ext.h
copy nlohmann
copy CLI
copy xxhash.h
[[ -e "$src/xxh3.h" ]] && copy xxh3.h
# SQLite's static library, for a machine that has neither the dev package nor libsqlite3.so.0.
lib=/usr/lib/x86_64-linux-gnu
mkdir -p .carry/lib/x86_64-linux-gnu
cp "$lib/libsqlite3.a" .carry/lib/x86_64-linux-gnu/
# ...and the shared one: the Python module (a shared object) cannot take the non-PIC static
# archive (scripts/gpu-python.sh links this one when the machine has no libsqlite3.so.0).
cp -L "$lib/libsqlite3.so.0" .carry/lib/x86_64-linux-gnu/

# Python: nanobind (CMake files, headers, sources, robin_map) and pytest, from the set-up venv.
pyenv=${ATTNJIT_PYENV:-$HOME/.cache/attnjit-pyenv}
site=$("$pyenv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' 2>/dev/null) || {
  echo "gpu-carry: no Python venv at $pyenv (run scripts/setup.sh)" >&2
  exit 1
}
for m in nanobind pytest _pytest pluggy iniconfig packaging pygments py.py; do
  if [[ ! -e "$site/$m" ]]; then
    echo "gpu-carry: $site/$m not found (run scripts/setup.sh)" >&2
    exit 1
  fi
done
cp -r "$site/nanobind" .carry/nanobind
mkdir -p .carry/python
for m in pytest _pytest pluggy iniconfig packaging pygments py.py; do cp -r "$site/$m" .carry/python/; done
find .carry/nanobind .carry/python -name __pycache__ -prune -exec rm -rf {} +

if ((with_gtest)); then
  copy gtest
  copy gmock
  # Same layout as /usr, so the package's relative _IMPORT_PREFIX resolves to .carry/.
  out=.carry/lib/x86_64-linux-gnu
  mkdir -p "$out/cmake"
  cp "$lib"/libgtest.a "$lib"/libgtest_main.a "$out/"
  [[ -e "$lib/libgmock.a" ]] && cp "$lib"/libgmock*.a "$out/"
  cp -r "$lib/cmake/GTest" "$out/cmake/"
fi
du -sh .carry | awk '{print "gpu-carry: .carry is " $1}'
find .carry -maxdepth 2 -mindepth 2 | sort | sed 's/^/  /'
