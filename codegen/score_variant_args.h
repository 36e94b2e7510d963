// The run-time tensors of the score variants (ALiBi slopes, attention sinks): checked against
// the problem's flags, with a SpecError naming the argument. One place for every family.
#pragma once

#include <cstdint>

#include "attnjit/types.h"

namespace attnjit {

struct ScoreVariantArgs {
  bool alibi = false, sink = false;  // what the problem (and so the kernel) expects
  const float* alibi_slopes = nullptr;
  int64_t alibi_batch_stride = 0;
  const float* sinks = nullptr;
};

// Each tensor is given exactly when its flag is set; the slope batch stride is 0 or >= heads_q;
// pointers are 4-byte aligned. On the CPU backend (host memory) the values are read too:
// slopes must be finite, sinks not NaN or +inf (-inf = no sink for that head).
void validate_score_variant_args(const ScoreVariantArgs& a, int64_t batch, int64_t heads_q,
                                 Platform platform);

}  // namespace attnjit
