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
  testing::CpuTuning t(spec(), 2);
  testing::expect_every_candidate_passes(t.run(testing::quick_random_options(3)));
}
#endif

}  // namespace
}  // namespace attnjit::tuner
