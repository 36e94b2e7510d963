// Helpers for the tuner tests: a wrapper template that narrows the search space (so end-to-end
// runs take seconds) and can plant one wrong candidate, the check that such a candidate is
// rejected, and a shared CPU backend.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "codegen/kernel_template.h"
#include "codegen/registry.h"
#include "db/database.h"
#include "runtime/backend.h"
#include "tuner/executor.h"
#include "tuner/result_store.h"
#include "tuner/tuner.h"
#ifdef ATTNJIT_WITH_LLVM
#include "runtime/cpu/cpu_backend.h"
#endif

namespace attnjit::tuner::testing {

// Delegates to `inner` but offers only `space` (plus the default), and renders `wrong` — if
// set — for the problem with its mask dropped: a real kernel that computes the wrong answer
// for a causal problem, planted to prove the correctness gate rejects it.
class RestrictedTemplate final : public KernelTemplate {
 public:
  RestrictedTemplate(const KernelTemplate& inner, std::vector<TileConfig> space,
                     std::optional<TileConfig> wrong = std::nullopt)
      : inner_(inner), space_(std::move(space)), wrong_(std::move(wrong)) {}

  Family family() const override { return inner_.family(); }
  std::string_view short_name() const override { return inner_.short_name(); }
  ArchRange archs() const override { return inner_.archs(); }
  // Its own version: results of this test-only template never mix with the real one's.
  std::string version_hash() const override {
    std::string h = inner_.version_hash() + "-test";
    for (const TileConfig& c : space_) h += "-" + c.key();
    if (wrong_) h += "-wrong-" + wrong_->key();
    return h;
  }
  bool supports(const ProblemSpec& s, const Target& t) const override { return inner_.supports(s, t); }
  std::vector<TileConfig> search_space(const ProblemSpec&, const Target&) const override { return space_; }
  TileConfig default_config(const ProblemSpec& s, const Target& t) const override {
    return inner_.default_config(s, t);
  }
  std::optional<std::string> can_implement(const ProblemSpec& s, const TileConfig& c,
                                           const Target& t) const override {
    return inner_.can_implement(s, c, t);
  }
  KernelSource render(const ProblemSpec& s, const TileConfig& c, const Target& t) const override {
    if (wrong_ && c == *wrong_) {
      ProblemSpec unmasked = s;
      unmasked.mask = MaskSpec{};
      return inner_.render(unmasked, c, t);
    }
    return inner_.render(s, c, t);
  }
  LaunchGeometry geometry(const ProblemSpec& s, const TileConfig& c, const Target& t,
                          const RunShape& r) const override {
    return inner_.geometry(s, c, t, r);
  }
  WorkspaceSize workspace_bytes(const ProblemSpec& s, const TileConfig& c, const Target& t,
                                const RunShape& r) const override {
    return inner_.workspace_bytes(s, c, t, r);
  }
  std::vector<unsigned char> build_arguments(const ProblemSpec& s, const TileConfig& c, const Target& t,
                                             const LaunchArgs& a, const Workspace& w) const override {
    return inner_.build_arguments(s, c, t, a, w);
  }

 private:
  const KernelTemplate& inner_;
  std::vector<TileConfig> space_;
  std::optional<TileConfig> wrong_;
};

#ifdef ATTNJIT_WITH_LLVM
// One CPU backend for the whole test binary: kernels compiled by one test are reused by the next.
inline Backend& cpu_backend() {
  static std::unique_ptr<Backend> b = make_cpu_backend();
  return *b;
}
#endif

// The options of the quick gate checks: short measurements, a random budget of `candidates`.
inline TuneOptions quick_random_options(int candidates) {
  TuneOptions o;
  o.measure.max_seconds = 0.15;
  o.measure.min_samples = 5;
  o.strategy = Strategy::Random;
  o.budget.candidates = candidates;
  return o;
}

// Every candidate of a run passed the correctness gate, and one was chosen.
inline void expect_every_candidate_passes(const TuneReport& rep) {
  ASSERT_TRUE(rep.best.has_value()) << rep.baseline_note;
  EXPECT_EQ(rep.baseline_note, "");
  for (const CandidateResult& r : rep.results) {
    EXPECT_EQ(r.status, CandidateStatus::Ok) << r.key() << ": " << r.reason;
    EXPECT_LE(r.max_error, r.tolerance) << r.key();
  }
}

// A few legal configs of `tmpl` for (spec, target), the default first: the space of the
// end-to-end tests. Picks configs that differ in tile shape so their timings differ.
inline std::vector<TileConfig> small_space(const KernelTemplate& tmpl, const ProblemSpec& spec,
                                           const Target& target, size_t n) {
  std::vector<TileConfig> all = tmpl.search_space(spec, target);
  const TileConfig def = tmpl.default_config(spec, target);
  std::vector<TileConfig> out = {def};
  for (const TileConfig& c : all) {
    if (out.size() >= n) break;
    if (std::find(out.begin(), out.end(), c) != out.end()) continue;
    // Spread over tile shapes rather than taking neighbours that differ in one knob.
    bool similar = false;
    for (const TileConfig& o : out) similar |= o.block_m == c.block_m && o.block_n == c.block_n;
    if (!similar) out.push_back(c);
  }
  return out;
}

#ifdef ATTNJIT_WITH_LLVM
// An end-to-end CPU tuning run: the problem's template narrowed to `n` configs (small_space), an
// in-memory database and its result store.
struct CpuTuning {
  CpuTuning(const ProblemSpec& s, size_t n)
      : spec(s), tmpl(select_template(s, be.target()), small_space(select_template(s, be.target()), s, be.target(), n)) {}
  TuneReport run(const TuneOptions& options) {
    InProcessExecutor ex(be, tmpl, spec, EvaluatorOptions{}, 2);
    return tune_problem(ex, tmpl, be.target(), spec, options, &store);
  }

