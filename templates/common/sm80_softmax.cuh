// Online softmax (FlashAttention-2) over mma.sync accumulator tiles, in fp32.
//
// A warp's score tile is float s[kM][kN][4]: kM 16-row m-atoms by kN 8-column n-atoms in the C
// fragment layout, so each thread holds 2 rows per m-atom (g and g+8, index r = 2 * mi + e / 2)
// and the 4 threads of a quad share a row. Row maxima are reduced across the quad with
// __shfl_xor_sync for every tile (every thread must subtract the same max); row sums stay
// per-thread partials until finalize(), as FA2 does, since the rescale factors are quad-uniform.
//
// Scores are kept raw; exp2(s * scale_log2 - max * scale_log2) with scale_log2 = scale * log2(e)
// is one FFMA + one MUFU.EX2 per element.
#pragma once

#include "common/sm80_mma.cuh"

namespace attnjit {
namespace sm80 {

__device__ __forceinline__ float quad_max(float x) {
  x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
  return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
}

__device__ __forceinline__ float quad_sum(float x) {
  x += __shfl_xor_sync(0xffffffffu, x, 1);
  return x + __shfl_xor_sync(0xffffffffu, x, 2);
}

template <int kM>
struct OnlineSoftmax {
  static constexpr int kRows = 2 * kM;
  float row_max[kRows];  // raw (unscaled) running max; -inf while a row has seen no key
  float row_sum[kRows];  // this thread's partial sum of exp2(...) relative to row_max

  __device__ __forceinline__ void init() {
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      row_max[r] = neg_inf();
      row_sum[r] = 0.f;
    }
  }

  // Folds one score tile in: updates max and sum, turns s into unnormalized probabilities and
  // rescales the output accumulator o[kM][kD][4] by exp2((old max - new max) * scale_log2).
  template <int kN, int kD>
  __device__ __forceinline__ void update(float (&s)[kM][kN][4], float (&o)[kM][kD][4],
                                         float scale_log2) {
#pragma unroll
    for (int mi = 0; mi < kM; ++mi) {
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int r = 2 * mi + h;
        float mx = row_max[r];
#pragma unroll
        for (int j = 0; j < kN; ++j) mx = fmaxf(mx, fmaxf(s[mi][j][2 * h], s[mi][j][2 * h + 1]));
        mx = quad_max(mx);
        // A row that has seen only masked keys keeps max = -inf. Subtracting it would compute
        // -inf - (-inf) = NaN (flash-attention softmax.h); use 0 instead, so its masked scores
        // give exp2(-inf) = 0 and the rescale of its (zero) accumulators is exp2(-inf) = 0.
        const float mx_use = mx == neg_inf() ? 0.f : mx;
        const float corr = exp2_approx((row_max[r] - mx_use) * scale_log2);
        const float mx_scaled = mx_use * scale_log2;
        row_max[r] = mx;
        float sum = 0.f;
#pragma unroll
        for (int j = 0; j < kN; ++j) {
#pragma unroll
          for (int e = 2 * h; e < 2 * h + 2; ++e) {
            s[mi][j][e] = exp2_approx(s[mi][j][e] * scale_log2 - mx_scaled);
            sum += s[mi][j][e];
          }
        }
        row_sum[r] = row_sum[r] * corr + sum;
#pragma unroll
        for (int d = 0; d < kD; ++d) {
          o[mi][d][2 * h] *= corr;
          o[mi][d][2 * h + 1] *= corr;
        }
      }
    }
  }

  // Completes the row sums across the quad. inv_sum[r] is what O's row r is multiplied by and
  // lse[r] the natural-log sum-exp of the scaled scores. A row with no visible key has sum 0:
  // its O stays 0 (multiplied by 1) and its LSE is -inf, never NaN.
  __device__ __forceinline__ void finalize(float scale, float (&inv_sum)[kRows],
                                           float (&lse)[kRows]) {
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      const float sum = quad_sum(row_sum[r]);
      const bool empty = sum == 0.f;
      inv_sum[r] = empty ? 1.f : 1.f / sum;
      lse[r] = empty ? neg_inf() : row_max[r] * scale + logf(sum);
    }
  }
};

}  // namespace sm80
}  // namespace attnjit
