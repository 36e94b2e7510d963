// The varlen (packed) and paged-KV arguments of a prefill call: their checks (SpecError naming
// the field) and their PrefillParams fields. Used by codegen/prefill/arguments.cpp.
#pragma once

#include "attnjit/target.h"
#include "attnjit/tensors.h"
#include "templates/prefill/params.h"

namespace attnjit {

// True when the call computes nothing: no sequence, or no query row in any sequence.
bool prefill_empty(const PrefillProblem& p);

// Sizes of the varlen / paged fields (varlen flag vs totals, page size, pages, block-table width).
void validate_ragged_problem(const PrefillProblem& p);

// Pointers (present exactly when the problem needs them, aligned) and, on the CPU backend, where
// the host can read them, their values: cu_seqlens start at 0, never decrease, end at the total
// and no sequence is longer than its max_seqlen; seqused_k within the cache; block-table pages
// in [0, num_pages).
void validate_ragged_args(const PrefillArgs& a, Platform platform);

// Fills the params' varlen / paged fields (zero for dense calls).
void fill_ragged_params(const PrefillArgs& a, PrefillParams& r);

}  // namespace attnjit
