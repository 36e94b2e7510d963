// Run-time sizes and launch geometry: plain data shared by the launch contract of every kernel
// template, the runtime, the tuner and the service (which hands geometry out with a kernel).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace attnjit {

// The run-time sizes of one call (the ProblemSpec holds only buckets). Its key() names a
// benchmark or tuning shape, e.g. "b2_hq32_hkv8_sq4096_sk4096".
struct RunShape {
  int64_t batch = 1;
  int64_t heads_q = 1;
  int64_t heads_kv = 1;
  int64_t seqlen_q = 1;   // prefill: max query length; decode: query tokens per sequence
  int64_t seqlen_k = 1;   // prefill: max key length; decode: max KV length in the batch
  int64_t total_q = 0;    // varlen prefill: query rows of all sequences; 0 = dense batch (key _tq<N>)

  std::string key() const;
  // Parses a key; throws SpecError naming the field.
  static RunShape parse(std::string_view key);
  bool operator==(const RunShape&) const = default;
};

struct LaunchGeometry {
  unsigned grid[3] = {1, 1, 1};
  unsigned block[3] = {1, 1, 1};
  unsigned dynamic_smem = 0;   // bytes

  bool operator==(const LaunchGeometry&) const = default;
};

}  // namespace attnjit
