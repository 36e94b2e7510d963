// Tuning one problem: enumerate the template's search space, skip what the store already
// has, pick candidates by strategy, compile them in parallel, check and time them one at a
// time (through an Executor: in process, or in an isolated worker), choose deterministically,
// record everything.
//
// Strategies:
//   exhaustive  every candidate, fully measured.
//   random      a seeded sample (same problem + seed = same sample on every machine) of the
//               candidate budget; the default config is always in it.
//   halving     successive halving: every candidate measured briefly, the best 1/eta kept and
//               measured eta times longer, until one round at the full measurement remains.
//               The default config stays in every round, so the winner is compared with it at
//               the same precision.
// Budgets: a candidate count (random / halving sample size) and/or seconds (no new
// measurement starts after the deadline; unmeasured candidates are reported as skipped).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "codegen/kernel_template.h"
#include "tuner/candidate.h"
#include "tuner/executor.h"
#include "tuner/measurement.h"
#include "tuner/campaign_event.h"
#include "tuner/result_store.h"
#include "tuner/selection.h"

namespace attnjit::tuner {

enum class Strategy { Exhaustive, Random, Halving };
std::string_view to_string(Strategy s);  // "exhaustive" | "random" | "halving"
Strategy parse_strategy(std::string_view s);

struct Budget {
  int candidates = 0;   // 0 = no limit
  double seconds = 0;   // 0 = no limit
  // "N" candidates, "Ns" seconds, or both comma-separated ("40,300s"). SpecError otherwise.
  static Budget parse(std::string_view s);
};

// The strategy a run uses: the one asked for; else, when a candidate budget is given, the
// budgeted successive halving (a budget alone picks a budgeted strategy); else exhaustive.
// SpecError when exhaustive is asked for together with a candidate budget.
Strategy choose_strategy(std::optional<Strategy> asked, const Budget& budget);

struct TuneOptions {
  Strategy strategy = Strategy::Exhaustive;
  Budget budget;
  MeasureOptions measure;   // the full measurement of a candidate
  SelectionPolicy policy;
  int halving_eta = 3;
  uint64_t seed = 0;        // mixes into the random / halving sample
  // Polled before each measurement; true = stop now (the rest are reported as skipped).
  // For background tuning that must end when its owner does.
  std::function<bool()> should_stop;
};

struct TuneReport {
  ProblemSpec spec;
  std::string template_name, template_hash;
  TileConfig default_config;
  std::vector<CandidateResult> results;  // every candidate considered, sorted by config key
  std::optional<size_t> best;            // index into results
  std::optional<size_t> default_index;   // index of the default config's result
  std::string baseline_note;             // see CandidateEvaluator::baseline_note
  double seconds = 0, compile_seconds = 0, measure_seconds = 0;
  int compiled = 0;   // compiled in this run (cache hits included)
  int measured = 0;   // timed in this run
  int reused = 0;     // taken from the store, not re-measured

  // Default median / best median (1 = the default won or no data).
  double speedup() const;
  int count(CandidateStatus s) const;
};

// The candidates a strategy considers, in the deterministic order it starts from (key order;
// the random sample is a seeded shuffle of it). The default config is always included.
// The candidates of a problem: the template's search space; for decode each config whose split
// count is left to the rule (splits 0) also with a fixed split count of 1, 2, 4, ... 64 (those
// the bucket's KV blocks allow) — the split count is a launch knob, so they share a binary and
// the tuner settles it by measurement instead of the heuristic.
std::vector<TileConfig> tuning_space(const KernelTemplate& tmpl, const ProblemSpec& spec, const Target& target);

std::vector<TileConfig> plan_candidates(const std::vector<TileConfig>& space, const TileConfig& def,
                                        const ProblemSpec& spec, const TuneOptions& options);

// `store` may be null, `events` empty. Emits problem_started, the candidate events and
// problem_done (tuner/campaign_event.h) for problem `problem_index` of `problem_count`.
// Throws SpecError when the template does not support the problem on `target`, and what the
// store throws (DbError) on storage failures.
TuneReport tune_problem(Executor& executor, const KernelTemplate& tmpl, const Target& target,
                        const ProblemSpec& spec, const TuneOptions& options,
                        ResultStore* store = nullptr, const EventSink& events = {},
                        int problem_index = 1, int problem_count = 1);

// The problem_done event of a finished report.
CampaignEvent problem_done_event(const TuneReport& report, int problem_index, int problem_count);

}  // namespace attnjit::tuner
