#include "tuner/score_variant_data.h"

#include <random>

namespace attnjit::tuner {

ScoreVariantData::ScoreVariantData(Backend& backend, bool alibi, bool sink, int64_t batch, int64_t heads_q,
                                   uint64_t seed) {
  if (!alibi && !sink) return;
  std::mt19937_64 rng(seed ^ 0x5c0e5eedULL);
  if (alibi) {
    std::uniform_real_distribution<float> slope(1.f / 256, 0.5f);
    slope_batch_stride_ = batch > 1 ? heads_q : 0;
    slopes_.resize(static_cast<size_t>(batch > 1 ? batch * heads_q : heads_q));
    for (float& s : slopes_) s = slope(rng);
  }
  if (sink) {
    std::normal_distribution<float> sink(0.f, 2.f);
    sinks_.resize(static_cast<size_t>(heads_q));
    for (float& s : sinks_) s = sink(rng);
  }
  std::vector<float> all(slopes_);
  all.insert(all.end(), sinks_.begin(), sinks_.end());
  device_ = DeviceBuffer(backend, all.size() * sizeof(float));
  backend.copy_to_device(device_.get(), all.data(), all.size() * sizeof(float));
}

// PrefillArgs and DecodeArgs spell the variant fields alike.
template <class Args>
void attach_variants(Args& a, const void* device, const std::vector<float>& slopes, int64_t slope_batch_stride,
                     const std::vector<float>& sinks) {
  const float* base = static_cast<const float*>(device);
  a.problem.alibi = !slopes.empty();
  a.problem.sink = !sinks.empty();
  a.alibi_slopes = slopes.empty() ? nullptr : base;
  a.alibi_batch_stride = slope_batch_stride;
  a.sinks = sinks.empty() ? nullptr : base + slopes.size();
}

void ScoreVariantData::attach(PrefillArgs& a) const {
  attach_variants(a, device_.get(), slopes_, slope_batch_stride_, sinks_);
}
void ScoreVariantData::attach(DecodeArgs& a) const {
  attach_variants(a, device_.get(), slopes_, slope_batch_stride_, sinks_);
}

void ScoreVariantData::attach(ReferenceProblem& rp) const {
  rp.alibi_slopes.assign(slopes_.begin(), slopes_.end());
  rp.alibi_batch_stride = slope_batch_stride_;
  rp.sinks.assign(sinks_.begin(), sinks_.end());
}

}  // namespace attnjit::tuner
