// A campaign end to end on the CPU backend: the events it emits, in order, for a problem it
// tunes and one it cannot; the budget alone choosing the strategy; results stored as measured.
#include "tuner/campaign.h"

#include <gtest/gtest.h>

#include "db/database.h"
#include "tuner/campaign_progress.h"
#include "tuner_test_util.h"

namespace attnjit::tuner {
namespace {

TEST(Campaign, ABudgetAlonePicksABudgetedStrategy) {
  Budget b;
  EXPECT_EQ(choose_strategy(std::nullopt, b), Strategy::Exhaustive);
  b.seconds = 60;
  EXPECT_EQ(choose_strategy(std::nullopt, b), Strategy::Exhaustive);  // a time budget fits any
  b.candidates = 8;
  EXPECT_EQ(choose_strategy(std::nullopt, b), Strategy::Halving);
  EXPECT_EQ(choose_strategy(Strategy::Random, b), Strategy::Random);
  EXPECT_THROW(choose_strategy(Strategy::Exhaustive, b), SpecError);
}

#ifdef ATTNJIT_WITH_LLVM
TEST(Campaign, EmitsEventsForEveryCandidateAndProblem) {
  Backend& be = testing::cpu_backend();
  CampaignOptions o;
  o.problems = {ProblemSpec::parse("prefill_f32_hd64_none_g1_q128_k128_even")};
  o.tune.budget.candidates = 3;
  o.tune.strategy = choose_strategy(std::nullopt, o.tune.budget);
  o.tune.measure.max_seconds = 0.05;
  o.tune.measure.min_samples = 3;
  o.compile_threads = 2;
  Database db = Database::open(":memory:");
  DbResultStore store(db, device_info_for(be));
  std::vector<CampaignEvent> events;
  const CampaignReport rep = run_campaign(be, o, &store, [&](const CampaignEvent& e) { events.push_back(e); });

  EXPECT_EQ(rep.problems, 1);
  EXPECT_EQ(rep.failed, 0);
  ASSERT_EQ(rep.reports.size(), 1u);
  ASSERT_GE(events.size(), 6u);
  EXPECT_EQ(events.front().kind, EventKind::CampaignStarted);
  EXPECT_EQ(events.front().strategy, "halving");
  EXPECT_EQ(events.front().problem_count, 1);
  EXPECT_EQ(events.back().kind, EventKind::CampaignFinished);
  EXPECT_EQ(events.back().problems_tuned, 1);
  EXPECT_EQ(events.back().problems_failed, 0);
  std::map<EventKind, int> n;
  double last_t = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    const CampaignEvent& e = events[i];
    ++n[e.kind];
    EXPECT_GE(e.t_s, last_t) << "events are stamped in order";
    last_t = e.t_s;
    // Every event survives the JSON line the service would read.
    EXPECT_EQ(event_from_json(nlohmann::json::parse(to_json(e).dump())), e) << to_json(e).dump();
    if (e.kind == EventKind::CandidateTimed) {
      ASSERT_GT(i, 0u);
      EXPECT_EQ(events[i - 1].kind, EventKind::CandidateVerified);  // checked before timed
      EXPECT_EQ(events[i - 1].config, e.config);
      EXPECT_GT(e.median_ms, 0);
      EXPECT_GE(e.iqr_ms, 0);
      EXPECT_GT(e.best_ms, 0);
    }
  }
  const TuneReport& r = rep.reports[0];
  EXPECT_EQ(n[EventKind::ProblemStarted], 1);
  EXPECT_EQ(n[EventKind::ProblemDone], 1);
  EXPECT_EQ(n[EventKind::CandidateCompiled] + n[EventKind::CandidatePruned], r.compiled - r.count(CandidateStatus::CompileError));
  EXPECT_EQ(n[EventKind::CandidateTimed], r.measured - r.count(CandidateStatus::WrongResult) -
                                              r.count(CandidateStatus::LaunchError) - r.count(CandidateStatus::Timeout));
  // The one that was: its best is the stored best, its measurements carry their IQR.
  const auto done = std::find_if(events.begin(), events.end(), [](const CampaignEvent& e) {
    return e.kind == EventKind::ProblemDone && e.problem_index == 1;
  });
  ASSERT_NE(done, events.end());
  ASSERT_TRUE(r.best);
  EXPECT_EQ(done->best_config, r.results[*r.best].key());
  auto stored = db.list_best();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].config, done->best_config);
  const auto rows = db.query_results({.config = done->best_config}).rows;
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_DOUBLE_EQ(rows[0].iqr_ms, r.results[*r.best].time.iqr_ms);

  // Folded, the events give what the CLI draws and the service shows.
  CampaignProgress p;
  for (const CampaignEvent& e : events) p.apply(e);
  EXPECT_TRUE(p.finished());
  EXPECT_EQ(p.problems_done(), 1);
  EXPECT_EQ(p.problems()[0].state, "done");
  EXPECT_EQ(p.problems()[0].best_config, r.results[*r.best].key());
}

// A problem that cannot be tuned at all (here: its isolated worker cannot even start) is an
// event with the reason, not an exception; the campaign goes on to the next.
TEST(Campaign, AProblemThatCannotBeTunedIsReportedAndTheCampaignGoesOn) {
  Backend& be = testing::cpu_backend();
  CampaignOptions o;
  o.problems = {ProblemSpec::parse("prefill_f32_hd64_none_g1_q128_k128_even"),
                ProblemSpec::parse("prefill_f32_hd64_causal_g1_q128_k128_even")};
  o.isolate = true;
  o.worker.exe = "/nonexistent/attnjit";
  std::vector<CampaignEvent> events;
  const CampaignReport rep = run_campaign(be, o, nullptr, [&](const CampaignEvent& e) { events.push_back(e); });
  EXPECT_EQ(rep.failed, 2);
  std::vector<CampaignEvent> done;
  for (const CampaignEvent& e : events)
    if (e.kind == EventKind::ProblemDone) done.push_back(e);
  ASSERT_EQ(done.size(), 2u);
  for (int i : {1, 2}) {
    const CampaignEvent& d = done[static_cast<size_t>(i - 1)];
    EXPECT_EQ(d.problem_index, i);
    EXPECT_TRUE(d.best_config.empty());
    EXPECT_NE(d.error.find("failed: "), std::string::npos) << d.error;
    EXPECT_NE(d.error.find("127"), std::string::npos) << d.error;
  }
  EXPECT_EQ(events.back().problems_failed, 2);
  CampaignProgress p;
  for (const CampaignEvent& e : events) p.apply(e);
  EXPECT_EQ(p.problems()[1].state, "failed");
  EXPECT_EQ(p.errors().size(), 2u);
}
#endif

}  // namespace
}  // namespace attnjit::tuner
