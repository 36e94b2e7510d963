// The checks of a prefill call and the PrefillArgs they build, shared by Runtime.prefill_into
// (prefill.cpp, Python arrays) and the torch ops library's attention kernel (ops_table.cpp).
#pragma once

#include <optional>
#include <string_view>

#include "tensor_arg.h"

namespace attnjit::python {

// True for "bhsd", false for "bshd"; ValueError naming `layout` otherwise.
bool parse_layout(std::string_view layout);

// The converted tensors of one call; null pointers are absent optional tensors.
struct PrefillTensors {
  const Arg &q, &k, &v, &out;
  const Arg* lse;
  const Arg* alibi_slopes;
  const Arg* sinks;
};

// Checks shapes, dtypes, strides, devices and aliasing (TypeError / ValueError naming the
// argument) and builds the call's PrefillArgs; user variants (score_mod, aux, block mask) are the
// caller's to add.
PrefillArgs prefill_args(const Placement& where, const PrefillTensors& t, bool causal,
                         std::optional<int64_t> window_left, std::optional<int64_t> window_right, double scale,
                         bool bhsd, double softcap);

// The converted tensors of a varlen and / or paged-KV call (Runtime.prefill_varlen_into).
struct VarlenTensors {
  const Arg &q, &k, &v, &out;
  const Arg* lse;
  const Arg* cu_seqlens_q;   // varlen q: [total_q, heads_q, head_dim]
  const Arg* cu_seqlens_k;   // varlen K/V
  const Arg* cache_seqlens;  // paged K/V, with block_table
  const Arg* block_table;
};

// The checks of such a call (prefill_varlen.cpp) and its PrefillArgs.
PrefillArgs prefill_varlen_args(const Placement& where, const VarlenTensors& t, std::optional<int64_t> max_seqlen_q,
                                std::optional<int64_t> max_seqlen_k, bool causal, std::optional<int64_t> window_left,
                                std::optional<int64_t> window_right, double scale, double softcap);

// Nothing to write (the library has no kernel for an empty problem).
inline bool prefill_is_empty(const PrefillArgs& a) { return a.problem.batch == 0 || a.problem.seqlen_q == 0; }

}  // namespace attnjit::python
