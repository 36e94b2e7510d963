#include "tuner/campaign.h"

#include "codegen/registry.h"

#include <chrono>

#include "db/db_error.h"
#include "tuner/clock.h"

namespace attnjit::tuner {

CampaignReport run_campaign(Backend& backend, const CampaignOptions& options, ResultStore* store,
                            const EventSink& events) {
  const double t0 = now_s();
  EventSink sink;
  if (events)
    sink = [&](const CampaignEvent& e) {
      CampaignEvent s = e;
      s.t_s = now_s() - t0;
      events(s);
    };
  const Target& target = backend.target();
  const int n = static_cast<int>(options.problems.size());
  CampaignReport out;
  out.problems = n;
  if (sink) {
    CampaignEvent e;
    e.kind = EventKind::CampaignStarted;
    e.problem_count = n;
    e.device = backend.describe();
    e.strategy = std::string(to_string(options.tune.strategy));
    e.isolation = options.isolate ? "process" : "none";
    sink(e);
  }
  for (int i = 0; i < n; ++i) {
    const ProblemSpec& spec = options.problems[static_cast<size_t>(i)];
    std::string error;
    try {
      const KernelTemplate& tmpl = select_template(spec, target);
      std::unique_ptr<Executor> ex;
      if (options.isolate) {
        WorkerOptions wo = options.worker;
        wo.platform = target.platform;
        wo.compile_threads = options.compile_threads;
        ex = std::make_unique<WorkerExecutor>(spec, wo);
      } else {
        ex = std::make_unique<InProcessExecutor>(backend, tmpl, spec, EvaluatorOptions{},
                                                 options.compile_threads);
      }
      out.reports.push_back(tune_problem(*ex, tmpl, target, spec, options.tune, store, sink, i + 1, n));
      if (!out.reports.back().best) ++out.failed;
      continue;
    } catch (const SpecError& e) {
      error = std::string("skipped: ") + e.what();
    } catch (const DbError&) {
      throw;  // the store failed: nothing after this would be recorded either
    } catch (const std::runtime_error& e) {
      error = std::string("failed: ") + e.what();
    }
    ++out.failed;
    if (sink) {
      CampaignEvent e;
      e.kind = EventKind::ProblemDone;
      e.problem = spec.key();
      e.problem_index = i + 1;
      e.problem_count = n;
      e.error = error;
      sink(e);
    }
  }
  out.seconds = now_s() - t0;
  if (sink) {
    CampaignEvent e;
    e.kind = EventKind::CampaignFinished;
    e.problem_count = n;
    e.problems_tuned = n - out.failed;
    e.problems_failed = out.failed;
    e.seconds = out.seconds;
    sink(e);
  }
  return out;
}

}  // namespace attnjit::tuner
