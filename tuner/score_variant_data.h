// The run-time tensors of a problem's score variants (ALiBi slopes, attention sinks), drawn at
// random for tuning cases and benchmarks, uploaded once and attached to every launch and to the
// float64 reference. Empty when the spec has neither.
#pragma once

#include <cstdint>
#include <vector>

#include "attnjit/tensors.h"
#include "runtime/backend.h"
#include "runtime/reference_attention.h"

namespace attnjit::tuner {

class ScoreVariantData {
 public:
  ScoreVariantData() = default;
  // Slopes uniform in [1/256, 1/2] (ALiBi's geometric slopes for 8..64 heads lie there), per
  // (batch, head) when batch > 1 so the batch stride is exercised; sinks N(0, 2) per head.
  ScoreVariantData(Backend& backend, bool alibi, bool sink, int64_t batch, int64_t heads_q, uint64_t seed);

  void attach(PrefillArgs& a) const;
  void attach(DecodeArgs& a) const;
  void attach(ReferenceProblem& rp) const;

 private:
  std::vector<float> slopes_, sinks_;
  int64_t slope_batch_stride_ = 0;
  DeviceBuffer device_;  // slopes, then sinks
};

}  // namespace attnjit::tuner
