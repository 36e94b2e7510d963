// Turning the public PrefillArgs into the kernels' PrefillParams, with every check on the way:
// sizes, heads multiple, pointers, strides (non-negative; outputs non-overlapping), alignment
// for the platform's vector loads, 32-bit limits of the kernel's size fields.
#pragma once

#include <string>
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

// The CUDA prefill templates' mask policy type (templates/common/sm80_mask.cuh), e.g.
// "attnjit::sm80::MaskSlidingWindow<256, 0>" (windows capped at 2^32: wider ones are equivalent).
std::string prefill_mask_policy(const MaskSpec& m);

// The launch-shape checks the CUDA prefill templates share (grid limits, the spec's group, int
// lengths); throws SpecError naming the field.
void check_prefill_launch_shape(const ProblemSpec& spec, const RunShape& shape);
// The kernel of `spec` reads the score-variant tensors its flags name: args must agree.
std::vector<unsigned char> prefill_arguments(const ProblemSpec& spec, const LaunchArgs& args, const Target& target);

}  // namespace attnjit
