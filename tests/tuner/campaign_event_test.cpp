// Campaign events as JSON lines (what `attnjit tune --json` prints and the service reads) and
// the progress folded from them (what the CLI draws and GET /v1/jobs/{id} shows).
#include "tuner/campaign_event.h"

#include <gtest/gtest.h>

#include "codegen/types.h"
#include "tuner/campaign_progress.h"

namespace attnjit::tuner {
namespace {

CampaignEvent ev(EventKind k, int index = 0, const std::string& config = "") {
  CampaignEvent e;
  e.kind = k;
  e.problem_index = index;
  e.problem_count = 2;
  e.problem = index ? "prefill_f32_hd64_none_g1_q128_k128_even" + std::string(index == 2 ? "_x" : "") : "";
  e.config = config;
  return e;
}

// A candidate event of problem 1 with its phase's progress (done of total).
CampaignEvent step(EventKind k, const std::string& config, const std::string& phase, int done, int total) {
  CampaignEvent e = ev(k, 1, config);
  e.phase = phase;
  e.done = done;
  e.total = total;
  return e;
}

TEST(CampaignEvent, EveryKindRoundTripsThroughJson) {
  std::vector<CampaignEvent> all;
  CampaignEvent s = ev(EventKind::CampaignStarted);
  s.device = "cpu-znver3 (avx2)";
  s.strategy = "halving";
  s.isolation = "process";
  s.t_s = 0.5;
  all.push_back(s);
  CampaignEvent ps = ev(EventKind::ProblemStarted, 1);
  ps.candidates = 12;
  ps.reused = 2;
  ps.template_name = "prefill_cpu";
  all.push_back(ps);
  CampaignEvent c = step(EventKind::CandidateCompiled, "bm64_bn64_w4_s2", "compile", 3, 10);
  c.eta_s = 7.5;
  c.compile_ms = 812;
  all.push_back(c);
  CampaignEvent p = ev(EventKind::CandidatePruned, 1, "bm256_bn64_w8_s2");
  p.reason = "spills 96 bytes";
  all.push_back(p);
  CampaignEvent v = ev(EventKind::CandidateVerified, 1, "bm64_bn64_w4_s2");
  v.max_error = 1e-6;
  v.tolerance = 4e-6;
  all.push_back(v);
  CampaignEvent t = ev(EventKind::CandidateTimed, 1, "bm64_bn64_w4_s2");
  t.median_ms = 0.25;
  t.iqr_ms = 0.01;
  t.min_ms = 0.24;
  t.max_ms = 0.3;
  t.samples = 40;
  t.best_ms = 0.25;
  all.push_back(t);
  CampaignEvent f = ev(EventKind::CandidateFailed, 1, "bm128_bn64_w4_s2");
  f.status = "wrong_result";
  f.reason = "max error 0.5 > 4e-6";
  all.push_back(f);
  CampaignEvent d = ev(EventKind::ProblemDone, 1);
  d.best_config = "bm64_bn64_w4_s2";
  d.default_config = "bm64_bn64_w4_s2";
  d.best_median_ms = 0.25;
  d.default_median_ms = 0.25;
  d.counts = {{"ok", 1}, {"pruned", 1}, {"wrong_result", 1}};
  d.seconds = 3;
  all.push_back(d);
  CampaignEvent fin = ev(EventKind::CampaignFinished);
  fin.problems_tuned = 1;
  fin.problems_failed = 1;
  fin.seconds = 9;
  all.push_back(fin);
  for (const CampaignEvent& e : all) {
    const nlohmann::json j = to_json(e);
    EXPECT_EQ(j["event"], std::string(to_string(e.kind)));
    // Through text, as the service reads it from a pipe.
    EXPECT_EQ(event_from_json(nlohmann::json::parse(j.dump())), e) << j.dump();
  }
  // A field that belongs to another kind is not written.
  EXPECT_FALSE(to_json(c).contains("median_ms"));
  EXPECT_FALSE(to_json(s).contains("config"));
}

TEST(CampaignEvent, MalformedEventsNameTheField) {
  auto fails_on = [](const std::string& text, const std::string& field) {
    try {
      event_from_json(nlohmann::json::parse(text));
      ADD_FAILURE() << "accepted " << text;
    } catch (const SpecError& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  };
  fails_on(R"({"done": 3, "total": 5})", "event");  // the old made-up progress form
  fails_on(R"({"event": "exploded"})", "event");
  fails_on(R"({"event": "candidate_timed", "median_ms": "fast"})", "median_ms");
  fails_on(R"({"event": "candidate_timed", "done": 4294967297})", "done");
  fails_on(R"({"event": "problem_done", "counts": {"ok": "many"}})", "counts.ok");
  fails_on("[1]", "event");
}

TEST(CampaignProgress, FoldsPerProblemProgressBestSoFarAndErrors) {
  CampaignProgress p;
  CampaignEvent s = ev(EventKind::CampaignStarted);
  s.problem_count = 2;
  p.apply(s);
  EXPECT_EQ(p.problems().size(), 2u);
  EXPECT_EQ(p.problems()[0].state, "queued");
  CampaignEvent ps = ev(EventKind::ProblemStarted, 1);
  ps.candidates = 3;
  p.apply(ps);
  EXPECT_EQ(p.problems()[0].state, "running");
  CampaignEvent c = step(EventKind::CandidateCompiled, "bm64_bn64_w4_s2", "compile", 1, 3);
  c.eta_s = 4;
  c.t_s = 2;
  p.apply(c);
  p.apply(step(EventKind::CandidatePruned, "bm256_bn64_w8_s2", "compile", 2, 3));
  CampaignEvent t = step(EventKind::CandidateTimed, "bm64_bn64_w4_s2", "measure", 1, 2);
  t.best_ms = 0.5;
  t.eta_s = 1;
  p.apply(t);
  CampaignEvent f = step(EventKind::CandidateFailed, "bm128_bn64_w4_s2", "measure", 2, 2);
  f.status = "timeout";
  f.reason = "worker did not answer in time";
  p.apply(f);
  const ProblemProgress& q = p.problems()[0];
  EXPECT_EQ(q.phase, "measure");
  EXPECT_EQ(q.done, 2);
  EXPECT_DOUBLE_EQ(q.best_ms, 0.5);
  EXPECT_EQ(q.counts.at("ok"), 1);
  EXPECT_EQ(q.counts.at("pruned"), 1);
  EXPECT_EQ(q.counts.at("timeout"), 1);
  ASSERT_EQ(p.errors().size(), 1u);
  EXPECT_NE(p.errors()[0].find("bm128_bn64_w4_s2: timeout: worker did not answer"), std::string::npos);
  EXPECT_LT(p.eta_s(), 0);  // no problem done yet: the second one's length is unknown

  CampaignEvent d = ev(EventKind::ProblemDone, 1);
  d.best_config = "bm64_bn64_w4_s2";
  d.best_median_ms = 0.5;
  d.seconds = 10;
  d.counts = {{"ok", 1}, {"pruned", 1}, {"timeout", 1}};
  p.apply(d);
  EXPECT_EQ(p.problems_done(), 1);
  EXPECT_DOUBLE_EQ(p.eta_s(), 10);  // one problem left, 10 s each so far
  CampaignEvent d2 = ev(EventKind::ProblemDone, 2);
  d2.error = "skipped: template prefill_cpu does not support it";
  p.apply(d2);
  EXPECT_EQ(p.problems()[1].state, "failed");
  EXPECT_EQ(p.problems_failed(), 1);
  p.apply(ev(EventKind::CampaignFinished));
  EXPECT_TRUE(p.finished());
  EXPECT_EQ(p.eta_s(), 0);

  const nlohmann::json j = p.to_json();
  EXPECT_EQ(j["problems_done"], 2);
  EXPECT_EQ(j["problems"][0]["best_config"], "bm64_bn64_w4_s2");
  EXPECT_EQ(j["problems"][0]["counts"]["pruned"], 1);
  EXPECT_EQ(j["problems"][1]["error"], d2.error);
  EXPECT_EQ(j["errors"].size(), 2u);
}

TEST(CampaignProgress, KeepsOnlyTheLatestErrors) {
  CampaignProgress p(3);
  for (int i = 0; i < 10; ++i) {
    CampaignEvent f = ev(EventKind::CandidateFailed, 1, "bm64_bn64_w4_s2");
    f.status = "launch_error";
    f.reason = "crash " + std::to_string(i);
    p.apply(f);
  }
  ASSERT_EQ(p.errors().size(), 3u);
  EXPECT_NE(p.errors().back().find("crash 9"), std::string::npos);
}

}  // namespace
}  // namespace attnjit::tuner
