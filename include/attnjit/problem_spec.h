// ProblemSpec: WHAT the application asks for (never how to compute it).
//
// Its canonical key() is at once the compile-cache key, the database key, the file-name stem
// and the URL query form, e.g.
//   prefill_bf16_hd128_causal_g4_q4096_k4096          (lengths in power-of-two buckets)
//   prefill_f16_hd64_sw1024-0_g1_q8192_k8192_even      (sliding window left 1024, right 0)
//   decode_bf16_hd128_none_g8_q1_k32768_p16            (1 query token, paged KV, 16-token pages)
// Grammar (fields in this fixed order, '_' separated, only [A-Za-z0-9_.-]):
//   family _ dtype _ hd<D> _ mask [_sc<C>] [_alibi] [_sink] [_sm<H>] [_mm<H>] [_bs<T>]
//          _ g<G> _ q<Q> _ k<K> [_p<P>] [_kv-<e4m3|e5m2>] [_varlen] [_even]
//   mask := none | causal | sw<left>-<right>
//   sc<C>: logit soft-capping s -> C*tanh(s/C) on the scaled scores (absent = off); C is written
//   as the shortest decimal that reads back to the same double (sc50, sc30.5, sc1e-05).
//   alibi: ALiBi biases from per-head slopes passed at run time (templates/common/variants_alibi.h).
//   sink: one attention-sink logit per query head joins the softmax denominator
//   (templates/common/variants_sink.h). Both for prefill and decode
//   (decode_bf16_hd128_none_alibi_sink_g8_q1_k32768_p16).
//   sm<H> / mm<H>: a user score_mod / mask_mod snippet (codegen/snippet.h), H = the first 16 hex
//   digits of the SHA-256 of its normalised text; the text itself lives in the snippet store /
//   the database's snippets table, found by H. bs<T>: block-sparse (a block mask at T x T
//   tiles, T in 16..128, a power of two). Prefill only.
// Prefill: q and k are length buckets (powers of two >= 16). Decode: q is the exact number of
// query tokens per sequence (1..16), k the KV-length bucket, p the page size (0 = contiguous).
// Prefill: _p<P> (P > 0) is a paged KV cache of P-token pages (prefill against a cache: chunked
// prefill, prefix caching), absent when K/V are contiguous; _varlen is a packed batch of sequences
// of different lengths (q, k: the max_seqlen buckets). Neither combines with _even.
// Decode: p is a power of two in 1..256 (0 = contiguous); _kv-e4m3 / _kv-e5m2: an fp8 KV cache
// (decode only; absent = K and V in the query's dtype).
// "_even" (prefill only): both real lengths are multiples of 128, the largest tile, so every
// tile config divides them and the kernel drops all bounds checks.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "attnjit/types.h"

namespace attnjit {

struct MaskSpec {
  MaskKind kind = MaskKind::None;
  // Sliding window only: a query at (aligned) position i sees keys in [i - left, i + right].
  int64_t window_left = 0;
  int64_t window_right = 0;

  bool operator==(const MaskSpec&) const = default;
};

struct ProblemSpec {
  Family family = Family::Prefill;
  DType dtype = DType::BF16;
  int head_dim = 128;
  MaskSpec mask;
  int group = 1;            // GQA group size = heads_q / heads_kv (1 = MHA)
  int64_t seqlen_q = 16;    // prefill: bucket; decode: exact query tokens per sequence
  int64_t seqlen_k = 16;    // bucket
  int page_size = 0;        // tokens per KV page, 0 = contiguous cache; else a power of two in [1, 256]
  bool even = false;        // prefill only: see header comment
  double softcap = 0;       // logit soft-cap C > 0 (Gemma 2: 50, 30); 0 = off
  bool varlen = false;      // prefill only: packed sequences of different lengths (cu_seqlens)
  bool alibi = false;       // ALiBi: bias -slope_h * |i_aligned - j| on the scaled scores
  bool sink = false;        // attention sinks: a per-head logit in the softmax denominator
  std::string score_mod;    // hash of a user score_mod snippet ("" = none)
  std::string mask_mod;     // hash of a user mask_mod snippet ("" = none)
  int block_sparse = 0;     // block-mask tile size T (0 = no block mask)
  KvDType kv_dtype = KvDType::Same;  // decode only: fp8 K/V (e4m3, e5m2) dequantised in the kernel

  std::string key() const;
  // Parses a key; throws SpecError naming the field and the allowed values.
  static ProblemSpec parse(std::string_view key);
  // Throws SpecError if any field is out of range.
  void validate() const;

  // The spec for a concrete run shape: lengths go to buckets, "even" is derived.
  // Throws SpecError on bad input (head dim, heads_q % heads_kv, negative lengths, ...).
  static ProblemSpec for_shape(Family family, DType dtype, int head_dim, MaskSpec mask,
                               int64_t heads_q, int64_t heads_kv, int64_t seqlen_q,
                               int64_t seqlen_k, int page_size = 0);

  bool operator==(const ProblemSpec&) const = default;
};

// Throws SpecError naming the field for negative windows, or windows on a non-window mask.
// The one check used by ProblemSpec::validate and the API's argument checks.
void validate_mask(const MaskSpec& mask);

// Throws SpecError naming `softcap` unless c is 0 (off) or finite and > 0.
void validate_softcap(double c);

// Throws SpecError naming `field` unless h is a snippet hash: 16 lowercase hex digits.
void validate_snippet_hash(std::string_view field, std::string_view h);
// Throws SpecError naming `block_sparse` unless t is 0 or a power of two in 16..128.
void validate_block_sparse(int t);

// The shortest decimal that reads back to exactly c ("50", "30.5", "1e-05"): the key's spelling.
std::string softcap_string(double c);

// Throws SpecError naming `page_size` unless it is 0 (contiguous) or a power of two in [1, 256].
void validate_page_size(int64_t page_size);

// Smallest power of two >= max(n, 16): the tuning key's length bucket.
int64_t length_bucket(int64_t n);

// The alignment under which a prefill problem counts as "even".
inline constexpr int64_t kEvenAlignment = 128;

// Head dims every backend supports.
inline constexpr int kHeadDims[] = {32, 64, 96, 128, 192, 256};

}  // namespace attnjit
