// One prefill problem instance on a backend: inputs drawn once (seeded, rounded to the dtype),
// `copies` rotated sets of Q/K/V/O/LSE buffers on the device, and launching a compiled
// candidate on one of them. Every candidate of a tuning run sees the same inputs.
// Varlen keys: mixed sequence lengths (workload.h: case_seqlens_q / _k), q / o / lse packed as
// flash-attn's varlen layout, k / v packed by cu_seqlens_k. Paged keys: K/V in pages dealt out in
// shuffled order through a block table. The host view (q_host, read) stays dense and padded
// [b, max, h, d] with the reference's ragged lengths, so the correctness gate is unchanged.
#pragma once

#include <cstdint>
#include <vector>

#include "codegen/kernel_template.h"
#include "runtime/backend.h"
#include "templates/prefill/params.h"
#include "tuner/problem_case.h"
#include "tuner/score_variant_data.h"
#include "tuner/user_mod_data.h"

namespace attnjit::tuner {

class PrefillCase final : public ProblemCase {
 public:
  // Throws SpecError for a non-prefill spec or a bad shape, BackendError on device failures.
  // `reduced`: the correctness gate's case (ragged cache lengths for paged keys).
  PrefillCase(Backend& backend, const ProblemSpec& spec, const RunShape& shape, uint64_t seed,
              int copies, bool reduced = false);

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

  size_t kv_elems() const;
  const std::vector<int64_t>& seqlens_q() const { return seqlens_q_; }
  const std::vector<int64_t>& seqlens_k() const { return seqlens_k_; }

 private:
  struct Set {
    DeviceBuffer q, k, v, o, lse;
  };
  // Fills O and LSE of a set with NaN bytes, so an element the kernel never writes is caught.
  void poison_outputs(int set) override;
  std::vector<double> widen(const std::vector<float>& x) const { return {x.begin(), x.end()}; }

  bool ragged() const { return spec_.varlen || spec_.page_size != 0; }
  // Device rows of q / o and of k / v (packed, paged or dense).
  int64_t dev_q_rows() const;
  int64_t dev_k_rows() const;
  void build_ragged(uint64_t seed);
  std::vector<float> device_kv(const std::vector<float>& dense) const;

  ProblemSpec spec_;
  RunShape shape_;
  std::vector<int64_t> seqlens_q_, seqlens_k_;  // per sequence
  std::vector<int32_t> cu_q_, cu_k_, used_k_, table_;
  int64_t pages_per_seq_ = 0, num_pages_ = 0;
  DeviceBuffer cu_q_buf_, cu_k_buf_, used_k_buf_, table_buf_;
  std::vector<float> q_, k_, v_;   // rounded values
  std::vector<Set> sets_;
  ScoreVariantData variants_;      // ALiBi slopes / sinks, shared by every set
  std::vector<PrefillArgs> args_;  // one per set, pointing into its buffers
  // User variants: the snippets' aux tensors (device and host) and the block mask built from
  // the mask and mask_mod.
  UserModData user_;
  std::shared_ptr<void> block_mask_;
};

}  // namespace attnjit::tuner
