// Decode attention on tensor cores (mma.sync m16n8k16), for GQA groups and multi-token queries:
// the 16 query rows of a CTA (group heads x query tokens, zero-padded) form one m16 tile, so a
// key costs two MMA k-steps instead of 2 * 16 * head_dim scalar FMAs plus shuffle reductions —
// the scalar kernel (decode/sm80.cuh) is instruction-bound at 8 rows, this one stays
// memory-bound. Same split-KV decomposition, masking, paging and combine as the scalar kernel
// (grid = (num_splits * row_chunks, heads_kv, batch); finish_cta merges and combines).
//
// Inside a CTA each warp streams its own blocks of kBlockN keys (blocks blk_begin + warp,
// + warp + W, ...) through a private kStages-deep cp.async ring, with its own online softmax:
// no CTA barrier until the end. Per block: S = Q K^T (ldmatrix of K rows is the B operand),
// scale, mask, exp2 online softmax on the accumulator fragments, P rounded to the element type
// (as FlashAttention-2 does) and O += P V (ldmatrix.trans of V). K/V rows are XOR-swizzled
// (16-byte chunk ^ key % 8) so ldmatrix's 8 rows per phase hit distinct banks.
//
// Numerics match the scalar kernel: fp32 accumulation, log2-domain softmax, O = 0 and LSE = -inf
// for a row without visible keys; keys past the split's end are zero-filled, so a masked key
// never multiplies stale shared memory.
#pragma once

#include "decode/sm80.cuh"
#ifndef ATTNJIT_DECODE_EMULATED_PTX
#include "common/sm80_mma.cuh"  // ldmatrix / mma.sync (the emulator supplies its own)
#endif

namespace attnjit {
namespace decode {

// Two fp8 codes of kind K (low byte first) -> the kernel's packed 16-bit pair (low element in
// the low half), exactly (every e4m3 / e5m2 value is an f16 and a bf16 value). sm_89 and newer
// convert in hardware (cvt.rn.f16x2.e4m3x2 / .e5m2x2); sm_80 / sm_86 have no fp8 instruction
// and take fp8::to_float's integer operations.
template <class T, int K>
__device__ __forceinline__ unsigned fp8x2_to_elem2(unsigned u) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890 && !defined(ATTNJIT_DECODE_EMULATED_PTX)
  unsigned h;
  const unsigned short in = static_cast<unsigned short>(u);
  if constexpr (K == fp8::kE4M3) asm("cvt.rn.f16x2.e4m3x2 %0, %1;\n" : "=r"(h) : "h"(in));
  else asm("cvt.rn.f16x2.e5m2x2 %0, %1;\n" : "=r"(h) : "h"(in));
  if constexpr (!T::kIsBf16) return h;
  float lo, hi;
  unpack2<F16>(h, lo, hi);
  return pack2<T>(lo, hi);
#else
  return pack2<T>(fp8::to_float<K>(u & 0xffu), fp8::to_float<K>((u >> 8) & 0xffu));
#endif
}

// 16 fp8 codes (a 16-byte chunk of a K/V row) -> 16 elements in two 16-byte chunks.
template <class T, int K>
__device__ __forceinline__ void fp8x16_to_elem(const uint4& raw, uint4& lo, uint4& hi) {
  lo.x = fp8x2_to_elem2<T, K>(raw.x & 0xffffu);
  lo.y = fp8x2_to_elem2<T, K>(raw.x >> 16);
  lo.z = fp8x2_to_elem2<T, K>(raw.y & 0xffffu);
  lo.w = fp8x2_to_elem2<T, K>(raw.y >> 16);
  hi.x = fp8x2_to_elem2<T, K>(raw.z & 0xffffu);
  hi.y = fp8x2_to_elem2<T, K>(raw.z >> 16);
  hi.z = fp8x2_to_elem2<T, K>(raw.w & 0xffffu);
  hi.w = fp8x2_to_elem2<T, K>(raw.w >> 16);
}

// Config: as decode_kernel's, with kRowsPerCta == 16 and kBlockN = keys per warp per stage
// (16, 32 or 64); head dims 64, 128, 256; optionally kKvFp8 (fp8::Kind): K and V are fp8
// codes (half the bytes of the ring), dequantised per block into 16-bit tiles, with
// DecodeParams::k_scale / v_scale applied to the scores and the output; optionally kSoftcap,
// kAlibi, kSink, `using UserMods` (decode/variants.h).
template <class C>
__global__ void __launch_bounds__(C::kWarps * 32) decode_mma_kernel(const DecodeParams p) {
#include "decode/mma_sm80_cta.cuh"
}
// Kernels built with ALiBi or sinks take their tensors after DecodeParams (decode/variants.h).
template <class C>
__global__ void __launch_bounds__(C::kWarps * 32) decode_mma_variant_kernel(const DecodeVariantParams p) {
#include "decode/mma_sm80_cta.cuh"
}
// Kernels built with a user score_mod / mask_mod (decode/variants.h: DecodeModParams).
template <class C>
__global__ void __launch_bounds__(C::kWarps * 32) decode_mma_mods_kernel(const decode_variants::DecodeModParams p) {
#include "decode/mma_sm80_cta.cuh"
}

}  // namespace decode
}  // namespace attnjit
