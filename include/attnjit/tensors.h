// The tensors and problems of one call, as applications pass them: views over memory in the
// backend's address space (device pointers on GPUs, host pointers on the CPU backend). Plain data:
// what the launch contract of each kernel template turns into its parameter buffer.
#pragma once

#include <cstdint>
#include <string>

#include "attnjit/problem_spec.h"
#include "attnjit/types.h"
#include "attnjit/user_mods.h"

namespace attnjit {

// A [batch, seq, heads, head_dim] tensor: data pointer plus strides in ELEMENTS for the first
// three dimensions; head_dim is contiguous. BSHD and BHSD layouts (and padded or sliced views
// of them) are all expressible. Inputs may use stride 0 to broadcast; outputs must not overlap.
struct TensorView {
  const void* data = nullptr;
  int64_t batch_stride = 0;
  int64_t seq_stride = 0;
  int64_t head_stride = 0;

  // Dense [batch, seqlen, heads, head_dim] (FlashAttention's layout).
  static TensorView bshd(const void* data, int64_t seqlen, int64_t heads, int64_t head_dim);
  // Dense [batch, heads, seqlen, head_dim] (PyTorch SDPA's layout).
  static TensorView bhsd(const void* data, int64_t seqlen, int64_t heads, int64_t head_dim);
};

// Log-sum-exp output, fp32: lse[b, h, i] at data[b * batch_stride + h * head_stride + i].
struct LseView {
  float* data = nullptr;  // null = not wanted
  int64_t batch_stride = 0;
  int64_t head_stride = 0;

  // Dense [batch, heads, seqlen].
  static LseView dense(float* data, int64_t heads, int64_t seqlen);
};

// The problem of one prefill call (no pointers): what prepare_prefill needs.
struct PrefillProblem {
  DType dtype = DType::BF16;
  int head_dim = 128;
  MaskSpec mask;          // bottom-right aligned (query i sits at key position i + sk - sq)
  int64_t batch = 1;
  int64_t heads_q = 1;
  int64_t heads_kv = 1;   // heads_q % heads_kv == 0 (GQA / MQA)
  int64_t seqlen_q = 1;
  int64_t seqlen_k = 1;
  double scale = 0;       // softmax scale; 0 = 1 / sqrt(head_dim)
  double softcap = 0;     // logit soft-cap c > 0: s -> c * tanh(s / c) on the scaled scores; 0 = off

  // ---- Varlen (packed) batches, as FlashAttention's flash_attn_varlen_func ----
  // q and o hold the `batch` sequences' rows back to back, [total_q, heads, d] (TensorView
  // batch_stride unused); sequence b owns rows [cu_seqlens_q[b], cu_seqlens_q[b+1]). seqlen_q /
  // seqlen_k are then max_seqlen_q / max_seqlen_k (every length is at most that; they pick the
  // key's buckets), and LSE is [heads_q, total_q] (LseView batch_stride unused). With contiguous
  // K/V, k and v are packed the same way by cu_seqlens_k. Masks align per sequence.
  bool varlen = false;
  int64_t total_q = 0;    // varlen: rows of q / o (== cu_seqlens_q[batch])
  int64_t total_k = 0;    // varlen, contiguous K/V: rows of k / v (== cu_seqlens_k[batch])

