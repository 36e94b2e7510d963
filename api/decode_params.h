// Turning the public DecodeArgs into the kernels' DecodeParams, with every check on the way:
// sizes, heads multiple, query tokens, page size vs capacity, pointers, strides, alignment for
// the platform's vector loads, 32-bit limits; on the CPU platform (host memory) also the
// per-sequence lengths and the block table's page indices.
#pragma once

#include "attnjit/attnjit.h"
#include "templates/decode_params.h"

namespace attnjit {

// Throws SpecError naming the field ("q_tokens", "k.seq_stride", "seqlens_k[3]", ...).
void validate_decode_problem(const DecodeProblem& p);
void validate_decode_args(const DecodeArgs& a, Platform platform);

// The ProblemSpec and RunShape of a (validated, non-empty) problem.
ProblemSpec decode_spec(const DecodeProblem& p);
RunShape decode_shape(const DecodeProblem& p);

// Validates and fills everything but the split fields (num_splits, row_chunks, workspace
// pointers), which depend on the chosen config. scale defaults to 1/sqrt(head_dim).
DecodeParams make_decode_params(const DecodeArgs& a, Platform platform);

}  // namespace attnjit
