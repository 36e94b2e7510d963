// Prefill problem builders the tests share: the spec (the tuning key's fields) and the dense
// application problem from the few fields a test varies; every other field keeps its "off"
// default. Arguments in PrefillCase::make's order.
#pragma once

#include <cstdint>

#include "attnjit/problem_spec.h"
#include "attnjit/tensors.h"

namespace attnjit::testing {

// Both lengths in the `seqlen` bucket.
inline ProblemSpec make_prefill_spec(DType dtype, int head_dim, MaskSpec mask, int group, int64_t seqlen,
                                     bool even = false) {
  return {.family = Family::Prefill, .dtype = dtype, .head_dim = head_dim, .mask = mask, .group = group,
          .seqlen_q = seqlen, .seqlen_k = seqlen, .even = even};
}

inline PrefillProblem make_prefill_problem(DType dtype, int head_dim, MaskSpec mask, int64_t seqlen_q,
                                           int64_t seqlen_k, int64_t batch = 1, int64_t heads_q = 1,
                                           int64_t heads_kv = 1) {
  return {.dtype = dtype, .head_dim = head_dim, .mask = mask, .batch = batch, .heads_q = heads_q,
          .heads_kv = heads_kv, .seqlen_q = seqlen_q, .seqlen_k = seqlen_k};
}

}  // namespace attnjit::testing
