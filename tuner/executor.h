// Executor: where candidates of one problem are compiled and run. InProcessExecutor calls a
// CandidateEvaluator directly (fast, for CPU backends and tests); WorkerExecutor
// (tuner/worker.h) runs it in a child process so a faulting or hanging kernel takes down only
// the child. The tuner's strategies see only this interface.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tuner/evaluator.h"

namespace attnjit::tuner {

class Executor {
 public:
  virtual ~Executor() = default;
  // Compiles all configs (in parallel where possible); one result per config, same order.
  // `on_done` is called as each finishes (never concurrently), for progress reports.
  virtual std::vector<CandidateResult> compile_all(
      const std::vector<TileConfig>& configs,
      const std::function<void(const CandidateResult&)>& on_done) = 0;
  // Checks (once per config) and times one candidate.
  virtual CandidateResult evaluate(const TileConfig& cfg, const MeasureOptions& measure) = 0;
  // See CandidateEvaluator::baseline_note.
  virtual std::string baseline_note() = 0;
};

class InProcessExecutor final : public Executor {
 public:
  InProcessExecutor(Backend& backend, const KernelTemplate& tmpl, const ProblemSpec& spec,
                    EvaluatorOptions options, int compile_threads);
  std::vector<CandidateResult> compile_all(
      const std::vector<TileConfig>& configs,
      const std::function<void(const CandidateResult&)>& on_done) override;
  CandidateResult evaluate(const TileConfig& cfg, const MeasureOptions& measure) override;
  std::string baseline_note() override { return eval_.baseline_note(); }

 private:
  CandidateEvaluator eval_;
  int threads_;
};

}  // namespace attnjit::tuner