  // ---- Paged KV cache (prefill against a cache: chunked prefill, prefix caching) ----
  // k and v are pages [num_pages, page_size, heads_kv, d] (TensorView batch_stride = page
  // stride); sequence b's key n lives in page block_table[b][n / page_size], row n % page_size.
  // Sequence b has seqused_k[b] keys (<= seqlen_k): its queries are its newest tokens, so query i
  // of n sits at key position seqused_k[b] - n + i (causal: sees keys <= that).
  int page_size = 0;      // 0 = contiguous K/V; else a power of two in [1, 256]
  int64_t num_pages = 0;  // paged: pages in the cache
  int64_t max_pages = 0;  // paged: block_table columns a sequence may use
  bool alibi = false;     // ALiBi: PrefillArgs::alibi_slopes adds -slope * |i + sk - sq - j| to the scaled scores
  bool sink = false;      // attention sinks: PrefillArgs::sinks (one logit per query head) joins the denominator
  // User variants (attnjit/user_mods.h): snippet texts ("" = none) and the block mask's tile
  // (0 = none; then PrefillArgs::block_mask must be given at that tile).
  std::string score_mod;
  std::string mask_mod;
  int block_sparse = 0;
};

struct PrefillArgs {
  PrefillProblem problem;
  TensorView q, k, v;     // read: q [b, sq, hq, d], k / v [b, sk, hkv, d] (varlen / paged: above)
  TensorView o;           // written: [b, sq, hq, d], same dtype
  LseView lse;            // optional output
  // int32 arrays in the backend's memory. Their values are checked on the CPU backend (on GPUs
  // they are device memory the host does not read).
  const int32_t* cu_seqlens_q = nullptr;  // varlen: [batch + 1], 0, non-decreasing, ends at total_q
  const int32_t* cu_seqlens_k = nullptr;  // varlen with contiguous K/V: [batch + 1], ends at total_k
  const int32_t* seqused_k = nullptr;     // paged: keys per sequence [batch] (cache_seqlens)
  const int32_t* block_table = nullptr;   // paged: [batch, max_pages], row b at b * block_table_stride
  int64_t block_table_stride = 0;
  // Score variants, f32 in the backend's memory; set exactly when the problem asks for them.
  // ALiBi slope of (batch b, query head h): alibi_slopes[b * alibi_batch_stride + h]
  // (stride 0: one [heads_q] vector for the batch, as flash-attn's (nheads,) slopes).
  const float* alibi_slopes = nullptr;
  int64_t alibi_batch_stride = 0;
  const float* sinks = nullptr;  // [heads_q] sink logits (natural units, like the scaled scores)
  AuxTensor aux[kMaxAux];   // read by the snippets as aux<T>(i)
  BlockMaskView block_mask; // with problem.block_sparse
};

// A few query tokens per sequence against a KV cache that is contiguous or paged, with ragged
// lengths. Split-KV ("flash-decoding"): the KV range is cut into splits run in parallel and
// merged exactly inside the same launch; the split workspace is allocated by the Runtime.
//
//   attnjit::DecodeArgs a;
//   a.problem = {.dtype = attnjit::DType::BF16, .head_dim = 128, .batch = 8, .heads_q = 32,
//                .heads_kv = 8, .q_tokens = 1, .max_seqlen_k = 32768, .kv_capacity = 32768,
//                .page_size = 16, .num_pages = 16384};
//   a.q = TensorView::bshd(q, 1, 32, 128);  a.o = TensorView::bshd(o, 1, 32, 128);
//   a.k = a.v = {cache, page_stride, row_stride, head_stride} (pages [num_pages, 16, 8, 128]);
//   a.seqlens_k = lens;  a.block_table = table;  a.block_table_stride = 2048;
//   rt->decode(a, stream);
struct DecodeProblem {
  DType dtype = DType::BF16;
  int head_dim = 128;
  // Bottom-right aligned per sequence: query token t of a sequence with L keys sits at key
  // position L - q_tokens + t (causal: sees keys <= that position).
  MaskSpec mask;
  int64_t batch = 1;
  int64_t heads_q = 1;
  int64_t heads_kv = 1;      // heads_q % heads_kv == 0; one kernel CTA reads a KV head once for its group
  int64_t q_tokens = 1;      // query tokens per sequence, 1..16
  int64_t max_seqlen_k = 0;  // the longest sequence of the call (>= every seqlens_k[b]); picks the bucket and splits
  // Keys one sequence can hold: contiguous cache — its seq extent; paged — max pages per
  // sequence (block_table columns) * page_size.
  int64_t kv_capacity = 0;
  int page_size = 0;         // 0 = contiguous; else a power of two in 1..256
  int64_t num_pages = 0;     // paged: pages in the cache (block_table entries are < num_pages)
  double scale = 0;          // softmax scale; 0 = 1 / sqrt(head_dim)
  double softcap = 0;        // logit soft-cap c > 0: s -> c * tanh(s / c) on the scaled scores; 0 = off
  // K/V storage: the query's dtype, or fp8 (e4m3 / e5m2, one byte per element) with the
  // scales in DecodeArgs, dequantised in the kernel (queries f16 / bf16; f32 on the CPU).
  KvDType kv_dtype = KvDType::Same;
  // Score variants, as for prefill: ALiBi (DecodeArgs::alibi_slopes adds -slope * |L - q_tokens
  // + t - j| to the scaled scores of token t) and attention sinks (DecodeArgs::sinks, one logit
  // per query head, joins the softmax denominator once per row, whatever the KV splits).
  bool alibi = false;
  bool sink = false;
  // User variants (attnjit/user_mods.h), as PrefillProblem's: snippet texts ("" = none), called
  // with q_idx = the query token (0..q_tokens-1), kv_idx = the logical key index (0..L-1, paged
  // caches included), b = the sequence, h = the query head: decode of q_tokens queries against L
  // keys computes what prefill with seqlen_q = q_tokens, seqlen_k = L and the same snippets does.
  std::string score_mod;
  std::string mask_mod;
};

struct DecodeArgs {
  DecodeProblem problem;
  TensorView q;              // read: [batch, q_tokens, heads_q, head_dim]
  // Read. Contiguous: [batch, kv_capacity, heads_kv, head_dim]. Paged: [num_pages, page_size,
  // heads_kv, head_dim] — batch_stride is then the stride between pages.
  TensorView k, v;
  TensorView o;              // written: [batch, q_tokens, heads_q, head_dim], same dtype
  LseView lse;               // optional: [batch, heads_q, q_tokens], natural log
  // KV length per sequence, int32 [batch], in the backend's memory; null = every sequence has
  // max_seqlen_k keys. On the CPU backend the values are checked against max_seqlen_k.
  const int32_t* seqlens_k = nullptr;
  // Paged only: int32 [batch, kv_capacity / page_size] page indices, in the backend's memory;
  // row b starts at block_table + b * block_table_stride. Checked on the CPU backend.
  const int32_t* block_table = nullptr;
  int64_t block_table_stride = 0;
  // fp8 KV cache only: f32 dequantisation scales in the backend's memory, K = code * k_scale
  // (likewise V); one per tensor ([1]), or one per KV head ([heads_kv]) with kv_scale_per_head.
  const float* k_scale = nullptr;
  const float* v_scale = nullptr;
  bool kv_scale_per_head = false;
  // Score variants, f32 in the backend's memory; set exactly when the problem asks for them
  // (PrefillArgs' convention): slope of (b, h) at alibi_slopes[b * alibi_batch_stride + h]
  // (stride 0: one [heads_q] vector), sinks [heads_q] in natural units.
  const float* alibi_slopes = nullptr;
  int64_t alibi_batch_stride = 0;
  const float* sinks = nullptr;
  AuxTensor aux[kMaxAux];  // read by the snippets as aux<T>(i) (PrefillArgs::aux's checks)
};

}  // namespace attnjit
