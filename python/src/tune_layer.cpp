#include "tune_layer.h"

#include "api/db_config_provider.h"
#include "db/database.h"
#include "tuner/backend_factory.h"
#include "tuner/result_store.h"
#include "tuner/tuner.h"

namespace attnjit::python {
namespace {

// Tuner progress -> TuneEvent values.
class EventSink final : public tuner::ProgressSink {
 public:
  EventSink(const std::function<void(const TuneEvent&)>& fn, int index, int count)
      : fn_(fn), index_(index), count_(count) {}
  void begin_problem(const ProblemSpec& spec, int, int, int candidates, int reused) override {
    problem_ = spec.key();
    TuneEvent e = base("problem_started");
    e.total = candidates;
    e.done = reused;
    fn_(e);
  }
  void step(const std::string& phase, const tuner::CandidateResult& r, int done, int total, double best_ms,
            double) override {
    TuneEvent e = base("candidate");
    e.phase = phase;
    e.config = r.config.key();
    e.status = std::string(tuner::to_string(r.status));
    e.done = done;
    e.total = total;
    e.median_ms = r.status == tuner::CandidateStatus::Ok ? r.time.median_ms : 0;
    e.best_ms = best_ms;
    fn_(e);
  }
  void end_problem(const tuner::TuneReport& rep) override {
    TuneEvent e = base("problem_done");
    if (rep.best) {
      e.config = rep.results[*rep.best].config.key();
      e.median_ms = rep.results[*rep.best].time.median_ms;
    }
    fn_(e);
  }
  TuneEvent base(const char* kind) const {
    TuneEvent e;
    e.kind = kind;
    e.problem = problem_;
    e.index = index_;
    e.count = count_;
    return e;
  }

 private:
  const std::function<void(const TuneEvent&)>& fn_;
  int index_, count_;
  std::string problem_;
};

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
  const Target& target = backend->target();
  Database db = Database::open(req.db);
  tuner::DbResultStore store(db, tuner::device_info_for(*backend));
  std::vector<ProblemReport> out;
  const int count = static_cast<int>(problems.size());
  for (int i = 0; i < count; ++i) {
    if (req.should_stop && req.should_stop()) break;
    const ProblemSpec& spec = problems[i];
    EventSink sink(on_event, i + 1, count);
    try {
      const KernelTemplate& tmpl = select_template(spec, target);
      tuner::InProcessExecutor ex(*backend, tmpl, spec, tuner::EvaluatorOptions{}, req.threads);
      out.push_back(report_of(tuner::tune_problem(ex, tmpl, target, spec, opt, &store, &sink, i + 1, count)));
    } catch (const std::exception& e) {  // one problem's failure does not end the run
      ProblemReport p;
      p.problem = spec.key();
      p.error = e.what();
      TuneEvent ev = sink.base("problem_failed");
      ev.problem = p.problem;
      ev.status = p.error;
      on_event(ev);
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
