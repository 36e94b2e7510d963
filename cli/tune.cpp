// `attnjit tune`: offline pre-tuning of problem sets into the tuning database.
//   attnjit tune --preset llm-prefill [--backend gpu] [--db FILE] [--strategy halving]
//                [--budget 40|600s|40,600s] [--shard 3/16] [--jsonl-out shard3.jsonl]
//   attnjit tune --problem prefill_f32_hd64_causal_g1_q128_k128_even --backend cpu
//   attnjit tune --preset cpu-decode --budget 8        (a budget alone picks halving)
//   attnjit tune --preset smoke --json                 (events as JSON lines on stdout)
// Resumable: candidates already in the database for this device, problem and template version
// are not measured again. The campaign (tuner/campaign.h) emits events; this command renders
// them: progress bars on a terminal / plain lines otherwise on stderr and the summary table on
// stdout, or with --json one event per line on stdout (what the service's jobs read).
// Exit code 1 when a problem could not be tuned at all (the others are still stored).
//
// `attnjit tune-worker --fd N` is the isolated worker the tuner starts for itself
// (tuner/worker.h); it is not meant to be run by hand.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include <cmath>
#include <mutex>
#include <optional>

#include "codegen/registry.h"
#include "cli/command.h"
#include "cli/snippet_args.h"
#include "cli/kv_dtype_option.h"
#include "cli/tune_progress.h"
#include "codegen/snippet.h"
#include "db/database.h"
#include "tuner/backend_factory.h"
#include "tuner/campaign.h"
#include "tuner/presets.h"
#include "tuner/tuner.h"
#include "tuner/worker.h"
#include "tuner/workload.h"

