#include "tuner/tuner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <random>

#include "codegen/decode/plan.h"
#include "codegen/kernel_source.h"
#include "codegen/parse_util.h"
#include "tuner/clock.h"

namespace attnjit::tuner {

namespace {

// A seed that depends only on the problem and the user's seed: every machine of a fleet draws
// the same sample for the same problem.
uint64_t sample_seed(const ProblemSpec& spec, uint64_t seed) {
  const std::string h = content_hash(spec.key());
  return std::stoull(h.substr(0, 16), nullptr, 16) ^ seed;
}

}  // namespace

std::string_view to_string(Strategy s) {
  switch (s) {
    case Strategy::Exhaustive: return "exhaustive";
    case Strategy::Random: return "random";
    case Strategy::Halving: return "halving";
  }
  return "exhaustive";
}

Strategy parse_strategy(std::string_view s) {
  if (s == "exhaustive") return Strategy::Exhaustive;
  if (s == "random") return Strategy::Random;
  if (s == "halving") return Strategy::Halving;
  throw SpecError("strategy: unknown value '" + std::string(s) + "' (allowed: exhaustive, random, halving)");
}

Strategy choose_strategy(std::optional<Strategy> asked, const Budget& budget) {
  if (!asked) return budget.candidates > 0 ? Strategy::Halving : Strategy::Exhaustive;
  if (*asked == Strategy::Exhaustive && budget.candidates > 0)
    throw SpecError("budget: exhaustive tuning measures every candidate; a candidate budget needs "
                    "strategy random or halving (or no strategy: halving is then chosen)");
  return *asked;
}

Budget Budget::parse(std::string_view s) {
  Budget b;
  if (s.empty()) throw SpecError("budget: expected N (candidates), Ns (seconds) or both ('40,300s')");
  for (std::string_view part : detail::split(s, ',')) {
    if (!part.empty() && part.back() == 's') {
      const int64_t v = detail::parse_int("budget seconds", part.substr(0, part.size() - 1));
      if (v < 1) throw SpecError("budget: seconds must be >= 1, got " + std::string(part));
      b.seconds = static_cast<double>(v);
    } else {
      const int64_t v = detail::parse_int("budget candidates", part);
      if (v < 1) throw SpecError("budget: candidates must be >= 1, got " + std::string(part));
      b.candidates = static_cast<int>(v);
    }
  }
  return b;
}

double TuneReport::speedup() const {
  if (!best || !default_index) return 1;
  const double b = results[*best].time.median_ms, d = results[*default_index].time.median_ms;
  if (results[*default_index].status != CandidateStatus::Ok || b <= 0) return 1;
  return d / b;
}

int TuneReport::count(CandidateStatus s) const {
  return static_cast<int>(std::count_if(results.begin(), results.end(),
                                        [&](const CandidateResult& r) { return r.status == s; }));
}

std::vector<TileConfig> tuning_space(const KernelTemplate& tmpl, const ProblemSpec& spec,
                                     const Target& target) {
  std::vector<TileConfig> space = tmpl.search_space(spec, target);
  if (spec.family != Family::Decode) return space;
  std::vector<TileConfig> out;
  for (const TileConfig& c : space) {
    out.push_back(c);
    if (c.splits != 0) continue;
    const int64_t blocks = decode_kv_blocks(c, spec.seqlen_k);
    for (int s = 1; s <= std::min<int64_t>({64, blocks, kDecodeMaxSplits}); s *= 2) {
      TileConfig f = c;
      f.splits = s;
      if (!tmpl.can_implement(spec, f, target)) out.push_back(f);
    }
  }
  return out;
}

std::vector<TileConfig> plan_candidates(const std::vector<TileConfig>& space, const TileConfig& def,
                                        const ProblemSpec& spec, const TuneOptions& options) {
  std::map<std::string, TileConfig> by_key;
  for (const TileConfig& c : space) by_key.emplace(c.key(), c);
  by_key.emplace(def.key(), def);
  std::vector<TileConfig> all;
  for (auto& [k, c] : by_key) all.push_back(c);
  const int n = options.budget.candidates;
  if (n <= 0 || n >= static_cast<int>(all.size())) return all;
  if (options.strategy == Strategy::Exhaustive)
    throw SpecError("budget: exhaustive tuning measures every candidate; a candidate budget needs "
                    "--strategy random or halving");
  // Seeded Fisher-Yates with our own index draws (std::shuffle's algorithm is unspecified, so
  // it could differ between standard libraries on one fleet).
  std::mt19937_64 rng(sample_seed(spec, options.seed));
  for (size_t i = all.size() - 1; i > 0; --i) std::swap(all[i], all[rng() % (i + 1)]);
  std::vector<TileConfig> pick(all.begin(), all.begin() + n);
  if (std::find(pick.begin(), pick.end(), def) == pick.end()) pick.back() = def;
  std::sort(pick.begin(), pick.end(), [](const TileConfig& a, const TileConfig& b) { return a.key() < b.key(); });
  return pick;
}

CampaignEvent problem_done_event(const TuneReport& rep, int problem_index, int problem_count) {
  CampaignEvent e{.kind = EventKind::ProblemDone, .problem_count = problem_count,
                  .problem_index = problem_index, .problem = rep.spec.key(),
                  .template_name = rep.template_name, .reused = rep.reused,
                  .default_config = rep.default_config.key(), .note = rep.baseline_note,
                  .speedup = rep.speedup(), .seconds = rep.seconds, .compiled = rep.compiled,
                  .measured = rep.measured};
  if (rep.best) {
    e.best_config = rep.results[*rep.best].key();
    e.best_median_ms = rep.results[*rep.best].time.median_ms;
  } else {
    e.error = "no correct candidate";
  }
  if (rep.default_index && rep.results[*rep.default_index].status == CandidateStatus::Ok)
    e.default_median_ms = rep.results[*rep.default_index].time.median_ms;
  for (const CandidateResult& r : rep.results) ++e.counts[std::string(to_string(r.status))];
  return e;
}

TuneReport tune_problem(Executor& executor, const KernelTemplate& tmpl, const Target& target,
                        const ProblemSpec& spec, const TuneOptions& options, ResultStore* store,
                        const EventSink& events, int problem_index, int problem_count) {
  const double t0 = now_s();
  if (!tmpl.supports(spec, target))
    throw SpecError("template " + std::string(tmpl.name()) + " does not support " + spec.key() +
                    " on " + target.key());
  TuneReport rep;
  rep.spec = spec;
  rep.template_name = std::string(tmpl.name());
  rep.template_hash = tmpl.version_hash();
  rep.default_config = tmpl.default_config(spec, target);

  const std::vector<TileConfig> plan =
      plan_candidates(tuning_space(tmpl, spec, target), rep.default_config, spec, options);
  std::map<std::string, CandidateResult> results;  // by key: sorted, deterministic
  std::map<std::string, CandidateResult> known = store ? store->existing(spec, tmpl)
                                                       : std::map<std::string, CandidateResult>{};
  std::vector<TileConfig> todo;
  for (const TileConfig& c : plan) {
    auto it = known.find(c.key());
    if (it != known.end()) {
      results[c.key()] = it->second;
      ++rep.reused;
    } else {
      todo.push_back(c);
    }
  }
  const std::string problem_key = spec.key();
  if (events) {
    CampaignEvent e;
    e.kind = EventKind::ProblemStarted;
    e.problem = problem_key;
    e.problem_index = problem_index;
    e.problem_count = problem_count;
    e.template_name = rep.template_name;
    e.candidates = static_cast<int>(plan.size());
    e.reused = rep.reused;
    events(e);
  }

  auto record = [&](const CandidateResult& r) {
    results[r.key()] = r;
    if (store && r.status != CandidateStatus::Skipped) store->record(spec, tmpl, r);
  };
  auto best_ms = [&] {
    double b = 0;
    for (auto& [k, r] : results)
      if (r.status == CandidateStatus::Ok && (b == 0 || r.time.median_ms < b)) b = r.time.median_ms;
    return b;
  };
  // One candidate finished a phase: compiled / pruned / failed to compile, or verified + timed /
  // failed. A skipped candidate (budget, stop) is counted in problem_done only.
  auto emit = [&](const CandidateResult& r, const std::string& phase, int done, int total, double eta) {
    if (!events || r.status == CandidateStatus::Skipped) return;
    CampaignEvent e;
    e.problem = problem_key;
    e.problem_index = problem_index;
    e.problem_count = problem_count;
    e.config = r.key();
    e.phase = phase;
    e.done = done;
    e.total = total;
    e.eta_s = eta;
    e.best_ms = best_ms();
    // Each kind carries its own fields only (tuner/campaign_event.h), so a value read back from
    // its JSON line is the value sent.
    if (r.status == CandidateStatus::Pruned) {
      e.kind = EventKind::CandidatePruned;
      e.reason = r.reason;
      e.compile_ms = r.compile_ms;
      events(e);
    } else if (r.status != CandidateStatus::Ok) {
      e.kind = EventKind::CandidateFailed;
      e.status = std::string(to_string(r.status));
      e.reason = r.reason;
      e.max_error = r.max_error;
      e.tolerance = r.tolerance;
      events(e);
    } else if (phase == "compile") {
      e.kind = EventKind::CandidateCompiled;
      e.compile_ms = r.compile_ms;
      events(e);
    } else {
      e.kind = EventKind::CandidateVerified;
      e.max_error = r.max_error;
      e.tolerance = r.tolerance;
      events(e);
      e.max_error = e.tolerance = 0;
      e.kind = EventKind::CandidateTimed;
      e.median_ms = r.time.median_ms;
      e.iqr_ms = r.time.iqr_ms;
      e.min_ms = r.time.min_ms;
      e.max_ms = r.time.max_ms;
      e.samples = r.time.samples;
      events(e);
    }
  };

  // Phase 1: parallel compilation; failures and pruned configs are final.
  const double tc = now_s();
  int done = 0;
  std::vector<TileConfig> compiled_ok;
  if (!todo.empty()) {
    const auto compiled = executor.compile_all(todo, [&](const CandidateResult& r) {
      ++done;
      const double el = now_s() - tc;
      emit(r, "compile", done, static_cast<int>(todo.size()),
           el / done * (static_cast<double>(todo.size()) - done));
    });
    for (const CandidateResult& r : compiled) {
      if (r.status == CandidateStatus::Ok) compiled_ok.push_back(r.config);
      else record(r);
    }
  }
  rep.compiled = static_cast<int>(todo.size());
  rep.compile_seconds = now_s() - tc;

  // Phase 2: check + time, one at a time. The default goes first: it is the correctness
  // baseline every other candidate is compared with on the tuning shape.
  std::stable_sort(compiled_ok.begin(), compiled_ok.end(), [&](const TileConfig& a, const TileConfig& b) {
    return (a == rep.default_config) > (b == rep.default_config);
  });
  const double tm = now_s();
  const double deadline = options.budget.seconds > 0 ? t0 + options.budget.seconds : 0;
  int measured_steps = 0;
  auto run_round = [&](const std::vector<TileConfig>& cands, const MeasureOptions& m,
                       const std::string& phase, int total_steps) {
    for (const TileConfig& c : cands) {
      const bool stop = options.should_stop && options.should_stop();
      if (stop || (deadline > 0 && now_s() > deadline)) {
        CandidateResult s;
        s.config = c;
        s.status = CandidateStatus::Skipped;
        s.reason = stop ? "tuning stopped" : "time budget exhausted";
        if (!results.count(c.key()) || results[c.key()].status != CandidateStatus::Ok) results[c.key()] = s;
        continue;
      }
      CandidateResult r = executor.evaluate(c, m);
      ++rep.measured;
      ++measured_steps;
      record(r);
      const double el = now_s() - tm;
      emit(r, phase, measured_steps, total_steps, el / measured_steps * (total_steps - measured_steps));
    }
  };

  if (options.strategy != Strategy::Halving) {
    run_round(compiled_ok, options.measure, "measure", static_cast<int>(compiled_ok.size()));
  } else {
    const int eta = std::max(2, options.halving_eta);
    const size_t n = compiled_ok.size();
    int rounds = 1;
    for (size_t k = n; k > 1; k = (k + eta - 1) / eta) ++rounds;
    rounds = std::max(1, rounds - 1);
    int total_steps = 0;
    for (size_t k = n, r = 0; r < static_cast<size_t>(rounds); ++r, k = (k + eta - 1) / eta) total_steps += static_cast<int>(k);
    std::vector<TileConfig> alive = compiled_ok;
    for (int r = 0; r < rounds && !alive.empty(); ++r) {
      MeasureOptions m = options.measure;
      const double scale = std::pow(static_cast<double>(eta), rounds - 1 - r);
      m.max_seconds = std::max(0.02, options.measure.max_seconds / scale);
      if (r < rounds - 1) m.min_samples = std::min(m.min_samples, 3);
      m.max_samples = std::max(m.min_samples, static_cast<int>(options.measure.max_samples / scale));
      run_round(alive, m, "halving round " + std::to_string(r + 1) + "/" + std::to_string(rounds), total_steps);
      if (r == rounds - 1) break;
      // Keep the fastest 1/eta of the correct ones (ties by key) plus the default.
      std::vector<TileConfig> ok;
      for (const TileConfig& c : alive)
        if (results[c.key()].status == CandidateStatus::Ok) ok.push_back(c);
      std::sort(ok.begin(), ok.end(), [&](const TileConfig& a, const TileConfig& b) {
        const double ma = results[a.key()].time.median_ms, mb = results[b.key()].time.median_ms;
        return ma != mb ? ma < mb : a.key() < b.key();
      });
      const size_t keep = (alive.size() + eta - 1) / eta;
      std::vector<TileConfig> next(ok.begin(), ok.begin() + std::min(keep, ok.size()));
      const bool def_ok = std::find(ok.begin(), ok.end(), rep.default_config) != ok.end();
      if (def_ok && std::find(next.begin(), next.end(), rep.default_config) == next.end())
        next.insert(next.begin(), rep.default_config);
      std::stable_sort(next.begin(), next.end(), [&](const TileConfig& a, const TileConfig& b) {
        return (a == rep.default_config) > (b == rep.default_config);
      });
      alive = std::move(next);
    }
  }
  rep.measure_seconds = now_s() - tm;

  for (auto& [k, r] : results) rep.results.push_back(r);
  for (size_t i = 0; i < rep.results.size(); ++i)
    if (rep.results[i].config == rep.default_config) rep.default_index = i;
  // Nothing new measured: the stored choice stands (re-deciding from stored medians, without
  // their IQRs, could flip it and make two runs over the same data disagree).
  std::optional<std::string> kept = (store && rep.measured == 0) ? store->stored_best(spec, tmpl) : std::nullopt;
  for (size_t i = 0; kept && i < rep.results.size(); ++i)
    if (rep.results[i].key() == *kept && rep.results[i].status == CandidateStatus::Ok) rep.best = i;
  if (!rep.best) {
    rep.best = select_best(rep.results, rep.default_config, options.policy);
    if (store && rep.best) store->set_best(spec, tmpl, rep.results[*rep.best].config);
  }
  rep.baseline_note = rep.measured > 0 ? executor.baseline_note() : std::string();
  rep.seconds = now_s() - t0;
  if (events) events(problem_done_event(rep, problem_index, problem_count));
  return rep;
}

}  // namespace attnjit::tuner
