// The oracle: attention in float64 on the CPU, straight from the definition. Every kernel test
// and the tuner's correctness gate compare against it.
//
// Layout: q [batch, seqlen_q, heads_q, head_dim], k/v [batch, seqlen_k, heads_kv, head_dim],
// o like q, lse [batch, heads_q, seqlen_q] — all dense. Query head h reads KV head
// h / (heads_q / heads_kv).
// Masks align the LAST query with the LAST key (bottom-right, as FlashAttention >= 2.1): query i
// sits at position p = i + seqlen_k - seqlen_q. causal: key j visible iff j <= p. Sliding window
// (left L, right R): visible iff p - L <= j <= p + R.
// A row with no visible key gets O = 0 and LSE = -inf (log of an empty sum): never NaN.
// LSE is natural log of sum_j exp(s_j), s_j = scale * q·k_j (soft-capped when softcap > 0), plus
// the ALiBi bias -slope * |p - j| when slopes are given; a sink logit, when given, joins the sum
// (exp(sink) + sum_j exp(s_j)) with no value row: an empty row then has O = 0, LSE = sink.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "attnjit/launch.h"
#include "codegen/problem_spec.h"

namespace attnjit {

struct ReferenceProblem {
  int64_t batch = 1, heads_q = 1, heads_kv = 1;
  int64_t seqlen_q = 1, seqlen_k = 1, head_dim = 64;
  MaskSpec mask;
  double scale = 0;  // 0 = 1/sqrt(head_dim)
  double softcap = 0;  // logit soft-cap c > 0: s -> c * tanh(s / c) on the scaled scores; 0 = off
  // Optional ragged KV lengths per batch entry (decode): entry b uses keys [0, seqlens_k[b]) and
  // its queries align to seqlens_k[b]. Empty = every entry has seqlen_k keys.
  std::vector<int64_t> seqlens_k;
  // Optional ragged query lengths (varlen prefill, dense-padded): entry b has queries
  // [0, seqlens_q[b]), aligned to its own key count; rows past them get O = 0, LSE = -inf.
  std::vector<int64_t> seqlens_q;
  // ALiBi slope of (b, h) at alibi_slopes[b * alibi_batch_stride + h]; empty = off.
  std::vector<double> alibi_slopes;
  int64_t alibi_batch_stride = 0;
  std::vector<double> sinks;  // one logit per query head; empty = off
  // User variants as host callbacks (FlexAttention's signatures, raw indices): score_mod maps
  // the scaled, soft-capped score; mask_mod is ANDed with `mask`. Callbacks, not snippet text,
  // keep the oracle free of any compiler: tests pass an independent C++ lambda for the snippet
  // under test (empty = absent).
  std::function<double(double score, int64_t b, int64_t h, int64_t q_idx, int64_t kv_idx)> score_mod;
  std::function<bool(int64_t b, int64_t h, int64_t q_idx, int64_t kv_idx)> mask_mod;
};

// The dense problem at a run shape: its sizes, plus the head dim, mask and soft-cap every caller
// has; ragged lengths, variants and the scale are the caller's to add.
ReferenceProblem reference_problem_at(const RunShape& shape, int64_t head_dim, const MaskSpec& mask,
                                   double softcap = 0);

// o and lse must hold batch*seqlen_q*heads_q*head_dim and batch*heads_q*seqlen_q values;
// lse may be null. Throws SpecError on inconsistent sizes.
void reference_attention(const ReferenceProblem& p, const double* q, const double* k,
                         const double* v, double* o, double* lse);

// Whether key j is visible from query i under `mask` for lengths (sq, sk) — the one definition
// of the mask semantics, shared with tests.
bool mask_allows(const MaskSpec& mask, int64_t i, int64_t j, int64_t sq, int64_t sk);

// The ALiBi bias of query i, key j of (b, h) for lengths (sq, sk): 0 without slopes.
double alibi_bias(const ReferenceProblem& p, int64_t b, int64_t h, int64_t i, int64_t j, int64_t sq, int64_t sk);

}  // namespace attnjit