  Backend& be = cpu_backend();
  const ProblemSpec spec;
  RestrictedTemplate tmpl;
  Database db = Database::open(":memory:");
  DbResultStore store{db, device_info_for(be)};
};
#endif

// A first run's outcome: every candidate verified and was timed, and the choice is the measured
// best (no correct candidate beats it beyond noise) and the database's best entry.
inline void expect_measured_best_stored(const TuneReport& rep, Database& db, const DeviceInfo& dev,
                                        const ProblemSpec& spec, const KernelTemplate& tmpl) {
  ASSERT_TRUE(rep.best.has_value()) << rep.baseline_note;
  for (const CandidateResult& r : rep.results) {
    EXPECT_EQ(r.status, CandidateStatus::Ok) << r.key() << ": " << r.reason;
    EXPECT_GT(r.time.median_ms, 0);
    EXPECT_LE(r.max_error, r.tolerance) << r.key();
  }
  const CandidateResult& chosen = rep.results[*rep.best];
  for (const CandidateResult& r : rep.results)
    EXPECT_FALSE(beats(r.time, chosen.time)) << r.key() << " beats the chosen " << chosen.key();
  auto best = db.best(dev.fingerprint(), spec.key(), tmpl.version_hash());
  ASSERT_TRUE(best.has_value());
  EXPECT_EQ(best->config, chosen.key());
}

// Tunes again over `store` after `first`: everything is reused, nothing compiled or measured,
// the same choice.
inline void expect_second_run_reuses(Backend& be, const KernelTemplate& tmpl, const ProblemSpec& spec,
                                     const TuneOptions& options, ResultStore& store, const TuneReport& first) {
  InProcessExecutor ex(be, tmpl, spec, EvaluatorOptions{}, 2);
  TuneReport second = tune_problem(ex, tmpl, be.target(), spec, options, &store);
  EXPECT_EQ(second.measured, 0);
  EXPECT_EQ(second.compiled, 0);
  EXPECT_EQ(second.reused, static_cast<int>(first.results.size()));
  ASSERT_TRUE(second.best.has_value());
  ASSERT_TRUE(first.best.has_value());
  EXPECT_EQ(second.results[*second.best].key(), first.results[*first.best].key());
  for (const CandidateResult& r : second.results) EXPECT_TRUE(r.from_db);
}

// Tunes `tmpl` (which plants `wrong`) on `be` into an in-memory database and checks the
// correctness gate: `wrong` fails against the reference, is never chosen, and is stored as
// wrong_result so a resumed run does not try it again. others_ok: every other candidate passes.
inline void expect_planted_wrong_rejected(Backend& be, const KernelTemplate& tmpl, const ProblemSpec& spec,
                                          const TileConfig& wrong, const TuneOptions& options,
                                          bool others_ok = false) {
  Database db = Database::open(":memory:");
  DbResultStore store(db, device_info_for(be));
  InProcessExecutor ex(be, tmpl, spec, EvaluatorOptions{}, 2);
  TuneReport rep = tune_problem(ex, tmpl, be.target(), spec, options, &store);
  bool seen = false;
  for (const CandidateResult& r : rep.results) {
    if (r.config != wrong) {
      if (others_ok) EXPECT_EQ(r.status, CandidateStatus::Ok) << r.key() << ": " << r.reason;
      continue;
    }
    seen = true;
    EXPECT_EQ(r.status, CandidateStatus::WrongResult);
    EXPECT_GT(r.max_error, r.tolerance);
    EXPECT_NE(r.reason.find("reference"), std::string::npos) << r.reason;
  }
  EXPECT_TRUE(seen);
  ASSERT_TRUE(rep.best.has_value());
  EXPECT_NE(rep.results[*rep.best].config, wrong);
  auto stored = store.existing(spec, tmpl);
  ASSERT_TRUE(stored.count(wrong.key()));
  EXPECT_EQ(stored.at(wrong.key()).status, CandidateStatus::WrongResult);
}

}  // namespace attnjit::tuner::testing
