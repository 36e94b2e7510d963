// `attnjit tune`: offline pre-tuning of problem sets into the tuning database.
//   attnjit tune --preset llm-prefill [--backend gpu] [--db FILE] [--strategy halving]
//                [--budget 40|600s|40,600s] [--shard 3/16] [--jsonl-out shard3.jsonl]
//   attnjit tune --problem prefill_f32_hd64_causal_g1_q128_k128_even --backend cpu
//   attnjit tune --preset cpu-decode --strategy random --budget 8   (decode: GB/s of K+V read)
// Resumable: candidates already in the database for this device, problem and template version
// are not measured again. Progress goes to stderr (a bar on a terminal), the summary table to
// stdout. Exit code 1 when a problem could not be tuned at all (the others are still stored).
//
// `attnjit tune-worker --fd N` is the isolated worker the tuner starts for itself
// (tuner/worker.h); it is not meant to be run by hand.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "codegen/registry.h"
#include "cli/command.h"
#include "db/database.h"
#include "tuner/backend_factory.h"
#include "tuner/presets.h"
#include "tuner/tuner.h"
#include "tuner/worker.h"
#include "tuner/workload.h"

namespace attnjit::cli {
namespace {

struct TuneArgs {
  std::vector<std::string> presets, problems;
  std::string backend = "auto";
  std::string db;
  std::string strategy = "exhaustive";
  std::string budget;
  std::string shard = "0/1";
  std::string isolation = "auto";
  std::string jsonl_out;
  double measure_seconds = 1.0;
  double timeout_s = 120;
  int threads = 0;
  uint64_t seed = 0;
  bool dry_run = false;
  bool list = false;
  bool quiet = false;
};

std::string default_db() {
  const char* e = std::getenv("ATTNJIT_DB");
  return e && *e ? e : "attnjit.db";
}

void list_presets() {
  for (const tuner::Preset& p : tuner::presets())
    std::printf("%-12s %-5s %3zu problems  %s\n", p.name.c_str(), std::string(to_string(p.platform)).c_str(),
                p.problems.size(), p.description.c_str());
}

void run_tune(const TuneArgs& a) {
  if (a.list) {
    list_presets();
    return;
  }
  std::vector<ProblemSpec> problems;
  for (const std::string& p : a.presets) {
    const tuner::Preset& pr = tuner::preset(p);
    problems.insert(problems.end(), pr.problems.begin(), pr.problems.end());
  }
  for (const std::string& k : a.problems) problems.push_back(ProblemSpec::parse(k));
  if (problems.empty()) throw UsageError("tune: give --preset NAME or --problem KEY (see --list-presets)");
  const tuner::Shard shard = tuner::Shard::parse(a.shard);
  problems = tuner::shard_problems(std::move(problems), shard);

  tuner::TuneOptions opt;
  opt.strategy = tuner::parse_strategy(a.strategy);
  if (!a.budget.empty()) opt.budget = tuner::Budget::parse(a.budget);
  if (opt.strategy == tuner::Strategy::Exhaustive && opt.budget.candidates > 0)
    throw UsageError("--budget " + a.budget + ": a candidate budget needs --strategy random or halving "
                     "(exhaustive measures every candidate; a seconds budget is fine)");
  if (a.measure_seconds <= 0) throw UsageError("--measure-seconds: must be > 0");
  opt.measure.max_seconds = a.measure_seconds;
  opt.seed = a.seed;

  if (a.dry_run) {
    // What this shard would tune, without opening a device: for checking a fleet's split.
    for (const ProblemSpec& p : problems) std::printf("%s\n", p.key().c_str());
    return;
  }

  std::unique_ptr<Backend> backend = tuner::make_backend(a.backend);
  const Target& target = backend->target();
  bool isolate = target.platform == Platform::Cuda;
  if (a.isolation == "process") isolate = true;
  else if (a.isolation == "none") isolate = false;
  else if (a.isolation != "auto")
    throw UsageError("--isolation: unknown value '" + a.isolation + "' (allowed: auto, process, none)");
  const std::string exe = tuner::default_worker_exe();
  if (isolate && exe.empty())
    throw UsageError("--isolation process: cannot find the attnjit executable (set ATTNJIT_TUNER_WORKER)");

  Database db = Database::open(a.db.empty() ? default_db() : a.db);
  tuner::DbResultStore store(db, tuner::device_info_for(*backend));
  tuner::ConsoleProgress progress(stderr);
  std::fprintf(stderr, "attnjit tune: %zu problems (shard %d/%d) on %s, strategy %s, isolation %s, db %s\n",
               problems.size(), shard.index, shard.count, backend->describe().c_str(),
               a.strategy.c_str(), isolate ? "process" : "none", db.path().c_str());

  std::vector<tuner::TuneReport> reports;
  int failures = 0;
  for (size_t i = 0; i < problems.size(); ++i) {
    const ProblemSpec& spec = problems[i];
    try {
      const KernelTemplate& tmpl = select_template(spec, target);
      std::unique_ptr<tuner::Executor> ex;
      if (isolate) {
        tuner::WorkerOptions wo;
        wo.exe = exe;
        wo.platform = target.platform;
        wo.compile_threads = a.threads;
        wo.evaluate_timeout_s = std::max(a.timeout_s, 10 * a.measure_seconds);
        ex = std::make_unique<tuner::WorkerExecutor>(spec, wo);
      } else {
        ex = std::make_unique<tuner::InProcessExecutor>(*backend, tmpl, spec, tuner::EvaluatorOptions{}, a.threads);
      }
      reports.push_back(tuner::tune_problem(*ex, tmpl, target, spec, opt, &store,
                                            a.quiet ? nullptr : &progress, static_cast<int>(i + 1),
                                            static_cast<int>(problems.size())));
      if (!reports.back().best) ++failures;
    } catch (const SpecError& e) {
      std::fprintf(stderr, "attnjit tune: %s: skipped: %s\n", spec.key().c_str(), e.what());
      ++failures;
    } catch (const std::runtime_error& e) {
      std::fprintf(stderr, "attnjit tune: %s: failed: %s\n", spec.key().c_str(), e.what());
      ++failures;
    }
  }
  std::cout << tuner::summary_table(reports);
  if (!a.jsonl_out.empty()) {
    std::ofstream out(a.jsonl_out);
    if (!out) throw std::runtime_error("--jsonl-out: cannot open " + a.jsonl_out + " for writing");
    ResultFilter f;
    f.device = store.device().fingerprint();
    const int64_t n = db.export_jsonl(out, f);
    out.close();
    if (!out) throw std::runtime_error("--jsonl-out: writing " + a.jsonl_out + " failed");
    std::fprintf(stderr, "attnjit tune: exported %lld results to %s\n", static_cast<long long>(n),
                 a.jsonl_out.c_str());
  }
  if (failures > 0)
    throw std::runtime_error(std::to_string(failures) + " of " + std::to_string(problems.size()) +
                             " problems could not be tuned (see above)");
}

RegisterCommand reg_tune("tune", [](CLI::App& app) {
  auto a = std::make_shared<TuneArgs>();
  CLI::App* c = app.add_subcommand("tune", "Autotune problems (a preset or keys) into the tuning database");
  c->add_option("--preset", a->presets, "Problem set: llm-prefill, cpu-prefill, cpu-gqa, llm-decode, cpu-decode, smoke");
  c->add_option("--problem", a->problems, "A problem key, e.g. prefill_bf16_hd128_causal_g1_q4096_k4096_even or decode_bf16_hd128_none_g8_q1_k32768_p16");
  c->add_option("--backend", a->backend, "gpu | cpu | auto")->check(CLI::IsMember({"gpu", "cuda", "cpu", "auto"}));
  c->add_option("--db", a->db, "Tuning database file (default $ATTNJIT_DB or attnjit.db)");
  c->add_option("--strategy", a->strategy, "exhaustive | random | halving")
      ->check(CLI::IsMember({"exhaustive", "random", "halving"}));
  c->add_option("--budget", a->budget, "N candidates, Ns seconds, or both: 40,600s");
  c->add_option("--shard", a->shard, "i/N: tune only this shard's share of the problems");
  c->add_option("--isolation", a->isolation, "auto (process on GPUs) | process | none");
  c->add_option("--jsonl-out", a->jsonl_out, "Also export this device's results as JSON Lines");
  c->add_option("--measure-seconds", a->measure_seconds, "Time cap for one candidate's measurement");
  c->add_option("--timeout", a->timeout_s, "Seconds before a silent worker is killed");
  c->add_option("--threads", a->threads, "Compile threads (0 = all cores)");
  c->add_option("--seed", a->seed, "Mixes into the random / halving sample");
  c->add_flag("--dry-run", a->dry_run, "Print this shard's problem keys and exit");
  c->add_flag("--list-presets", a->list, "List the presets and exit");
  c->add_flag("--quiet", a->quiet, "No progress output");
  c->callback([a] {
    run_tune(*a);
  });
});

RegisterCommand reg_worker("tune-worker", [](CLI::App& app) {
  auto fd = std::make_shared<int>(-1);
  CLI::App* c = app.add_subcommand("tune-worker", "");  // empty description: hidden from help
  c->group("");
  c->add_option("--fd", *fd, "Socket to serve the tuner on")->required();
  c->callback([fd] {
    const int rc = tuner::run_tune_worker(*fd);
    std::fflush(nullptr);
    std::_Exit(rc);  // skip static destructors: a JIT'd or faulted state need not unwind
  });
});

}  // namespace
}  // namespace attnjit::cli
