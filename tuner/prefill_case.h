// One prefill problem instance on a backend: inputs drawn once (seeded, rounded to the dtype),
// `copies` rotated sets of Q/K/V/O/LSE buffers on the device, and launching a compiled
// candidate on one of them. Every candidate of a tuning run sees the same inputs.
#pragma once

#include <cstdint>
#include <vector>

#include "codegen/kernel_template.h"
#include "runtime/backend.h"
#include "templates/prefill/params.h"
#include "tuner/problem_case.h"

namespace attnjit::tuner {

class PrefillCase final : public ProblemCase {
 public:
  // Throws SpecError for a non-prefill spec or a bad shape, BackendError on device failures.
  PrefillCase(Backend& backend, const ProblemSpec& spec, const RunShape& shape, uint64_t seed,
              int copies);

  const ProblemSpec& spec() const override { return spec_; }
  const RunShape& shape() const override { return shape_; }
  int copies() const override { return static_cast<int>(sets_.size()); }
  // Bytes of Q, K, V, O and LSE in one buffer set (what one call touches).
  size_t bytes_per_set() const { return bytes_per_set(spec_, shape_); }
  static size_t bytes_per_set(const ProblemSpec& spec, const RunShape& shape);

  // The inputs as the kernel sees them (already rounded to the dtype), as doubles.
  std::vector<double> q_host() const override { return widen(q_); }
  std::vector<double> k_host() const override { return widen(k_); }
  std::vector<double> v_host() const override { return widen(v_); }
  ReferenceProblem reference_problem() const override;

  LaunchArgs args(int set) const override;

  // Reads O (as float) and LSE back from a set.
  void read(int set, std::vector<float>& o, std::vector<float>& lse) const override;

  size_t q_elems() const;
  size_t kv_elems() const;
  size_t lse_elems() const;

 private:
  struct Set {
    DeviceBuffer q, k, v, o, lse;
  };
  // Fills O and LSE of a set with NaN bytes, so an element the kernel never writes is caught.
  void poison_outputs(int set) override;
  std::vector<double> widen(const std::vector<float>& x) const { return {x.begin(), x.end()}; }

  ProblemSpec spec_;
  RunShape shape_;
  std::vector<float> q_, k_, v_;   // rounded values
  std::vector<Set> sets_;
  std::vector<PrefillArgs> args_;  // one per set, pointing into its buffers
  // User variants (tuner/prefill_case.cpp): zero-filled aux tensors, the block mask built from
  // the mask and mask_mod, and the host copy of the aux tensors the reference's snippets read.
  DeviceBuffer aux_;
  std::vector<unsigned char> aux_host_;
  UserModParams aux_params_{};
  std::shared_ptr<void> block_mask_;
};

}  // namespace attnjit::tuner
