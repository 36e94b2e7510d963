// Launch parameters of the prefill kernels: one plain struct of pointers, strides and sizes,
// shared by the host, the CUDA templates (NVRTC) and the CPU templates (clang JIT).
// No includes and only built-in types, so every compiler sees the same layout.
#pragma once

namespace attnjit {

// User variants (templates/common/variants_user.h): the aux tensors a score_mod / mask_mod
// snippet may read and the block mask of block-sparse kernels; all zero when unused.
enum { kMaxAuxTensors = 4 };

struct UserModParams {
  const void* aux[kMaxAuxTensors];         // read by snippets as aux<T>(i)
  long long aux_size[kMaxAuxTensors];      // elements
  // Block mask (FlexAttention's BlockMask) at bs x bs tiles: for query tile m of (batch b, head
  // h), row r = b * bm_batch_stride + h * bm_head_stride + m; its kv_num_blocks[r] partial key
  // tiles are kv_indices[r * bm_k_tiles + i] (the per-element mask applies), its
  // full_kv_num_blocks[r] fully visible ones full_kv_indices[r * bm_k_tiles + i] (no mask).
  const int* kv_num_blocks;
  const int* kv_indices;
  const int* full_kv_num_blocks;
  const int* full_kv_indices;
  long long bm_batch_stride, bm_head_stride;  // in query-tile rows; 0 broadcasts
  int bm_k_tiles;
  int bm_tile;
};

// The block-mask builder's parameters (templates/prefill/block_mask.h).
struct BlockMaskBuildParams {
  UserModParams user;  // the aux tensors the mask_mod reads
  int* kv_num_blocks;
  int* kv_indices;
  int* full_kv_num_blocks;
  int* full_kv_indices;
  long long batch, heads, q_tiles, k_tiles;  // of the mask (batch / heads 1 = broadcast)
  int tile, seqlen_q, seqlen_k;
};

struct PrefillParams {
  const void* q;   // [batch, seqlen_q, heads_q, head_dim] (any strides; last dim contiguous)
  const void* k;   // [batch, seqlen_k, heads_kv, head_dim]
  const void* v;   // [batch, seqlen_k, heads_kv, head_dim]
  void* o;         // [batch, seqlen_q, heads_q, head_dim], same dtype as q
  float* lse;      // optional (nullptr): natural-log sum-exp of the scaled scores per row

  // Strides in elements (not bytes).
  long long q_batch_stride, q_row_stride, q_head_stride;
  long long k_batch_stride, k_row_stride, k_head_stride;
  long long v_batch_stride, v_row_stride, v_head_stride;
  long long o_batch_stride, o_row_stride, o_head_stride;
  long long lse_batch_stride, lse_head_stride;  // lse[b, h, i] = lse[b*bs + h*hs + i]

  int batch;
  int heads_q;
  int heads_kv;     // heads_q % heads_kv == 0; query head h reads KV head h / (heads_q / heads_kv)
  int seqlen_q;
  int seqlen_k;
  float scale;        // softmax scale (usually 1/sqrt(head_dim))
  float scale_log2;   // scale * log2(e): scores go through exp2

  // Varlen and paged KV (templates/common/layout_varlen.h). Null / 0 = dense batches.
  const int* cu_seqlens_q;  // varlen: [batch + 1] first row of each sequence in q / o / lse
  const int* cu_seqlens_k;  // varlen, contiguous K/V: [batch + 1] first row in k / v
  const int* seqused_k;     // paged: keys per sequence [batch]
  const int* block_table;   // paged: page of key n of sequence b = block_table[b * stride + n / page_size]
  long long block_table_stride;
  int page_size;            // 0 = contiguous K/V; k_batch_stride is the page stride when paged
  int page_shift;           // log2(page_size)
  int total_q;              // varlen: cu_seqlens_q[batch]
  // Score variants, read only by kernels compiled with them (null otherwise):
  const float* alibi_slopes;      // ALiBi slope of (b, h) at [b * alibi_batch_stride + h]
  long long alibi_batch_stride;   // 0 = one [heads_q] vector for the whole batch
  const float* sinks;             // attention-sink logit per query head, [heads_q]
  UserModParams user; // aux tensors and block mask of user variants (zero when unused)
};

}  // namespace attnjit
