// An fp8 KV cache through the tuner: its K+V bytes count one per element, and on the CPU
// backend every candidate of a paged e4m3 problem with 4-token pages passes the correctness gate
// (the reduced problem's K/V go through the cache's codes and scales, the reference sees them).
#include <gtest/gtest.h>

#include "codegen/registry.h"
#include "db/database.h"
#include "tuner/tuner.h"
#include "tuner/workload.h"
#include "tuner_test_util.h"

namespace attnjit::tuner {
namespace {

TEST(TuneDecodeFp8, KvBytesCountTheCodes) {
  const ProblemSpec bf16 = ProblemSpec::parse("decode_bf16_hd128_none_g8_q1_k32768_p16");
  const ProblemSpec e4 = ProblemSpec::parse("decode_bf16_hd128_none_g8_q1_k32768_p16_kv-e4m3");
  const RunShape s = tuning_shape(e4, Platform::Cuda);
  EXPECT_DOUBLE_EQ(decode_kv_bytes(e4, s) * 2, decode_kv_bytes(bf16, s));
}

#ifdef ATTNJIT_WITH_LLVM
TEST(TuneDecodeFp8, CpuCandidatesPassTheGate) {
  testing::CpuTuning t(ProblemSpec::parse("decode_bf16_hd64_causal_g2_q2_k512_p4_kv-e4m3"), 2);
  const TuneReport rep = t.run(testing::quick_random_options(3));
  ASSERT_NO_FATAL_FAILURE(testing::expect_every_candidate_passes(rep));
  for (const CandidateResult& r : rep.results) EXPECT_GT(r.gbps, 0) << r.key();
}
#endif

}  // namespace
}  // namespace attnjit::tuner
