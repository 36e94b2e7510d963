// User variants on the sm80 templates' mma.sync fragments (templates/common/variants_user.h):
// a thread holds, per m16 atom mi and n8 atom j, elements e = 0..3 at row g + 8 * (e / 2) and
// column 2 * t + e % 2 of the atom.
#pragma once

#include "common/variants_user.h"

namespace attnjit {
namespace variants {

// score_mod on raw q.k scores (natural units = raw * scale), for rows / columns in bounds.
template <int kM, int kN, class Mods>
__device__ __forceinline__ void score_mod_fragments(const Mods& mods, float (&acc)[kM][kN][4], int b, int h,
                                                    int row0, int col0, int seqlen_q, int seqlen_k, float scale) {
  const float inv = 1.f / scale;
#pragma unroll
  for (int mi = 0; mi < kM; ++mi)
#pragma unroll
    for (int j = 0; j < kN; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int row = row0 + mi * 16 + (e / 2) * 8, col = col0 + j * 8 + e % 2;
        if (row < seqlen_q && col < seqlen_k) acc[mi][j][e] = mods.score_mod(acc[mi][j][e] * scale, b, h, row, col) * inv;
      }
}

// Whether the mask_mod lets query `row` see key `col` (rows past seqlen_q: yes, they are never
// stored; the caller has checked col against the key range).
template <class Mods>
__device__ __forceinline__ bool mask_mod_at(const Mods& mods, int b, int h, int row, int col, int seqlen_q) {
  if constexpr (Mods::kMaskMod) return row >= seqlen_q || mods.mask_mod(b, h, row, col);
  return true;
}

}  // namespace variants
}  // namespace attnjit