namespace attnjit::cli {
namespace {

struct TuneArgs {
  std::vector<std::string> presets, problems;
  SnippetFiles snippets;  // applied to every --problem
  std::string kv_dtype;  // --kv-dtype: applied to every problem
  std::string backend = "auto";
  std::string db;
  std::string strategy;  // "" = chosen from the budget (tuner::choose_strategy)
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
  bool json = false;
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

// Bad numbers are usage errors naming the option (exit 2), never a run with a nonsense setting:
// NaN compares false with everything, so "<= 0" alone would let it through.
void check_args(const TuneArgs& a) {
  if (!std::isfinite(a.measure_seconds) || a.measure_seconds <= 0)
    throw UsageError("--measure-seconds: must be a finite number > 0");
  if (!std::isfinite(a.timeout_s) || a.timeout_s <= 0)
    throw UsageError("--timeout: must be a finite number of seconds > 0");
  if (a.threads < 0) throw UsageError("--threads: must be >= 0 (0 = all cores)");
}

void run_tune(TuneArgs a) {
  if (a.list) {
    list_presets();
    return;
  }
  check_args(a);
  std::vector<ProblemSpec> problems;
  for (const std::string& p : a.presets) {
    const tuner::Preset& pr = tuner::preset(p);
    problems.insert(problems.end(), pr.problems.begin(), pr.problems.end());
  }
  read_snippet_files(a.snippets);
  for (const std::string& k : a.problems) problems.push_back(apply_snippets(ProblemSpec::parse(k), a.snippets));
  // A key naming a snippet needs its text: from --score-mod / --mask-mod or the database.
  std::optional<Database> snippet_db;
  for (const ProblemSpec& p : problems)
    for (const std::string* h : {&p.score_mod, &p.mask_mod})
      if (!h->empty() && !find_snippet(*h)) {
        if (!snippet_db) snippet_db.emplace(Database::open(a.db.empty() ? default_db() : a.db));
        if (!snippet_db->get_snippet(*h))
          throw UsageError("--problem " + p.key() + ": snippet " + *h +
                           " is neither given (--score-mod / --mask-mod FILE) nor in the database");
      }
  snippet_db.reset();
  if (problems.empty()) throw UsageError("tune: give --preset NAME or --problem KEY (see --list-presets)");
  for (ProblemSpec& p : problems) p = with_kv_dtype(p, a.kv_dtype);
  const tuner::Shard shard = tuner::Shard::parse(a.shard);
  problems = tuner::shard_problems(std::move(problems), shard);

  tuner::CampaignOptions co;
  co.problems = std::move(problems);
  tuner::TuneOptions& opt = co.tune;
  if (!a.budget.empty()) opt.budget = tuner::Budget::parse(a.budget);
  try {
    opt.strategy = tuner::choose_strategy(
        a.strategy.empty() ? std::nullopt : std::optional(tuner::parse_strategy(a.strategy)), opt.budget);
  } catch (const SpecError& e) {
    throw UsageError("--budget " + a.budget + ": " + e.what());
  }
  opt.measure.max_seconds = a.measure_seconds;
  opt.seed = a.seed;

  if (a.dry_run) {
    // What this shard would tune, without opening a device: for checking a fleet's split.
    for (const ProblemSpec& p : co.problems) std::printf("%s\n", p.key().c_str());
    return;
  }

  std::unique_ptr<Backend> backend = tuner::make_backend(a.backend);
  const Target& target = backend->target();
  co.isolate = target.platform == Platform::Cuda;
  if (a.isolation == "process") co.isolate = true;
  else if (a.isolation == "none") co.isolate = false;
  else if (a.isolation != "auto")
    throw UsageError("--isolation: unknown value '" + a.isolation + "' (allowed: auto, process, none)");
  co.worker.exe = tuner::default_worker_exe();
  if (co.isolate && co.worker.exe.empty())
    throw UsageError("--isolation process: cannot find the attnjit executable (set ATTNJIT_TUNER_WORKER)");
  co.worker.evaluate_timeout_s = std::max(a.timeout_s, 10 * a.measure_seconds);
  co.compile_threads = a.threads;

  Database db = Database::open(a.db.empty() ? default_db() : a.db);
  tuner::DbResultStore store(db, tuner::device_info_for(*backend));
  // The snippets the keys name go into the database with their results (exports carry them).
  for (const ProblemSpec& p : co.problems)
    for (const std::string* h : {&p.score_mod, &p.mask_mod})
      if (!h->empty()) db.put_snippet(snippet_text("snippet", *h));

  // --json: every event as one line on stdout, flushed at once (a reader follows it live).
  // Otherwise bars / lines on stderr. Events come from one thread at a time, but the sink is
  // cheap to guard.
  ConsoleProgress console(stderr);
  std::mutex mu;
  tuner::EventSink sink;
  if (a.json) {
    sink = [&](const tuner::CampaignEvent& e) {
      std::lock_guard<std::mutex> lock(mu);
      const std::string line = tuner::to_json(e).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      std::fwrite(line.data(), 1, line.size(), stdout);
      std::fputc('\n', stdout);
      std::fflush(stdout);
    };
  } else if (!a.quiet) {
    sink = [&](const tuner::CampaignEvent& e) {
      std::lock_guard<std::mutex> lock(mu);
      console(e);
    };
  }
  if (!a.json && !a.quiet)
    std::fprintf(stderr, "attnjit tune: shard %d/%d, db %s\n", shard.index, shard.count, db.path().c_str());

  const tuner::CampaignReport rep = tuner::run_campaign(*backend, co, &store, sink);
  if (!a.json) std::cout << summary_table(rep.reports);
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
  if (rep.failed > 0)
    throw std::runtime_error(std::to_string(rep.failed) + " of " + std::to_string(rep.problems) +
                             " problems could not be tuned (see above)");
}

RegisterCommand reg_tune("tune", [](CLI::App& app) {
  auto a = std::make_shared<TuneArgs>();
  CLI::App* c = app.add_subcommand("tune", "Autotune problems (a preset or keys) into the tuning database");
  c->add_option("--preset", a->presets, "Problem set: llm-prefill, cpu-prefill, cpu-gqa, llm-decode, cpu-decode, smoke");
  c->add_option("--problem", a->problems, "A problem key, e.g. prefill_bf16_hd128_causal_g1_q4096_k4096_even or decode_bf16_hd128_none_g8_q1_k32768_p16");
  c->add_option("--kv-dtype", a->kv_dtype, "decode: K/V storage same | e4m3 | e5m2 for every problem");
  c->add_option("--backend", a->backend, "gpu | cpu | auto")->check(CLI::IsMember({"gpu", "cuda", "cpu", "auto"}));
  c->add_option("--db", a->db, "Tuning database file (default $ATTNJIT_DB or attnjit.db)");
  c->add_option("--strategy", a->strategy,
                 "exhaustive | random | halving (default: halving with a candidate --budget, else exhaustive)")
      ->check(CLI::IsMember({"exhaustive", "random", "halving"}));
  c->add_option("--budget", a->budget, "N candidates, Ns seconds, or both: 40,600s");
  c->add_option("--shard", a->shard, "i/N: tune only this shard's share of the problems");
  c->add_option("--isolation", a->isolation, "auto (process on GPUs) | process | none");
  c->add_option("--jsonl-out", a->jsonl_out, "Also export this device's results as JSON Lines");
  c->add_option("--measure-seconds", a->measure_seconds, "Time cap for one candidate's measurement");
  c->add_option("--timeout", a->timeout_s, "Seconds before a silent worker is killed");
  c->add_option("--threads", a->threads, "Compile threads (0 = all cores)");
  c->add_option("--seed", a->seed, "Mixes into the random / halving sample");
  add_snippet_options(c, &a->snippets);
  c->add_flag("--dry-run", a->dry_run, "Print this shard's problem keys and exit");
  c->add_flag("--list-presets", a->list, "List the presets and exit");
  c->add_flag("--quiet", a->quiet, "No progress output");
  c->add_flag("--json", a->json, "Print the campaign's events as JSON lines on stdout (no table, no bars)");
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
