// ALiBi and sinks on decode keys through the tuner: the tuning case draws slopes (per batch
// entry) and sinks, attaches them to every launch and to the float64 reference of the
// correctness gate, and on the CPU backend every candidate of a paged causal multi-token key
// with both passes the gate.
#include <gtest/gtest.h>

#include "codegen/registry.h"
#include "db/database.h"
#include "tuner/decode_case.h"
#include "tuner/tuner.h"
#include "tuner/workload.h"
#include "tuner_test_util.h"

namespace attnjit::tuner {
namespace {

#ifdef ATTNJIT_WITH_LLVM
const ProblemSpec& spec() {
  static const ProblemSpec s = ProblemSpec::parse("decode_f32_hd64_causal_alibi_sink_g2_q2_k512_p16");
  return s;
}

TEST(TuneDecodeAlibiSink, CaseAttachesTheTensorsToLaunchesAndTheReference) {
  Backend& be = testing::cpu_backend();
  const RunShape shape = reduced_shape(spec());
  DecodeCase c(be, spec(), shape, reduced_seqlens(spec(), shape), 7, 2);
  const ReferenceProblem rp = c.reference_problem();
  EXPECT_EQ(static_cast<int64_t>(rp.sinks.size()), shape.heads_q);
  EXPECT_GE(static_cast<int64_t>(rp.alibi_slopes.size()), shape.heads_q);
  for (int set = 0; set < 2; ++set) {
    const DecodeArgs& a = *c.args(set).decode;
    EXPECT_TRUE(a.problem.alibi && a.problem.sink);
    ASSERT_NE(a.alibi_slopes, nullptr);
    ASSERT_NE(a.sinks, nullptr);
    EXPECT_EQ(a.alibi_batch_stride, rp.alibi_batch_stride);
    for (size_t h = 0; h < rp.sinks.size(); ++h) EXPECT_EQ(double(a.sinks[h]), rp.sinks[h]);  // host memory
  }
}

TEST(TuneDecodeAlibiSink, CpuCandidatesPassTheGate) {
  Backend& be = testing::cpu_backend();
  const KernelTemplate& real = select_template(spec(), be.target());
  testing::RestrictedTemplate tmpl(real, testing::small_space(real, spec(), be.target(), 2));
  Database db = Database::open(":memory:");
  DbResultStore store(db, device_info_for(be));
  TuneOptions o;
  o.measure.max_seconds = 0.15;
  o.measure.min_samples = 5;
  o.strategy = Strategy::Random;
  o.budget.candidates = 3;
  InProcessExecutor ex(be, tmpl, spec(), EvaluatorOptions{}, 2);
  const TuneReport rep = tune_problem(ex, tmpl, be.target(), spec(), o, &store);
  ASSERT_TRUE(rep.best.has_value()) << rep.baseline_note;
  EXPECT_EQ(rep.baseline_note, "");
  for (const CandidateResult& r : rep.results) {
    EXPECT_EQ(r.status, CandidateStatus::Ok) << r.key() << ": " << r.reason;
    EXPECT_LE(r.max_error, r.tolerance) << r.key();
  }
}
#endif

}  // namespace
}  // namespace attnjit::tuner
