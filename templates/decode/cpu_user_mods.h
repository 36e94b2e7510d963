// User score_mod / mask_mod for the CPU decode template (decode/cpu.h), on the shared decode
// hook of decode/variants.h (user_score): one pass over a block's scores between Q.K^T (and
// ALiBi) and the softmax, so the streaming loops are untouched. Builtins only (clang JIT).
#pragma once

#include "decode/variants.h"

namespace attnjit::cpu {

// s(h, r, jj) (log2 units; a float& of the block's scores) for the block's keys j0 + jj that row r's built-in mask leaves
// visible (keys [lo[r], hi[r]]): the score_mod applied, -inf where the mask_mod hides the key.
// Item row r is global row chunk * R + r = token * G + head-in-group; padding rows and keys
// outside the range are left to the softmax, which masks them.
template <int G, int QT, int R, class Mods, class Scores>
inline void user_mods_block(const Mods& mods, const Scores& s, const long long (&lo)[R],
                            const long long (&hi)[R], int nh, long long b, int h0, int chunk, long long j0, int n) {
  for (int h = 0; h < nh; ++h)
    for (int r = 0; r < R; ++r) {
      const int gr = chunk * R + r;
      if (gr >= G * QT) break;
      const int hq = (h0 + h) * G + gr % G;
      const long long first = lo[r] > j0 ? lo[r] - j0 : 0, last = hi[r] - j0 < n - 1 ? hi[r] - j0 : n - 1;
      for (long long jj = first; jj <= last; ++jj)
        s(h, r, jj) = decode_variants::user_score(mods, s(h, r, jj), (int)b, hq, gr / G, j0 + jj, -__builtin_huge_valf());
    }
}

}  // namespace attnjit::cpu
