// Where the rows of one query tile live, for dense, varlen (packed) and paged-KV prefill: the one
// piece of addressing the CPU and sm80 prefill kernels share (they call it; no kernel repeats it).
//
// Varlen tile numbering. Sequence b (rows [cu[b], cu[b+1]) of the packed q) owns the tile numbers
// [start(b), start(b+1)) with start(b) = cu[b] / BM + b. start is strictly increasing, so a tile
// number maps back to its sequence by a binary search over the batch + 1 offsets, and the count
// start(batch) = total_q / BM + batch needs only total_q — a host value — never the device-side
// cu_seqlens. A sequence gets floor(cu[b+1]/BM) - floor(cu[b]/BM) + 1 numbers, which is
// ceil(len/BM) or one more: at most one idle tile per sequence (an empty sequence has exactly one),
// where a grid of batch x ceil(max_seqlen_q/BM) tiles (FlashAttention-2's) idles on every tile a
// short sequence lacks against the longest — most of the grid for mixed lengths. Idle tiles
// return at once.
//
// Paged KV: key n of sequence b is row n % page_size of page block_table[b][n / page_size]; the
// page stride is the tensor's batch stride. Page sizes are powers of two (shift and mask).
//
// Written for NVRTC, the emulator's shim, the CPU JIT (no system headers) and host C++.
#pragma once

#include "prefill/params.h"
#include "common/variants.h"  // ATTNJIT_HD

namespace attnjit {
namespace layout {

// One query tile of one sequence.
struct SeqTile {
  int b;             // sequence (batch entry)
  int m0;            // first query row of the tile, within the sequence
  int len_q, len_k;  // the sequence's query and key counts (masks align to these)
  int row_q;         // varlen: the sequence's first row in q / o / lse (cu_seqlens_q[b]); else 0
  int row_k;         // varlen with contiguous K/V: cu_seqlens_k[b]; else 0
};

// Tile numbers of a varlen batch (see the header comment).
ATTNJIT_HD long long varlen_tiles(long long total_q, long long batch, long long block_m) {
  return total_q / block_m + batch;
}

// The addressing of one layout, chosen at compile time (kVarlen: packed q / o / lse and, unless
// paged, packed k / v; kPaged: K/V through the block table) so a dense kernel keeps its code.
template <bool kVarlen, bool kPaged>
struct Layout {
  ATTNJIT_HD static int kv_len(const PrefillParams& p, int b) {
    if (kPaged) return p.seqused_k[b];
    if (kVarlen) return p.cu_seqlens_k[b + 1] - p.cu_seqlens_k[b];
    return p.seqlen_k;
  }

  // Dense query batches: tile m_block of batch entry b.
  ATTNJIT_HD static SeqTile dense_tile(const PrefillParams& p, int b, int m_block, int block_m) {
    SeqTile t;
    t.b = b;
    t.m0 = m_block * block_m;
    t.len_q = p.seqlen_q;
    t.len_k = kv_len(p, b);
    t.row_q = 0;
    t.row_k = 0;
    return t;
  }

  // Varlen: tile number v in [0, varlen_tiles). False for an idle number (past its sequence).
  ATTNJIT_HD static bool varlen_tile(const PrefillParams& p, long long v, int block_m, SeqTile& t) {
    const int* cu = p.cu_seqlens_q;
    int lo = 0, hi = p.batch - 1;  // the last b with start(b) <= v
    while (lo < hi) {
      const int mid = (lo + hi + 1) / 2;
      if (cu[mid] / block_m + mid <= v) lo = mid;
      else hi = mid - 1;
    }
    t.b = lo;
    t.row_q = cu[lo];
    t.len_q = cu[lo + 1] - cu[lo];
    t.m0 = static_cast<int>(v - (cu[lo] / block_m + lo)) * block_m;
    t.len_k = kv_len(p, lo);
    t.row_k = kPaged ? 0 : p.cu_seqlens_k[lo];
    return t.m0 < t.len_q;
  }

  // Element offset of the tile's first query row in a [.., rows, heads, d] tensor (q or o).
  ATTNJIT_HD static long long q_rows(const SeqTile& t, long long batch_stride, long long row_stride) {
    return (kVarlen ? static_cast<long long>(t.row_q) * row_stride : t.b * batch_stride) +
           static_cast<long long>(t.m0) * row_stride;
  }

  // Offset of the tile's first LSE entry of head 0: dense [b, h, i]; varlen [h, total_q].
  ATTNJIT_HD static long long lse_rows(const PrefillParams& p, const SeqTile& t) {
    return (kVarlen ? static_cast<long long>(t.row_q) : t.b * p.lse_batch_stride) + t.m0;
  }

  // Element offset of key n of the tile's sequence in k or v (head 0).
  ATTNJIT_HD static long long kv_row(const PrefillParams& p, const SeqTile& t, long long batch_stride,
                                     long long row_stride, long long n) {
    if (kPaged) {
      const long long page = p.block_table[t.b * p.block_table_stride + (n >> p.page_shift)];
      return page * batch_stride + (n & (p.page_size - 1)) * row_stride;
    }
    if (kVarlen) return (t.row_k + n) * row_stride;
    return t.b * batch_stride + n * row_stride;
  }
};

}  // namespace layout
}  // namespace attnjit
