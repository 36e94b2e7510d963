// Launch parameters of the decode kernels (a few query tokens per sequence against a long,
// possibly paged, KV cache; split-KV with an in-kernel combine). One plain struct shared by the
// host, the CUDA template (NVRTC) and the CPU template (clang JIT): no includes, built-in types
// only, so every compiler sees the same layout.
#pragma once

namespace attnjit {

struct DecodeParams {
  const void* q;   // [batch, q_tokens, heads_q, head_dim] (any strides; last dim contiguous)
  // Contiguous cache: [batch, seqlen_k, heads_kv, head_dim].
  // Paged cache (page_size > 0): [num_pages, page_size, heads_kv, head_dim]; key j of sequence b
  // lives in page block_table[b * block_table_stride + j / page_size], row j % page_size.
  const void* k;
  const void* v;
  void* o;         // [batch, q_tokens, heads_q, head_dim], same dtype as q
  float* lse;      // optional (nullptr): natural-log sum-exp of the scaled scores per row

  const int* block_table;  // paged only: [batch, max_pages_per_seq] page indices
  const int* seqlens_k;    // [batch] KV length per sequence; nullptr = every sequence has seqlen_k

  // Split-KV workspace (needed only when num_splits > 1), laid out per
  // (batch, kv head, row chunk) "slot" = (b * heads_kv + kvh) * row_chunks + chunk, with
  // E = num_splits + groups entries per slot (groups = ceil(num_splits / combine_group) for the
  // GPU's two-level combine, else 0) and S = batch * heads_kv * row_chunks slots:
  //   partial_o   [slot][E][rows_per_chunk][head_dim]  normalized partial outputs: split i at
  //               entry i, the combine of group g at entry num_splits + g
  //   partial_lse [slot][E][rows_per_chunk]            their log2 sum-exp (-inf = empty)
  //   counters    [S] then [S][groups]: per slot, the splits (one level) or groups finished so
  //               far, then per group its splits finished; the last arrival combines and resets
  //               its counter to 0, so the counters are zeroed once when the workspace is
  //               allocated, never per call
  float* partial_o;
  float* partial_lse;
  int* counters;

  // Strides in elements (not bytes). For a paged cache k/v_batch_stride is the page stride.
  long long q_batch_stride, q_row_stride, q_head_stride;
  long long k_batch_stride, k_row_stride, k_head_stride;
  long long v_batch_stride, v_row_stride, v_head_stride;
  long long o_batch_stride, o_row_stride, o_head_stride;
  long long lse_batch_stride, lse_head_stride;  // lse[b, h, t] = lse[b*bs + h*hs + t]
  long long block_table_stride;                 // entries between rows of block_table

  int batch;
  int heads_q;
  int heads_kv;        // heads_q = heads_kv * group; query head h reads KV head h / group
  int q_tokens;        // query tokens per sequence (the last q_tokens positions of the sequence)
  // The longest sequence of the call (<= the cache's capacity): the length of every sequence
  // when seqlens_k is null, else the bound each seqlens_k[b] is clamped to, so a bad length
  // can never read past the cache or the block table.
  int seqlen_k;
  int page_size;       // 0 = contiguous
  int num_splits;      // KV splits per sequence (>= 1); grid.x = num_splits * row_chunks
  int row_chunks;      // ceil(group * q_tokens / rows_per_chunk)
  // The GPU's tensor-core kernel: splits per first-level group of the combine (0 = one level:
  // the slot's last split combines all of them). The scalar GPU kernel and the CPU template
  // always combine in one level (0).
  int combine_group;
  float scale;         // softmax scale (usually 1/sqrt(head_dim))
  float scale_log2;    // scale * log2(e): scores go through exp2

  // fp8 KV cache only (kernels built for _kv-e4m3 / _kv-e5m2): the f32 dequantisation scales,
  // K = code * k_scale[kvh * kv_scale_stride] (likewise V); stride 0 = one scale per tensor,
  // 1 = one per KV head. Unused (null) otherwise.
  const float* k_scale;
  const float* v_scale;
  long long kv_scale_stride;
};

// The parameters of kernels built with ALiBi or sinks (templates/decode/variants.h): the same
// block followed by the variant tensors, so kernels without them keep their parameter block.
struct DecodeVariantParams : DecodeParams {
  const float* alibi_slopes;     // ALiBi slope of (b, h) at [b * alibi_batch_stride + h]
  long long alibi_batch_stride;  // 0 = one [heads_q] vector for the whole batch
  const float* sinks;            // attention-sink logit per query head, [heads_q] (natural units)
};

// The parameters of kernels built with a user score_mod / mask_mod (templates/decode/variants.h):
// DecodeVariantParams followed by the snippets' aux tensors. U is UserModParams
// (templates/prefill/params.h, the prefill kernels' own block): a parameter, so this header keeps
// no includes and host and templates spell the layout once, as DecodeModParamsT<UserModParams>.
template <class U>
struct DecodeModParamsT : DecodeVariantParams {
  U user;  // aux tensors only (decode has no block mask)
};

}  // namespace attnjit
