// The score-variant tensors of a Python call (ALiBi slopes, attention sinks): float32 on the
// runtime's device, shapes checked here (the C++ API sees only pointers), ValueError /
// TypeError naming the argument. The values themselves are the library's to check.
#pragma once

#include <optional>

#include "tensor_arg.h"

namespace attnjit::python {

// The converted arrays of a Python call (None = off), kept alive until the launch.
struct ScoreVariantArgs {
  std::optional<Arg> slopes, sinks;
  ScoreVariantArgs() = default;
  ScoreVariantArgs(nb::handle slopes_obj, nb::handle sinks_obj);
};

// alibi_slopes: float32 [heads_q] or [batch, heads_q]; sinks: float32 [heads_q]; null = off.
// Sets a.problem.alibi / sink and the pointers (same fields for prefill and decode).
void score_variant_args(const Arg* slopes, const Arg* sinks, const Arg& q, int64_t batch, int64_t heads_q,
                        const Placement& where, PrefillArgs& a);
void score_variant_args(const Arg* slopes, const Arg* sinks, const Arg& q, int64_t batch, int64_t heads_q,
                        const Placement& where, DecodeArgs& a);

}  // namespace attnjit::python
