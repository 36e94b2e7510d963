#!/usr/bin/env bash
# sm_90 device checks that need no attnjit build (called by scripts/gpu-check.sh sm90):
#   1. the layout probes (sm90_probes.cuh) -> golden files in OUTDIR/golden, diffed with
#      tests/emu/golden (comment lines ignored);
#   2. the FA3-shaped test kernel of tests/emu on the GPU against a float64 reference;
#   3. compute-sanitizer (memcheck, synccheck) on two small shapes of that kernel.
# Everything is built with mbarrier waits bounded (ATTNJIT_MBAR_WAIT_BOUND): a lost arrive traps
# with a message in seconds instead of hanging the GPU.
#
#   scripts/gpu-probes/run.sh OUTDIR            # on the GPU machine
#   scripts/gpu-probes/run.sh --build-only DIR  # here: prebuild the binaries into DIR (e.g.
#                                               # .carry/gpu-probes); run.sh uses them when newer
#                                               # than every source
# UPDATE_GOLDENS=1 copies the probes' output over tests/emu/golden (marked verified).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
NVCC=${NVCC:-/usr/local/cuda/bin/nvcc}
SAN=${COMPUTE_SANITIZER:-/usr/local/cuda/bin/compute-sanitizer}
srcs=(scripts/gpu-probes/*.cu scripts/gpu-probes/*.cuh scripts/gpu-probes/*.h tests/emu/sm90_fa3_kernel.cuh
      templates/common/sm90_primitives.cuh templates/common/sm90_wgmma_asm.cuh)

build() {  # build DIR
  local dir=$1 flags=(-std=c++17 -O2 -gencode arch=compute_90a,code=sm_90a -DATTNJIT_MBAR_WAIT_BOUND=200000000
                      -I templates -I templates/common -I tests/emu -I scripts/gpu-probes)
  mkdir -p "$dir"
  "$NVCC" "${flags[@]}" scripts/gpu-probes/probe_main.cu -o "$dir/probes" -lcuda &
  local p1=$!
  "$NVCC" "${flags[@]}" -lineinfo scripts/gpu-probes/fa3_check.cu -o "$dir/fa3_check" -lcuda
  local rc=$?
  wait $p1 || rc=1
  return $rc
}

fresh() {  # fresh DIR: both binaries exist and are newer than every source
  local dir=$1 f
  [[ -x $dir/probes && -x $dir/fa3_check ]] || return 1
  for f in "${srcs[@]}"; do [[ $f -nt $dir/probes || $f -nt $dir/fa3_check ]] && return 1; done
  return 0
}

if [[ ${1:-} == --build-only ]]; then
  build "${2:?usage: run.sh --build-only DIR}"
  exit $?
fi
OUTDIR=${1:?usage: run.sh OUTDIR}
mkdir -p "$OUTDIR/golden"
bin=$OUTDIR/bin
if fresh "$ROOT/.carry/gpu-probes"; then
  bin=$ROOT/.carry/gpu-probes
  echo "sm90: using the prebuilt binaries in $bin"
else
  echo "sm90: building the probes with $NVCC"
  build "$bin" || { echo "sm90: FAIL: nvcc build"; exit 1; }
fi
rc=0

echo "--- layout probes vs tests/emu/golden"
if "$bin/probes" "$OUTDIR/golden"; then
  for f in "$OUTDIR"/golden/*.txt; do
    name=$(basename "$f")
    if diff <(grep -v '^#' "tests/emu/golden/$name") <(grep -v '^#' "$f") > "$OUTDIR/golden/$name.diff"; then
      echo "golden $name: matches ($(head -1 "tests/emu/golden/$name" | cut -c3-12))"
      rm -f "$OUTDIR/golden/$name.diff"
    else
      echo "golden $name: DIFFERS from the emulator's golden (see $OUTDIR/golden/$name.diff)"; rc=1
    fi
    [[ ${UPDATE_GOLDENS:-0} == 1 ]] && cp "$f" "tests/emu/golden/$name"
  done
else
  echo "sm90: FAIL: probes"; rc=1
fi

echo "--- FA3-shaped test kernel vs float64 reference"
for shape in "200 160 2" "128 320 1" "1000 1000 4" "2048 2048 2"; do  # float64 reference on the CPU: keep it small
  "$bin/fa3_check" $shape || rc=1
done

echo "--- compute-sanitizer"
if [[ -x $SAN ]]; then
  for shape in "200 160 1" "128 64 2"; do
    for tool in memcheck synccheck; do
      if "$SAN" --tool "$tool" --error-exitcode 3 "$bin/fa3_check" $shape > "$OUTDIR/sanitizer-$tool-${shape// /x}.log" 2>&1; then
        echo "compute-sanitizer $tool ($shape): clean"
      else
        echo "compute-sanitizer $tool ($shape): ERRORS"; tail -20 "$OUTDIR/sanitizer-$tool-${shape// /x}.log"; rc=1
      fi
    done
  done
else
  echo "compute-sanitizer: not found at $SAN"; rc=1
fi
exit $rc
