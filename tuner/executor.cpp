#include "tuner/executor.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

namespace attnjit::tuner {

void parallel_for(size_t n, int threads, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  size_t t = std::min<size_t>(n, threads > 0 ? static_cast<size_t>(threads) : hw);
  std::atomic<size_t> next{0};
  std::exception_ptr first;
  std::mutex mu;
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;) {
      try {
        fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!first) first = std::current_exception();
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t k = 1; k < t; ++k) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
  if (first) std::rethrow_exception(first);
}

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
  parallel_for(configs.size(), threads_, [&](size_t i) {
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
