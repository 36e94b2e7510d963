// Fault isolation: candidates run in `attnjit tune-worker` processes; a crashing and a hanging
// candidate (planted with ATTNJIT_TUNER_FAULT) are recorded as launch_error / timeout and the
// run goes on with a fresh worker.
#include <gtest/gtest.h>

#include <cstdlib>

#include "codegen/registry.h"
#include "tuner/tuner.h"
#include "tuner/worker.h"
#include "tuner_test_util.h"

#ifdef ATTNJIT_WITH_LLVM

namespace attnjit::tuner {
namespace {

TEST(Worker, CrashAndHangAreRecordedAndTuningContinues) {
  Backend& be = testing::cpu_backend();
  const ProblemSpec spec = ProblemSpec::parse("prefill_f32_hd64_causal_g1_q128_k128_even");
  const KernelTemplate& tmpl = select_template(spec, be.target());
  const TileConfig def = tmpl.default_config(spec, be.target());
  std::vector<TileConfig> space = testing::small_space(tmpl, spec, be.target(), 4);
  ASSERT_GE(space.size(), 4u);
  const TileConfig crash = space[1], hang = space[2], segv = space[3];
  const std::string fault = crash.key() + "=abort," + hang.key() + "=hang," + segv.key() + "=segv";
  ASSERT_EQ(::setenv("ATTNJIT_TUNER_FAULT", fault.c_str(), 1), 0);

  WorkerOptions wo;
  wo.exe = ATTNJIT_CLI_PATH;
  wo.platform = Platform::Cpu;
  wo.compile_threads = 2;
  wo.evaluate_timeout_s = 20;  // the hang is cut off here
  WorkerExecutor ex(spec, wo);

  const auto compiled = ex.compile_all(space, nullptr);
  ASSERT_EQ(compiled.size(), space.size());
  for (const auto& r : compiled) EXPECT_EQ(r.status, CandidateStatus::Ok) << r.key() << ": " << r.reason;

  MeasureOptions m;
  m.max_seconds = 0.2;
  const CandidateResult ok1 = ex.evaluate(def, m);
  EXPECT_EQ(ok1.status, CandidateStatus::Ok) << ok1.reason;

  const CandidateResult c = ex.evaluate(crash, m);
  EXPECT_EQ(c.status, CandidateStatus::LaunchError);
  EXPECT_NE(c.reason.find("signal"), std::string::npos) << c.reason;

  const CandidateResult s = ex.evaluate(segv, m);
  EXPECT_EQ(s.status, CandidateStatus::LaunchError);
  EXPECT_NE(s.reason.find("Segmentation"), std::string::npos) << s.reason;

  wo.evaluate_timeout_s = 3;
  WorkerExecutor ex_short(spec, wo);
  const CandidateResult h = ex_short.evaluate(hang, m);
  EXPECT_EQ(h.status, CandidateStatus::Timeout) << h.reason;

  // A fresh worker takes over: the default still measures fine afterwards.
  const CandidateResult ok2 = ex.evaluate(def, m);
  EXPECT_EQ(ok2.status, CandidateStatus::Ok) << ok2.reason;
  EXPECT_GE(ex.restarts(), 2);
  ::unsetenv("ATTNJIT_TUNER_FAULT");
}

TEST(Worker, TuneProblemThroughWorkersRecordsFaultsAndChoosesAHealthyConfig) {
  Backend& be = testing::cpu_backend();
  const ProblemSpec spec = ProblemSpec::parse("prefill_f32_hd64_none_g1_q128_k128_even");
  const KernelTemplate& real = select_template(spec, be.target());
  std::vector<TileConfig> space = testing::small_space(real, spec, be.target(), 3);
  ASSERT_GE(space.size(), 3u);
  ASSERT_EQ(::setenv("ATTNJIT_TUNER_FAULT", (space[1].key() + "=exit").c_str(), 1), 0);
  WorkerOptions wo;
  wo.exe = ATTNJIT_CLI_PATH;
  wo.compile_threads = 2;
  WorkerExecutor ex(spec, wo);
  TuneOptions o;
  o.measure.max_seconds = 0.2;
  // The worker selects the real template; restrict only what the tuner plans.
  testing::RestrictedTemplate tmpl(real, space);
  TuneReport rep = tune_problem(ex, tmpl, be.target(), spec, o);
  ::unsetenv("ATTNJIT_TUNER_FAULT");
  ASSERT_EQ(rep.results.size(), space.size());
  int failed = 0;
  for (const auto& r : rep.results) {
    if (r.config == space[1]) {
      EXPECT_EQ(r.status, CandidateStatus::LaunchError);
      EXPECT_NE(r.reason.find("exited with status 3"), std::string::npos) << r.reason;
      ++failed;
    } else {
      EXPECT_EQ(r.status, CandidateStatus::Ok) << r.key() << ": " << r.reason;
    }
  }
  EXPECT_EQ(failed, 1);
  ASSERT_TRUE(rep.best.has_value());
  EXPECT_NE(rep.results[*rep.best].config, space[1]);
}

}  // namespace
}  // namespace attnjit::tuner

#endif  // ATTNJIT_WITH_LLVM
