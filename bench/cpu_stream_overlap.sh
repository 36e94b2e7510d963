#!/usr/bin/env bash
# How one core overlaps arithmetic with a memory stream, by row order (bench/decode_cpu_micro/
# stream_overlap.cpp): the context for the CPU decode kernel's 1-thread fraction of the read
# bandwidth (see bench/RESULTS.md, round 11).
#   bench/cpu_stream_overlap.sh [MIB]   (default 256; run it pinned and alone, e.g. chrt -f 50)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cxx=${CXX_CLANG:-$(command -v clang++-14 || command -v clang++ || command -v g++ || true)}
[ -n "$cxx" ] || { echo "cpu_stream_overlap.sh: needs a C++ compiler" >&2; exit 2; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
"$cxx" -O3 -std=c++17 -march=native "$here/decode_cpu_micro/stream_overlap.cpp" -o "$work/stream_overlap"
"$work/stream_overlap" "${1:-256}"
