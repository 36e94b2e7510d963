// Emulated replacements of the inline-PTX helpers of templates/common/sm80_mma.cuh and sm80_copy.cuh,
// with their exact signatures. The build (tests/CMakeLists.txt, "emu" block) copies those two
// headers into a shadow folder with only these helpers' definitions renamed away and this file
// included first, so every call in the real index/layout code (Swizzle, FragAddr, TileLoader,
// store_rows_warp) and in the kernels binds to the functions below.
//
// The operand order of each helper's asm statement is mirrored (e.g. pack2 passes (hi, lo) to
// cvt, whose first source lands in the upper half); the instruction semantics come from
// cuda_shim.h, written from the PTX ISA.
#pragma once

#include "emu/cuda_shim.h"

// The prefill kernel's `extern __shared__ unsigned char smem[]` (namespace attnjit).
EMU_DEFINE_DYNAMIC_SMEM(attnjit, unsigned char, smem)

namespace attnjit {
namespace sm80 {

// cvta.to.shared.u64 + cvt.u32.u64.
__device__ __forceinline__ unsigned smem_u32(const void* p) {
  return emu::cvta_to_shared(p, attnjit::smem);
}

__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], unsigned addr) {
  emu::ldmatrix_x4(r, addr, false);
}

__device__ __forceinline__ void ldmatrix_x4_trans(unsigned (&r)[4], unsigned addr) {
  emu::ldmatrix_x4(r, addr, true);
}

// {%0..%3} = c, {%4..%7} = a, {%8, %9} = b0, b1, accumulate into c.
template <class Element>
__device__ __forceinline__ void mma_16816(float (&c)[4], const unsigned (&a)[4], unsigned b0,
                                          unsigned b1) {
  emu::mma_m16n8k16(Element::kIsBf16 ? emu::Half16::BF16 : emu::Half16::F16, c, a, b0, b1);
}

// asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo)): a = hi, b = lo.
template <class Element>
__device__ __forceinline__ unsigned pack2(float lo, float hi) {
  return emu::cvt_rn_x2(Element::kIsBf16 ? emu::Half16::BF16 : emu::Half16::F16, hi, lo);
}

__device__ __forceinline__ float exp2_approx(float x) { return emu::ex2_approx_ftz(x); }

// cp.async.cg.shared.global [dst], [src], 16, src_bytes with src_bytes = valid ? 16 : 0: bytes
// beyond src-size are zero-filled, so a src-size of 0 writes 16 zeros and reads nothing.
__device__ __forceinline__ void cp_async_16(unsigned dst, const void* src, bool valid) {
  emu::block().cp_async16(dst, src, !valid);
}

__device__ __forceinline__ void cp_async_commit() { emu::block().cp_async_commit(); }

template <int N>
__device__ __forceinline__ void cp_async_wait() {
  emu::block().cp_async_wait(N);
}

}  // namespace sm80
}  // namespace attnjit
