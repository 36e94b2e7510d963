// CandidateEvaluator: everything the tuner does to ONE problem on ONE backend, candidate by
// candidate — compile (thread-safe, so a pool can call it), prune on the compiler's resource
// report, check the output against the reference, time it. It runs in the tuner's own process
// or inside an isolated worker process (tuner/worker.h); the logic is the same.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "codegen/kernel_template.h"
#include "runtime/backend.h"
#include "tuner/candidate.h"
#include "tuner/correctness.h"
#include "tuner/measurement.h"
#include "tuner/problem_case.h"

namespace attnjit::tuner {

struct EvaluatorOptions {
  uint64_t seed = 0x5eed'a77e'0000'0001ULL;  // inputs: the same for every candidate
  std::optional<RunShape> shape;             // tuning shape; default tuning_shape(spec, platform)
  bool check_tuning_shape = true;            // check 2 of tuner/correctness.h
  // Rotated input sets: enough to hold 2x the last-level cache, at most this many bytes / sets.
  size_t rotation_max_bytes = size_t(1) << 30;
  int rotation_max_sets = 16;
  int64_t llc_bytes = 0;                     // 0 = detect (CPU: sysfs; GPU: per-arch L2 table)
};

// Last-level cache of the machine a target describes (bytes): CPU from sysfs, GPU from the L2
// sizes of the archs' flagship parts (sm_80 40 MiB, sm_86 6 MiB, sm_89 72 MiB, sm_90a 50 MiB).
int64_t last_level_cache_bytes(const Target& t);

class CandidateEvaluator {
 public:
  // Throws SpecError if the template does not support the problem. Prefill and decode problems:
  // the metric is TFLOP/s for prefill, GB/s of K+V read for decode.
  CandidateEvaluator(Backend& backend, const KernelTemplate& tmpl, ProblemSpec spec,
                     EvaluatorOptions options = {});
  ~CandidateEvaluator();

  const ProblemSpec& spec() const { return spec_; }
  const RunShape& shape() const { return shape_; }
  const KernelTemplate& kernel_template() const { return tmpl_; }

  // Checks can_implement, compiles (or takes from the backend's caches), prunes on resources.
  // Status: Ok (compiled, kept), CompileError or Pruned. Thread-safe.
  CandidateResult compile(const TileConfig& cfg);

  // Compile (if needed), check (once per config), then time with `measure`.
  // Never throws for a candidate's own failure: that is the returned status.
  CandidateResult evaluate(const TileConfig& cfg, const MeasureOptions& measure,
                           const Clock& clock = steady_clock_seconds());

  // How the tuning-shape check went: "" when the default config was verified and is the
  // baseline, else why candidates are checked on the reduced problem only.
  const std::string& baseline_note() const { return baseline_note_; }
  int rotation_sets() const;

 private:
  struct Compiled {
    std::shared_ptr<const CompiledKernel> kernel;
    CandidateResult result;
  };
  Compiled compile_impl(const TileConfig& cfg);
  void ensure_cases();
  CheckOutcome check(const CompiledKernel& kernel, const TileConfig& cfg);
  CheckOutcome run_and_compare(ProblemCase& c, const CompiledKernel& k, const TileConfig& cfg,
                               const Expected& want);

  Backend& backend_;
  const KernelTemplate& tmpl_;
  ProblemSpec spec_;
  EvaluatorOptions opt_;
  RunShape shape_;
  double work_ = 0;  // per call: FLOPs (prefill) or K+V bytes (decode)

  std::mutex mu_;  // guards kernels_
  std::map<std::string, Compiled> kernels_;

  std::unique_ptr<ProblemCase> reduced_, tuning_;
  Expected reduced_expected_;
  std::optional<Expected> baseline_;
  std::string baseline_note_;
  std::map<std::string, CheckOutcome> verified_;
};

}  // namespace attnjit::tuner
