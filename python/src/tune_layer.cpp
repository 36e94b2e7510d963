#include "tune_layer.h"

#include "api/db_config_provider.h"
#include "db/database.h"
#include "tuner/backend_factory.h"
#include "tuner/result_store.h"
#include "tuner/campaign.h"
#include "tuner/tuner.h"

#include <algorithm>
#include <optional>

#include "codegen/registry.h"

namespace attnjit::python {
namespace {

// Campaign events -> TuneEvent values (the Python side's progress bar and logging).
std::optional<TuneEvent> to_tune_event(const tuner::CampaignEvent& c) {
  TuneEvent e;
  e.problem = c.problem;
  e.index = c.problem_index;
  e.count = 0;
  switch (c.kind) {
    case tuner::EventKind::ProblemStarted:
      e.kind = "problem_started";
      e.total = c.candidates;
      e.done = c.reused;
      return e;
    case tuner::EventKind::CandidateCompiled:
    case tuner::EventKind::CandidatePruned:
    case tuner::EventKind::CandidateVerified:
    case tuner::EventKind::CandidateTimed:
    case tuner::EventKind::CandidateFailed:
      e.kind = "candidate";
      e.phase = c.phase.empty() ? std::string(tuner::to_string(c.kind)) : c.phase;
      e.config = c.config;
      e.status = c.status;
      e.done = c.done;
      e.total = c.total;
      e.median_ms = c.kind == tuner::EventKind::CandidateTimed ? c.median_ms : 0;
      e.best_ms = c.best_ms;
      return e;
    case tuner::EventKind::ProblemDone:
      e.kind = c.error.empty() ? "problem_done" : "problem_failed";
      e.config = c.best_config;
      e.median_ms = c.best_median_ms;
      e.status = c.error;
      return e;
    default:
      return std::nullopt;
  }
}

ProblemReport report_of(const tuner::TuneReport& r) {
  ProblemReport p;
  p.problem = r.spec.key();
  p.template_name = r.template_name;
  p.default_config = r.default_config.key();
  p.seconds = r.seconds;
  p.speedup = r.speedup();
  for (const tuner::CandidateResult& c : r.results) {
    CandidateRow row{c.config.key(), std::string(tuner::to_string(c.status)), c.reason, 0, 0, c.tflops, c.gbps,
                     c.from_db};
    if (c.status == tuner::CandidateStatus::Ok) {
      row.median_ms = c.time.median_ms;
      row.iqr_ms = c.time.iqr_ms;
    }
    p.candidates.push_back(std::move(row));
  }
  if (r.best) {
    p.best = r.results[*r.best].config.key();
    p.best_ms = r.results[*r.best].time.median_ms;
  }
  if (r.default_index && r.results[*r.default_index].status == tuner::CandidateStatus::Ok)
    p.default_ms = r.results[*r.default_index].time.median_ms;
  return p;
}

}  // namespace

std::vector<ProblemReport> tune(const TuneRequest& req, const std::function<void(const TuneEvent&)>& on_event) {
  // Everything the caller typed is checked before a backend is opened.
  std::vector<ProblemSpec> problems;
  for (const std::string& k : req.problems) problems.push_back(ProblemSpec::parse(k));
  tuner::TuneOptions opt;
  opt.strategy = tuner::parse_strategy(req.strategy);
  if (!req.budget.empty()) opt.budget = tuner::Budget::parse(req.budget);
  if (opt.strategy == tuner::Strategy::Exhaustive && opt.budget.candidates > 0)
    throw SpecError("budget: a candidate budget needs strategy 'random' or 'halving' (exhaustive measures "
                    "every candidate; a seconds budget is fine)");
  if (!(req.measure_seconds > 0)) throw SpecError("measure_seconds: must be > 0");
  opt.measure.max_seconds = req.measure_seconds;
  opt.seed = req.seed;
  opt.should_stop = req.should_stop;

  std::unique_ptr<Backend> backend = tuner::make_backend(req.backend);
  Database db = Database::open(req.db);
  tuner::DbResultStore store(db, tuner::device_info_for(*backend));
  tuner::CampaignOptions co;
  co.problems = problems;
  co.tune = opt;
  co.compile_threads = req.threads;
  const int count = static_cast<int>(problems.size());
  const tuner::CampaignReport rep = tuner::run_campaign(*backend, co, &store, [&](const tuner::CampaignEvent& c) {
    if (auto e = to_tune_event(c)) {
      e->count = count;
      on_event(*e);
    }
  });
  // One report per problem, in the caller's order; a problem the campaign could not tune
  // carries its error.
  std::vector<ProblemReport> out;
  for (const ProblemSpec& spec : problems) {
    auto it = std::find_if(rep.reports.begin(), rep.reports.end(),
                           [&](const tuner::TuneReport& r) { return r.spec == spec; });
    if (it != rep.reports.end()) {
      out.push_back(report_of(*it));
    } else if (!(req.should_stop && req.should_stop())) {
      ProblemReport p;
      p.problem = spec.key();
      p.error = "not tuned (see the problem_failed event)";
      out.push_back(std::move(p));
    }
  }
  return out;
}

std::shared_ptr<ConfigProvider> make_db_provider(const std::string& db, const Backend& backend) {
  return std::make_shared<DbConfigProvider>(db, tuner::device_info_for(backend));
}

BestAnswer best(const std::string& problem_key, const std::string& db, Backend& backend) {
  const ProblemSpec spec = ProblemSpec::parse(problem_key);
  const Target& target = backend.target();
  const KernelTemplate& tmpl = select_template(spec, target);
  DbConfigProvider provider(db, tuner::device_info_for(backend));
  const ConfigChoice c = provider.choose(tmpl, spec, target);
  BestAnswer a{spec.key(), c.config.key(), c.source, {}, {}};
  if (const auto l = provider.last_lookup(a.problem)) {
    a.explanation = l->explanation;
    if (l->entry) a.median_ms = l->entry->median_ms;
  }
  return a;
}

}  // namespace attnjit::python
