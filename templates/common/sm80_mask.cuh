// The sm80 kernels' mask policies: the shared policies of common/variants.h (one definition of
// each mask), seen through the row-index interface the sm80 kernels use. Each answers: which
// keys does query row i see? A half-open range [lo, hi) clamped to [0, seqlen_k), from which
// the kernel derives both the K/V tiles to visit and the elementwise mask; the seqlen_k bound of
// uneven lengths comes for free.
//
// Masks are bottom-right aligned (FlashAttention >= 2.1): query i sits at position
// p = i + seqlen_k - seqlen_q (64-bit: p - L and p + R overflow int for large windows; the
// clamped results fit int). The type names stay the sm80 ones, so kernel names (and PTX) do not
// change.
#pragma once

#include "common/variants.h"

namespace attnjit {
namespace sm80 {

// Row-index adapter over a variants:: mask policy.
template <class Policy>
struct RowMask : Policy {
  __device__ __forceinline__ static void key_range(int row, int seqlen_q, int seqlen_k, int& lo, int& hi) {
    Policy::key_range(static_cast<long long>(row) + seqlen_k - seqlen_q, seqlen_k, lo, hi);
  }
};

struct MaskNone : RowMask<variants::MaskNone> {};
struct MaskCausal : RowMask<variants::MaskCausal> {};
template <long long kLeft, long long kRight>
struct MaskSlidingWindow : RowMask<variants::MaskSlidingWindow<kLeft, kRight>> {};

}  // namespace sm80
}  // namespace attnjit
