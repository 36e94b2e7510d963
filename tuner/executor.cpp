#include "tuner/executor.h"

#include <mutex>

#include "runtime/thread_pool.h"

namespace attnjit::tuner {

InProcessExecutor::InProcessExecutor(Backend& backend, const KernelTemplate& tmpl,
                                     const ProblemSpec& spec, EvaluatorOptions options,
                                     int compile_threads)
    : eval_(backend, tmpl, spec, options), threads_(compile_threads) {}

std::vector<CandidateResult> InProcessExecutor::compile_all(
    const std::vector<TileConfig>& configs,
    const std::function<void(const CandidateResult&)>& on_done) {
  std::vector<CandidateResult> out(configs.size());
  // Progress callbacks come from the pool threads; serialize them.
  std::mutex mu;
  ThreadPool::shared().for_each(static_cast<int64_t>(configs.size()), threads_, [&](int64_t i) {
    out[i] = eval_.compile(configs[i]);
    if (on_done) {
      std::lock_guard<std::mutex> lock(mu);
      on_done(out[i]);
    }
  });
  return out;
}

CandidateResult InProcessExecutor::evaluate(const TileConfig& cfg, const MeasureOptions& measure) {
  return eval_.evaluate(cfg, measure);
}

}  // namespace attnjit::tuner
