// Turning the public PrefillArgs into the kernels' PrefillParams, with every check on the way:
// sizes, heads multiple, pointers, strides (non-negative; outputs non-overlapping), alignment
// for the platform's vector loads, 32-bit limits of the kernel's size fields.
#pragma once

#include <vector>

#include "attnjit/launch.h"
#include "attnjit/target.h"
#include "attnjit/tensors.h"
#include "templates/prefill/params.h"

namespace attnjit {

// Throws SpecError naming the field ("heads_q", "k.seq_stride", "o.data", ...) on bad input.
void validate_prefill_problem(const PrefillProblem& p);
void validate_prefill_args(const PrefillArgs& a, Platform platform);

// Validates and fills. The scale defaults to 1/sqrt(head_dim); scale_log2 = scale * log2(e).
PrefillParams make_prefill_params(const PrefillArgs& a, Platform platform);

// The ProblemSpec and RunShape of a problem (validated).
ProblemSpec prefill_spec(const PrefillProblem& p);
RunShape prefill_shape(const PrefillProblem& p);

// The prefill templates' build_arguments (sm80 and CPU take the same PrefillParams): validates
// args.prefill for the target's platform and returns the parameter buffer.
struct LaunchArgs;
std::vector<unsigned char> prefill_arguments(const LaunchArgs& args, const Target& target);

}  // namespace attnjit
