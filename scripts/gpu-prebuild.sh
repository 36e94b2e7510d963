#!/usr/bin/env bash
# Builds the GPU-side binaries on the development machine and packs what a device call needs
# into build-slim/ (git-ignored, ~11 MB): the CLI, the test executables with CUDA tests, and
# ctest's files. Device time then goes to running, not compiling (16 cores there, but every
# start and minute counts). The binaries need only glibc, libstdc++ and libsqlite3 (carried in
# .carry/lib when the device lacks it); NVRTC and the driver are opened at run time.
# Paths inside ctest's files are absolute (/work/main/build-gpu/...): scripts/gpu-session.sh
# recreates them on the device.
#
#   scripts/gpu-prebuild.sh            # then: device run with carry [build-slim, .carry],
#                                      # command `bash scripts/gpu-session.sh`
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $PWD == /work/main ]] || echo "gpu-prebuild: note: ctest paths will point at $PWD (gpu-session.sh links /work/main only)" >&2
export CCACHE_BASEDIR=$PWD
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DATTNJIT_WITH_LLVM=OFF -DATTNJIT_WITH_SERVICE=OFF \
  -DATTNJIT_WITH_PYTHON=OFF -DCMAKE_CXX_COMPILER_LAUNCHER=ccache > /dev/null
cmake --build build-gpu -j "$(nproc)"
rm -rf build-slim
mkdir -p build-slim/bin build-slim/tests .carry/lib/x86_64-linux-gnu
(cd build-gpu && find . -path '*/CMakeFiles' -prune -o -name '*.cmake' -print0 | tar --null -cf - -T -) | tar -xf - -C build-slim
for f in bin/attnjit tests/test_gpu tests/test_decode tests/test_runtime tests/test_api; do
  strip -o "build-slim/$f" "build-gpu/$f"
done
find build-slim -name '*_tests.cmake' -exec touch {} +  # newer than the executables: no re-discovery
cp -L /usr/lib/x86_64-linux-gnu/libsqlite3.so.0 .carry/lib/x86_64-linux-gnu/
# The sm90 probes too (scripts/gpu-probes/run.sh uses them when newer than their sources).
LIBRARY_PATH=/usr/local/cuda/lib64/stubs scripts/gpu-probes/run.sh --build-only .carry/gpu-probes > /dev/null
du -sh build-slim .carry | sed 's/^/gpu-prebuild: /'
