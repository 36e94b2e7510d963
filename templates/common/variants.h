// Variants: what is done to the attention scores, as small policy structs with default hooks
// that every template (sm80 prefill and decode, CPU prefill and decode) and the float64
// reference use. A variant answers three questions:
//   visible(q_pos, k_pos)   the per-element mask (positions are bottom-right aligned: query row i
//                           sits at key position p = i + seqlen_k - seqlen_q)
//   key_range(p, sk, lo, hi) the half-open key range (in the kernel's index type: int or 64-bit) a query at position p can see, from which a
//                           kernel derives the per-tile classification (skip / full / partial)
//   logits transform        what happens to a visible score before the softmax (identity, or
//                           soft-capping s -> c * tanh(s / c) on the scaled scores)
// Policy traits are enumerators and functions, not static data members: NVRTC emits a PTX global
// for every class constant it sees. Written to compile under NVRTC, under the emulator's shim,
// under clang for the CPU JIT (no system headers) and as host C++ for the reference: only
// builtins, no includes.
#pragma once

#ifndef ATTNJIT_HD
#if defined(__CUDACC_RTC__) || defined(__CUDACC__) || defined(__forceinline__)
#define ATTNJIT_HD __device__ __forceinline__
#else
#define ATTNJIT_HD inline
#endif
#endif

namespace attnjit {
namespace variants {

// x clamped to [0, seqlen_k], in the kernel's index type I (int for the sm80 kernels: the
// clamped value fits, only the position x needs 64 bits).
template <class I>
ATTNJIT_HD I clamp_key(long long x, I seqlen_k) {
  return x < 0 ? 0 : (x > seqlen_k ? seqlen_k : static_cast<I>(x));
}

// Tile classification: a key tile [n0, n1) against the keys visible to rows [p_first, p_last].
enum TileKind { kTileSkip = 0, kTileFull = 1, kTilePartial = 2 };

// Masks. 64-bit arithmetic: p - L and p + R overflow int for large windows.
struct MaskNone {
  enum : bool { kMasksKeys = false, kCausal = false };  // only the seqlen_k bound can cut a tile
  ATTNJIT_HD static bool visible(long long, long long) { return true; }
  template <class I>
  ATTNJIT_HD static void key_range(long long, I seqlen_k, I& lo, I& hi) {
    lo = 0;
    hi = seqlen_k;
  }
};

struct MaskCausal {
  enum : bool { kMasksKeys = true, kCausal = true };
  ATTNJIT_HD static bool visible(long long p, long long k) { return k <= p; }
  template <class I>
  ATTNJIT_HD static void key_range(long long p, I seqlen_k, I& lo, I& hi) {
    lo = 0;
    hi = clamp_key(p + 1, seqlen_k);
  }
};

template <long long kLeft, long long kRight>
struct MaskSlidingWindow {
  static_assert(kLeft >= 0 && kRight >= 0, "window widths are non-negative");
  enum : bool { kMasksKeys = true, kCausal = false };
  ATTNJIT_HD static bool visible(long long p, long long k) { return k >= p - kLeft && k <= p + kRight; }
  template <class I>
  ATTNJIT_HD static void key_range(long long p, I seqlen_k, I& lo, I& hi) {
    lo = clamp_key(p - kLeft, seqlen_k);
    hi = clamp_key(p + kRight + 1, seqlen_k);
  }
};

// The per-tile classification every template shares: rows at positions [p_first, p_last] see
// key tile [n0, n1) not at all, entirely, or in part (then the kernel masks per element).
template <class Mask>
ATTNJIT_HD int classify_tile(long long p_first, long long p_last, long long n0, long long n1,
                             long long seqlen_k) {
  long long lo_f, hi_f, lo_l, hi_l;
  Mask::key_range(p_first, seqlen_k, lo_f, hi_f);
  Mask::key_range(p_last, seqlen_k, lo_l, hi_l);
  if (n1 <= lo_f || n0 >= hi_l) return kTileSkip;  // ranges move right with the row
  return (n0 >= lo_l && n1 <= hi_f) ? kTileFull : kTilePartial;
}

// Logits transforms. A kernel keeps its scores in its own units u (score_kernel = natural * u:
// u = 1/scale for raw q.k, u = log2(e) for scores pre-scaled by scale*log2(e)); the transform
// takes and returns scores in those units, so no other instruction of the kernel changes.
struct NoSoftCap {
  template <class T, class Tanh>
  ATTNJIT_HD T operator()(T s, Tanh) const { return s; }
};

// s -> c * tanh(s / c) in natural units, i.e. u*c * tanh(s_kernel / (u*c)) in kernel units.
template <class F = float>
struct SoftCap {
  F pre, post;  // 1 / (c u), c u
  ATTNJIT_HD static SoftCap make(F cap, F unit) { return SoftCap{F(1) / (cap * unit), cap * unit}; }
  template <class T, class Tanh>
  ATTNJIT_HD T operator()(T s, Tanh tanh_fn) const { return tanh_fn(s * pre) * post; }
};

// A mask with soft-capping: Cap::kValue (a float constant > 0) is the cap c.
template <class Mask, class Cap>
struct SoftCapped : Mask {
  static constexpr float kSoftcap = Cap::kValue;
};

// The soft-cap of a template's config or mask policy C: C::kSoftcap where C declares it, else 0
// (off). A function, not a constant: class constants become PTX globals, and the kernels without
// soft-capping must keep exactly their PTX.
template <class C>
ATTNJIT_HD constexpr auto softcap_of_(int) -> decltype(static_cast<float>(C::kSoftcap)) { return C::kSoftcap; }
template <class C>
ATTNJIT_HD constexpr float softcap_of_(long) { return 0.f; }
template <class C>
ATTNJIT_HD constexpr float softcap_of() { return softcap_of_<C>(0); }

}  // namespace variants
}  // namespace attnjit
