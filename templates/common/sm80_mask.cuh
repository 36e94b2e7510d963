// Attention masks as compile-time policies. Each policy answers one question: which keys does
// query row i see? The answer is a half-open range [lo, hi) clamped to [0, seqlen_k), so the
// kernel derives from it both the K/V tiles to visit and the elementwise mask, and the
// seqlen_k bound of uneven lengths comes for free.
//
// Masks are bottom-right aligned (FlashAttention >= 2.1): query i sits at position
// p = i + seqlen_k - seqlen_q. Causal: key j visible iff j <= p. Sliding window (left L,
// right R): visible iff p - L <= j <= p + R. Arithmetic is 64-bit because p - L and p + R
// overflow int for large windows; the clamped results fit int.
#pragma once

namespace attnjit {
namespace sm80 {

__device__ __forceinline__ int clamp_key(long long x, int seqlen_k) {
  return x < 0 ? 0 : (x > seqlen_k ? seqlen_k : static_cast<int>(x));
}

struct MaskNone {
  static constexpr bool kMasksKeys = false;  // only the seqlen_k bound can cut a tile
  static constexpr bool kCausal = false;
  __device__ __forceinline__ static void key_range(int, int, int seqlen_k, int& lo, int& hi) {
    lo = 0;
    hi = seqlen_k;
  }
};

struct MaskCausal {
  static constexpr bool kMasksKeys = true;
  static constexpr bool kCausal = true;
  __device__ __forceinline__ static void key_range(int row, int seqlen_q, int seqlen_k, int& lo,
                                                   int& hi) {
    const long long p = static_cast<long long>(row) + seqlen_k - seqlen_q;
    lo = 0;
    hi = clamp_key(p + 1, seqlen_k);
  }
};

template <long long kLeft, long long kRight>
struct MaskSlidingWindow {
  static_assert(kLeft >= 0 && kRight >= 0, "window widths are non-negative");
  static constexpr bool kMasksKeys = true;
  static constexpr bool kCausal = false;
  __device__ __forceinline__ static void key_range(int row, int seqlen_q, int seqlen_k, int& lo,
                                                   int& hi) {
    const long long p = static_cast<long long>(row) + seqlen_k - seqlen_q;
    lo = clamp_key(p - kLeft, seqlen_k);
    hi = clamp_key(p + kRight + 1, seqlen_k);
  }
};

}  // namespace sm80
}  // namespace attnjit
