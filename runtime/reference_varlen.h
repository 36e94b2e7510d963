// The float64 oracle for varlen (packed) batches — and for paged KV, whose pages a caller gathers
// back into each sequence's keys first. Sequence b has seqlens_q[b] queries and seqlens_k[b]
// keys; its masks align its last query with its last key (FlashAttention's varlen convention:
// query i sits at key position i + seqlens_k[b] - seqlens_q[b]).
//
// Layout (FlashAttention's varlen): q and o packed [sum seqlens_q, heads_q, head_dim], k and v
// packed [sum seqlens_k, heads_kv, head_dim], lse [heads_q, sum seqlens_q] (natural log; -inf
// and O = 0 for a row with no visible key).
#pragma once

#include <cstdint>
#include <vector>

#include "codegen/problem_spec.h"

namespace attnjit {

struct VarlenReferenceProblem {
  int64_t heads_q = 1, heads_kv = 1, head_dim = 64;
  MaskSpec mask;
  double scale = 0;    // 0 = 1/sqrt(head_dim)
  double softcap = 0;  // 0 = off
  std::vector<int64_t> seqlens_q, seqlens_k;  // one entry per sequence each

  int64_t total_q() const;
  int64_t total_k() const;
};

// lse may be null. Throws SpecError on inconsistent sizes.
void reference_attention_varlen(const VarlenReferenceProblem& p, const double* q, const double* k,
                                const double* v, double* o, double* lse);

}  // namespace attnjit
