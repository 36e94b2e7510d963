// Per-warp chunk skipping for the sm80 prefill kernel's partially visible key tiles.
//
// A warp owns whole query rows, so the keys it must score in a tile are the union of its rows'
// ranges: for the monotone built-in masks (causal, sliding window, the seqlen_k bound) that is
// [lo(first row), hi(last valid row)). Key chunks of 16 (one k16 step of P V, two n8 atoms of S)
// outside it are hidden from every valid row of the warp, so the warp skips their Q K^T and P V
// MMAs: at a window's edges and on the causal diagonal a warp pays only for what it sees, and a
// tile hidden from a warp entirely costs it no MMA. The elementwise mask still runs on such a
// tile (it cuts some row of the warp, so it is never "full") and turns the skipped scores,
// left at 0, into -inf before the softmax. The branch is warp-uniform; fragment indices stay
// compile-time, and the kernel keeps an unguarded copy of both loops for the tiles (the large
// majority) in which the warp sees every chunk.
#pragma once

#include "common/sm80_mma.cuh"  // first: under the emulator it brings the CUDA shim

namespace attnjit {
namespace sm80 {

// A compile-time flag as a value, to instantiate a generic lambda twice (guarded or not).
template <bool B>
struct Flag {
  enum : bool { value = B };
};

// Whether the built-in mask of policy M can hide keys from a row (a user mask_mod or block mask
// has no key range to skip by): M::kBuiltinMasksKeys under user variants, else M::kMasksKeys.
template <class M>
__device__ __forceinline__ constexpr auto builtin_masks_keys_(int) -> decltype(bool(M::kBuiltinMasksKeys)) {
  return M::kBuiltinMasksKeys;
}
template <class M>
__device__ __forceinline__ constexpr bool builtin_masks_keys_(long) { return M::kMasksKeys; }
template <class M>
__device__ __forceinline__ constexpr bool builtin_masks_keys() { return builtin_masks_keys_<M>(0); }

// The warp's key span; chunks(n0) gives the 16-key chunks [lo, hi) of the tile at n0 it sees.
template <int kBlockN>
struct WarpKeySpan {
  static constexpr int kChunks = kBlockN / 16;
  int lo = 0, hi = 0;  // empty when the warp has no valid row (its results are never stored)

  template <class Mask>
  __device__ __forceinline__ static WarpKeySpan make(int row0, int rows, int seqlen_q, int seqlen_k) {
    WarpKeySpan s;
    const int last = (row0 + rows < seqlen_q ? row0 + rows : seqlen_q) - 1;
    if (last < row0) return s;
    int unused;
    Mask::key_range(row0, seqlen_q, seqlen_k, s.lo, unused);
    Mask::key_range(last, seqlen_q, seqlen_k, unused, s.hi);
    return s;
  }

  __device__ __forceinline__ void chunks(int n0, int& c_lo, int& c_hi) const {
    c_lo = lo <= n0 ? 0 : ((lo - n0) / 16 < kChunks ? (lo - n0) / 16 : kChunks);
    c_hi = hi <= n0 ? 0 : ((hi - n0 + 15) / 16 < kChunks ? (hi - n0 + 15) / 16 : kChunks);
  }
};

}  // namespace sm80
}  // namespace attnjit
