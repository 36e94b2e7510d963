// One decode problem instance on a backend: queries and a K/V cache drawn once (seeded, rounded
// to the dtype), `copies` rotated sets of every buffer the kernel reads or writes, per-sequence
// lengths, for a paged key a block table, and the split-KV workspace (shared by the sets: calls
// run one after another, and the kernel leaves its counters at 0).
//
// Paged caches deal the pages out in a shuffled order, as a serving allocator leaves them, so
// a kernel that ignores the block table or mis-indexes a page reads the wrong keys and fails
// the correctness gate. Ragged lengths (the reduced problem) put sequences of different lengths
// in one call, so the per-sequence bounds, empty splits and the partial last page run.
#pragma once

#include <cstdint>
#include <vector>

#include "codegen/kernel_template.h"
#include "runtime/backend.h"
#include "tuner/problem_case.h"
#include "tuner/score_variant_data.h"
#include "tuner/user_mod_data.h"

namespace attnjit::tuner {

class DecodeCase final : public ProblemCase {
 public:
  // `seqlens`: KV length per sequence (each in 0..shape.seqlen_k); empty = all shape.seqlen_k.
  // `keep_host`: keep the host copies for q/k/v_host() (the reduced problem); the tuning shape
  // of a long GPU key drops them (gigabytes) once uploaded, and its q/k/v_host() are then empty.
  // Throws SpecError for a non-decode spec or a bad shape, BackendError on device failures.
  DecodeCase(Backend& backend, const ProblemSpec& spec, const RunShape& shape,
             std::vector<int64_t> seqlens, uint64_t seed, int copies, bool keep_host = true);

  const ProblemSpec& spec() const override { return spec_; }
  const RunShape& shape() const override { return shape_; }
  int copies() const override { return static_cast<int>(sets_.size()); }
  const std::vector<int64_t>& seqlens() const { return seqlens_; }
  // Bytes of Q, K, V (the whole cache), O and LSE in one set.
  static size_t bytes_per_set(const ProblemSpec& spec, const RunShape& shape);

  ReferenceProblem reference_problem() const override;
  std::vector<double> q_host() const override { return {q_.begin(), q_.end()}; }
  // Dense [batch, seqlen_k, heads_kv, head_dim], whatever the device layout.
  std::vector<double> k_host() const override { return {k_.begin(), k_.end()}; }
  std::vector<double> v_host() const override { return {v_.begin(), v_.end()}; }

  // Dense Q/O, the (paged) K/V cache, per-sequence lengths and the block table of a set.
  LaunchArgs args(int set) const override;
  void read(int set, std::vector<float>& o, std::vector<float>& lse) const override;

  int64_t pages_per_seq() const;  // paged: ceil(seqlen_k / page_size)

 private:
  struct Set {
    DeviceBuffer q, k, v, o, lse, seqlens, table, kv_scales;  // kv_scales: fp8 caches, [K, V]
  };
  // NaN bytes into O and LSE.
  void poison_outputs(int set) override;

  ProblemSpec spec_;
  RunShape shape_;
  std::vector<int64_t> seqlens_;
  std::vector<float> q_, k_, v_;  // rounded values; k_/v_ dense
  std::vector<Set> sets_;
  std::vector<DecodeArgs> args_;  // one per set, pointing into its buffers
  ScoreVariantData variants_;     // ALiBi slopes / sinks, shared by every set
  UserModData user_;              // the snippets' aux tensors (zeros), shared by every set
};

}  // namespace attnjit::tuner
