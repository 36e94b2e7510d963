#!/usr/bin/env bash
# Times the CPU decode template alone (bench/decode_cpu_micro/harness.cpp), warm and streaming, for
# head dim 128, 32 query heads, one token, the default tiles of the CPU decode config
# (block_n 64, kHeadsPerItem by decode_cpu_heads_per_item's rule; 16 lanes and 16 accumulator
# registers on AVX-512 hosts, else 8 and 8; bf16 pair dot products where the host has AVX-512 BF16,
# AMX tiles (order 2) for 8 rows and more where it has AMX),
# compiled by clang with the JIT's options for this host. VEC, ACC and ORDER override the host's;
# SPLITS (default 1) splits the KV length; PHASES=1 also prints each phase's TSC cycles per key
# and KV head (the template's ATTNJIT_DECODE_CPU_MARK hook), which shows which phase pays for memory.
#   bench/decode_cpu_micro.sh [TEMPLATES_DIR] [f32|bf16] [GQA] [WARM_LEN] [STREAM_LEN]
# Defaults: this checkout's templates, f32, 8, 256 keys (L2/L3), 32768 keys. Pass another
# checkout's templates/ to A/B a template edit. Single-threaded; run it pinned and alone if you
# can (e.g. `chrt -f 50`), and compare the "best" columns.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tpl=${1:-$here/../templates}
dt=${2:-f32}
g=${3:-8}
warm=${4:-256}
stream=${5:-32768}
case $dt in
  f32) es=4 storage=kStoreF32 ;;
  bf16) es=2 storage=kStoreBF16 ;;
  *) echo "decode_cpu_micro.sh: dtype must be f32 or bf16, got '$dt'" >&2; exit 2 ;;
esac
case $g in 1|2|4|8|16) ;; *) echo "decode_cpu_micro.sh: GQA must be 1, 2, 4, 8 or 16, got '$g'" >&2; exit 2 ;; esac
cxx=${CXX_CLANG:-$(command -v clang++-14 || command -v clang++ || true)}
[ -n "$cxx" ] || { echo "decode_cpu_micro.sh: needs clang++ (the template uses clang vector extensions)" >&2; exit 2; }
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
if [[ " $flags " == *" avx512f "* ]]; then vec=${VEC:-16} acc=${ACC:-16}; else vec=${VEC:-8} acc=${ACC:-8}; fi
order=0; [[ $dt == bf16 && " $flags " == *" avx512_bf16 "* ]] && order=1
[[ $dt == bf16 && " $flags " == *" amx_bf16 "* && $g -ge 8 ]] && order=2  # AMX tiles, as codegen's default
order=${ORDER:-$order}
hkv=$((32 / g)); hpi=$((8192 / (g * 128))); [ $hpi -ge 1 ] || hpi=1
ahead=""  # codegen's long-row prefetch distance: 64 KiB except on AMD cores (LLVM's znver*)
grep -qm1 AuthenticAMD /proc/cpuinfo 2>/dev/null || ahead="static constexpr int kLongRowAhead = ${AHEAD:-65536};"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cat > "$work/kernel.cpp" <<EOC
#include "decode/cpu.h"
namespace {
struct Config {
  static constexpr int kHeadDim = 128, kGroup = $g, kQTokens = 1, kRowsPerItem = $g, kBlockN = 64, kVec = $vec;
  static constexpr int kAccRegs = $acc, kHeadsPerItem = $hpi, kOrder = $order, kStorage = attnjit::cpu::$storage;
  static constexpr int kPageSize = 0, kMask = attnjit::cpu::kDecodeMaskNone;
  static constexpr long long kWindowLeft = 0, kWindowRight = 0;
  $ahead
};
}  // namespace
extern "C" void entry(const attnjit::DecodeParams* p, long long b, long long e) {
  attnjit::cpu::DecodeCpu<Config>::run(*p, b, e);
}
EOC
for cold in 0 1; do
  "$cxx" -O3 -std=c++17 -ffp-contract=fast -march=native -I"$tpl" -DDECODE_MICRO_KERNEL="\"$work/kernel.cpp\"" \
    -DDECODE_MICRO_PHASES=${PHASES:-0} -DDECODE_MICRO_GROUP=$g -DDECODE_MICRO_HEADS_KV=$hkv -DDECODE_MICRO_ESIZE=$es -DDECODE_MICRO_COLD=$cold \
    -I"$here/.." "$here/decode_cpu_micro/harness.cpp" "$here/../runtime/host_pages.cpp" -o "$work/micro$cold"
done
echo "$dt (vec $vec, $acc accumulators, order $order):"
"$work/micro0" "$warm" 41 "${SPLITS:-1}"
"$work/micro1" "$stream" 11 "${SPLITS:-1}"
