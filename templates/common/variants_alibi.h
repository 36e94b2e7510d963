// ALiBi (Press et al.), FlashAttention's convention: query head h adds
//   bias(i, j) = -slope_h * |p - j|,   p = i + seqlen_k - seqlen_q (the bottom-right aligned position)
// to the scaled (and, when on, soft-capped) score of query i and key j, before the mask; slopes
// are f32, one per query head, optionally per batch entry. Under a causal mask j <= p, so this is
// slope_h * (j - p): flash-attn's causal kernels add only slope_h * j, which gives the same O but
// an LSE larger by slope_h * p; ours is the LSE of the definition above, for every mask.
//
// A policy trait (has_alibi<C>) and the bias as a functor in the kernel's score units, plus the
// walk over an mma.sync C-fragment tile the sm80 kernels use. Builtins only (see variants.h).
#pragma once

#include "common/variants.h"

// Loops over register fragments must unroll (the arrays live in registers); g++ (the emulator,
// the reference) has no `ATTNJIT_UNROLL` and would warn.
#ifndef ATTNJIT_UNROLL
#if defined(__CUDACC_RTC__) || defined(__CUDACC__) || defined(__clang__)
#define ATTNJIT_UNROLL _Pragma("unroll")
#else
#define ATTNJIT_UNROLL
#endif
#endif

namespace attnjit {
namespace variants {

// A policy (mask or config) with ALiBi declares kAlibi; the detector is a function, not a class
// constant, so kernels without ALiBi keep exactly their PTX (see softcap_of).
template <class C>
ATTNJIT_HD constexpr auto has_alibi_(int) -> decltype(static_cast<bool>(C::kAlibi)) { return C::kAlibi; }
template <class C>
ATTNJIT_HD constexpr bool has_alibi_(long) { return false; }
template <class C>
ATTNJIT_HD constexpr bool has_alibi() { return has_alibi_<C>(0); }

// A mask policy with ALiBi on top (sm80 templates pick it in their prelude).
template <class Base>
struct WithAlibi : Base {
  enum : bool { kAlibi = true };
};

// The slope of query head h of batch entry b: slopes[b * batch_stride + h] (batch_stride 0 =
// one [heads] vector shared by the batch).
ATTNJIT_HD float alibi_slope(const float* slopes, long long batch_stride, long long b, long long h) {
  return slopes[b * batch_stride + h];
}

// s + bias in kernel units u (score_kernel = natural * u): neg = -slope * u.
template <class F = float>
struct AlibiBias {
  F neg;
  ATTNJIT_HD static AlibiBias make(F slope, F unit) { return AlibiBias{-slope * unit}; }
  // adist = |p - j| as a float (exact below 2^24; beyond, the bias is off by a relative 6e-8).
  template <class T>
  ATTNJIT_HD T operator()(T s, T adist) const { return s + neg * adist; }
};

// An mma.sync m16n8 C-fragment tile s[kM][kN][4] of one thread: element (mi, j, e) is row
// row0 + 16 mi + 8 (e / 2), column col0 + 8 j + e % 2, where row0 / col0 are this thread's first
// position and key. base = row0 - col0 (in 64 bits, then float); every other offset is a
// compile-time constant, so the bias is one add, one abs and one FMA per element. (fabsf: CUDA's
// or the emulator's <cmath>; a dependent call, so the CPU JIT, which never instantiates it,
// needs no declaration.)
template <int kM, int kN, class F>
ATTNJIT_HD void alibi_mma_tile(F (&s)[kM][kN][4], const AlibiBias<F>& bias, long long row0, long long col0) {
  const F base = static_cast<F>(row0 - col0);
ATTNJIT_UNROLL
  for (int mi = 0; mi < kM; ++mi)
ATTNJIT_UNROLL
    for (int j = 0; j < kN; ++j)
ATTNJIT_UNROLL
      for (int e = 0; e < 4; ++e)
        s[mi][j][e] = bias(s[mi][j][e], fabsf(base + static_cast<F>(16 * mi + 8 * (e / 2) - 8 * j - e % 2)));
}

}  // namespace variants
}  // namespace attnjit
