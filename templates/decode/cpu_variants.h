// ALiBi and sinks for the CPU decode template (decode/cpu.h), on the shared decode policies of
// decode/variants.h: the bias as one pass over a block's scores between Q.K^T and the softmax
// (so the streaming loops are untouched), the sink folded into a row as it is written (after
// the split combine, so it counts once). Builtins only (clang JIT, no system headers).
#pragma once

#include "common/cpu_vec.h"
#include "decode/variants.h"

namespace attnjit::cpu {

// s(h, r, jj) (log2 units; a float& of the block's scores) += -slope(b, hq) * log2(e) *
// |pos - (j0 + jj)| for the block's n keys,
// where item row r is global row chunk * R + r = token * G + head-in-group, hq its query head
// and pos = L - QT + token its bottom-right aligned position. Padding rows are left alone (the
// softmax masks them).
template <int G, int QT, int R, class Scores>
inline void add_alibi_block(const DecodeParams& p, const Scores& s, int nh, long long b, int h0, int chunk,
                            long long L, long long j0, int n) {
  const DecodeVariantParams& a = decode_variants::args(p);
  for (int h = 0; h < nh; ++h)
    for (int r = 0; r < R; ++r) {
      const int gr = chunk * R + r;
      if (gr >= G * QT) break;
      const long long hq = (long long)(h0 + h) * G + gr % G;
      const float neg = variants::AlibiBias<float>::make(
                            variants::alibi_slope(a.alibi_slopes, a.alibi_batch_stride, b, hq), 1.4426950408889634f)
                            .neg;
      const float d0 = (float)(L - QT + gr / G - j0);  // pos - j0: |d0 - jj| per key
      for (int jj = 0; jj < n; ++jj) {
        const float d = d0 - (float)jj;
        s(h, r, jj) += neg * (d < 0.f ? -d : d);
      }
    }
}

// Folds query head hq's sink into a finished row: lse2 (log2 units, -inf = empty) and inv (what
// the row's accumulator is multiplied by). In double, like the row's LSE: a sink of -inf leaves
// both bit for bit.
inline void fold_sink_row(const DecodeParams& p, long long hq, double& lse2, float& inv) {
  double f = 1.0;
  decode_variants::fold_sink_log2<true>(
      p, hq, lse2, f, [](double x) { return (double)vexp2<Vec<4>::F, Vec<4>::I>((Vec<4>::F)(float)x)[0]; },
      [](double x) { return slog2(x); });
  inv = (float)(inv * f);
}

}  // namespace attnjit::cpu
