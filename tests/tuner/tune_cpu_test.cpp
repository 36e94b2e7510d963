// End to end on the CPU backend: tune a small problem into an in-memory database, reuse it on
// a second run, pick the measured best among correct candidates, reject a planted wrong one.
#include <gtest/gtest.h>

#include <set>

#include "codegen/registry.h"
#include "db/database.h"
#include "tuner/tuner.h"
#include "tuner_test_util.h"

#ifdef ATTNJIT_WITH_LLVM

namespace attnjit::tuner {
namespace {

ProblemSpec small_causal() {
  return ProblemSpec::parse("prefill_f32_hd64_causal_g1_q128_k128_even");
}

TuneOptions quick_options() {
  TuneOptions o;
  o.measure.max_seconds = 0.3;
  o.measure.min_samples = 5;
  return o;
}

TEST(TuneCpu, StoresResultsReusesThemAndPicksTheMeasuredBest) {
  testing::CpuTuning t(small_causal(), 4);
  TuneReport first = t.run(quick_options());
  EXPECT_EQ(first.reused, 0);
  EXPECT_EQ(first.measured, static_cast<int>(first.results.size()));
  EXPECT_EQ(first.baseline_note, "");  // the default verified, tuning-shape check active
  for (const CandidateResult& r : first.results) EXPECT_GT(r.tflops, 0) << r.key();
  // The choice is the measured best, and every candidate is in the database.
  testing::expect_measured_best_stored(first, t.db, device_info_for(t.be), t.spec, t.tmpl);
  EXPECT_EQ(t.store.existing(t.spec, t.tmpl).size(), first.results.size());
  // Second run: everything is reused, nothing re-measured, same choice.
  testing::expect_second_run_reuses(t.be, t.tmpl, t.spec, quick_options(), t.store, first);
}

TEST(TuneCpu, PlantedWrongCandidateIsRejectedAndNeverChosen) {
  Backend& be = testing::cpu_backend();
  const ProblemSpec spec = small_causal();
  const KernelTemplate& real = select_template(spec, be.target());
  std::vector<TileConfig> space = testing::small_space(real, spec, be.target(), 3);
  ASSERT_GE(space.size(), 2u);
  const TileConfig wrong = space[1];
  testing::RestrictedTemplate tmpl(real, space, wrong);
  testing::expect_planted_wrong_rejected(be, tmpl, spec, wrong, quick_options());
}

TEST(TuneCpu, HalvingAndRandomBudgetsMeasureASubsetAndStillChooseACorrectConfig) {
  Backend& be = testing::cpu_backend();
  const ProblemSpec spec = ProblemSpec::parse("prefill_f32_hd64_none_g1_q128_k128_even");
  const KernelTemplate& real = select_template(spec, be.target());
  testing::RestrictedTemplate tmpl(real, testing::small_space(real, spec, be.target(), 5));
  TuneOptions o = quick_options();
  o.strategy = Strategy::Random;
  o.budget.candidates = 3;
  InProcessExecutor ex(be, tmpl, spec, EvaluatorOptions{}, 2);
  TuneReport r = tune_problem(ex, tmpl, be.target(), spec, o);
  EXPECT_EQ(r.results.size(), 3u);
  ASSERT_TRUE(r.default_index.has_value());  // the default is always in the sample
  ASSERT_TRUE(r.best.has_value());

  o.strategy = Strategy::Halving;
  o.budget = {};
  o.halving_eta = 2;
  InProcessExecutor ex2(be, tmpl, spec, EvaluatorOptions{}, 2);
  TuneReport h = tune_problem(ex2, tmpl, be.target(), spec, o);
  ASSERT_TRUE(h.best.has_value());
  EXPECT_EQ(h.results[*h.best].status, CandidateStatus::Ok);
  // Rounds re-measure survivors: more measurements than candidates.
  EXPECT_GT(h.measured, static_cast<int>(h.results.size()));
}

}  // namespace
}  // namespace attnjit::tuner

#endif  // ATTNJIT_WITH_LLVM
