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

// Four fp8 codes (low byte first) -> two packed 16-bit pairs. To f16 on sm_89+: the word's halves
// go to the two converts as they are (mov.b32 {l, h} is a register split, not an instruction), not
// through a 16-bit extraction per pair (which NVRTC emitted as a cvt.u16.u32 each: 64 of a bf16 /
// e4m3 warp step's instructions).
template <class T, int K>
__device__ __forceinline__ void fp8x4_to_elem4(unsigned u, unsigned& lo, unsigned& hi) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890 && !defined(ATTNJIT_DECODE_EMULATED_PTX)
  if constexpr (!T::kIsBf16) {
    if constexpr (K == fp8::kE4M3)
      asm("{ .reg .b16 l, h; mov.b32 {l, h}, %2; cvt.rn.f16x2.e4m3x2 %0, l; cvt.rn.f16x2.e4m3x2 %1, h; }\n"
          : "=r"(lo), "=r"(hi)
          : "r"(u));
    else
      asm("{ .reg .b16 l, h; mov.b32 {l, h}, %2; cvt.rn.f16x2.e5m2x2 %0, l; cvt.rn.f16x2.e5m2x2 %1, h; }\n"
          : "=r"(lo), "=r"(hi)
          : "r"(u));
    return;
  }
#endif
  lo = fp8x2_to_elem2<T, K>(u & 0xffffu);
  hi = fp8x2_to_elem2<T, K>(u >> 16);
}

// The MMAs' element type: the kernel's, except with an fp8 cache: f16 there, for every e4m3 /
// e5m2 code is an f16 (sm_89+: one cvt per pair, where bf16 took that cvt, two f16 -> f32 and one
// f32 -> bf16x2: 208 of the 759 PTX instructions of a bf16 / e4m3 warp step at head dim 128),
// and P rounded to f16 is at least as accurate as in bf16 (values in [0, 1]).
template <class T, bool kFp8>
struct MmaElem {
  using type = T;
};
template <class T>
struct MmaElem<T, true> {
  using type = F16;
};

// bf16 Q fragments -> f16 for the f16 MMAs of an fp8 cache. Q is scaled by 2^s so that its
// largest magnitude over the warp (every warp holds the whole chunk) lies in [2^14, 2^15): in
// f16's range, and exact for every element down to 2^-24 of it (bf16 has 8 significant bits,
// f16 11). Returns 2^-s, which the caller folds into the score scale (Q K^T is linear in Q).
template <class T, int KT>
__device__ __forceinline__ float q_fragments_to_f16(unsigned (&qa)[KT][4]) {
  float amax = 0.f, lo, hi;
#pragma unroll
  for (int kt = 0; kt < KT; ++kt)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      unpack2<T>(qa[kt][e], lo, hi);
      amax = fmaxf(amax, fmaxf(fmaxf(lo, -lo), fmaxf(hi, -hi)));
    }
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, off));
  const int e = ((__float_as_int(amax) >> 23) & 0xff) - 127;
  const int s = max(-120, min(120, 14 - e));
  const float up = __int_as_float((127 + s) << 23);
#pragma unroll
  for (int kt = 0; kt < KT; ++kt)
#pragma unroll
    for (int e2 = 0; e2 < 4; ++e2) {
      unpack2<T>(qa[kt][e2], lo, hi);
      qa[kt][e2] = pack2<F16>(lo * up, hi * up);
    }
  return __int_as_float((127 - s) << 23);
}

}  // namespace decode
}  // namespace attnjit

#include "decode/mma_fp8_sm80.cuh"  // fp8 K/V straight into the MMA operands

namespace attnjit {
namespace decode {

// Config: as decode_kernel's, with kRowsPerCta == 16 and kBlockN = keys per warp per stage
// (16, 32 or 64); head dims 64, 128, 256; optionally kKvFp8 (fp8::Kind): K and V are fp8
// codes (half the bytes of the ring), converted in registers into the MMA operands
// (decode/mma_fp8_sm80.cuh), with DecodeParams::k_scale / v_scale applied to the scores and the
// output; optionally kSoftcap,
// kAlibi, kSink, `using UserMods` (decode/variants.h).
// The resident CTAs per SM the launch plan counts on (codegen's kMinBlocks, decode_gpu_plan's
// ctas_per_sm; 1 where a config does not say): the launch bound tells ptxas that occupancy, so
// it neither goes past it nor squeezes registers below what it needs to reach a higher one
// (without it, ptxas 13 took 168 registers and spilled in the K/V loop on sm_80 at 2 warps,
// where the plan's shared memory allows 3 CTAs anyway).
template <class C>
ATTNJIT_HD constexpr auto min_blocks_(int) -> decltype(static_cast<int>(C::kMinBlocks)) { return C::kMinBlocks; }
template <class C>
ATTNJIT_HD constexpr int min_blocks_(long) { return 1; }
template <class C>
ATTNJIT_HD constexpr int min_blocks() { return min_blocks_<C>(0); }

template <class C>
__global__ void __launch_bounds__(C::kWarps * 32, min_blocks<C>()) decode_mma_kernel(const DecodeParams p) {
#include "decode/mma_sm80_cta.cuh"
}
// Kernels built with ALiBi or sinks take their tensors after DecodeParams (decode/variants.h).
template <class C>
__global__ void __launch_bounds__(C::kWarps * 32, min_blocks<C>()) decode_mma_variant_kernel(const DecodeVariantParams p) {
#include "decode/mma_sm80_cta.cuh"
}
// Kernels built with a user score_mod / mask_mod (decode/variants.h: DecodeModParams).
template <class C>
__global__ void __launch_bounds__(C::kWarps * 32, min_blocks<C>()) decode_mma_mods_kernel(const decode_variants::DecodeModParams p) {
#include "decode/mma_sm80_cta.cuh"
}

}  // namespace decode
}  // namespace attnjit
