// The masks of the sm80 prefill kernel: the variants of common/variants.h, answering per query
// ROW (not position) in the int range the kernel indexes with. The policy answers one question:
// which keys does query row i see? The answer is a half-open range [lo, hi) clamped to
// [0, seqlen_k), so the kernel derives from it both the K/V tiles to visit and the elementwise
// mask, and the seqlen_k bound of uneven lengths comes for free. The names stay in sm80:: because
// they appear in the kernels' mangled entry names.
#pragma once

#include "common/variants.h"

namespace attnjit {
namespace sm80 {

template <class Base>
struct RowMask : Base {
  __device__ __forceinline__ static void key_range(int row, int seqlen_q, int seqlen_k, int& lo,
                                                   int& hi) {
    long long l, h;
    Base::key_range(static_cast<long long>(row) + seqlen_k - seqlen_q, seqlen_k, l, h);
    lo = static_cast<int>(l);
    hi = static_cast<int>(h);
  }
};

struct MaskNone : RowMask<variants::MaskNone> {};
struct MaskCausal : RowMask<variants::MaskCausal> {};
template <long long kLeft, long long kRight>
struct MaskSlidingWindow : RowMask<variants::MaskSlidingWindow<kLeft, kRight>> {};

}  // namespace sm80
}  // namespace attnjit
