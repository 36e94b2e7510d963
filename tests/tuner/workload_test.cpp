// Tuning shapes, reduced shapes and the FLOP convention.
#include <gtest/gtest.h>

#include "tuner/workload.h"

namespace attnjit::tuner {
namespace {

TEST(Workload, GpuShapeIsTheFlashAttentionBenchmarkGrid) {
  const ProblemSpec s = ProblemSpec::parse("prefill_bf16_hd128_causal_g1_q4096_k4096_even");
  const RunShape r = tuning_shape(s, Platform::Cuda);
  EXPECT_EQ(r.batch, 4);        // 16384 tokens / 4096
  EXPECT_EQ(r.heads_q, 16);     // hidden 2048 / 128
  EXPECT_EQ(r.heads_kv, 16);
  EXPECT_EQ(r.seqlen_q, 4096);
  EXPECT_EQ(r.seqlen_k, 4096);
  // 4·B·H·S·S·D / 2 for causal.
  EXPECT_DOUBLE_EQ(prefill_flops(s, r), 4.0 * 4 * 16 * 4096.0 * 4096.0 * 128 / 2);
}

TEST(Workload, NonEvenKeysUseLengthsInTheBucketThatAreNotTileMultiples) {
  const ProblemSpec s = ProblemSpec::parse("prefill_f32_hd64_none_g4_q1024_k2048");
  const RunShape r = tuning_shape(s, Platform::Cpu);
  EXPECT_EQ(r.seqlen_q, 1023);
  EXPECT_EQ(r.seqlen_k, 2047);
  EXPECT_EQ(length_bucket(r.seqlen_q), 1024);
  EXPECT_EQ(length_bucket(r.seqlen_k), 2048);
  EXPECT_EQ(r.heads_q % 4, 0);
  EXPECT_EQ(r.heads_q / r.heads_kv, 4);
  EXPECT_EQ(ProblemSpec::for_shape(s.family, s.dtype, s.head_dim, s.mask, r.heads_q, r.heads_kv,
                                   r.seqlen_q, r.seqlen_k).key(), s.key());
}

TEST(Workload, TheTuningShapeMapsBackToItsOwnKey) {
  for (const char* k : {"prefill_bf16_hd64_sw4096-0_g1_q512_k512_even", "prefill_f16_hd256_causal_g8_q16384_k16384_even",
                        "prefill_f32_hd32_none_g1_q16_k16"}) {
    const ProblemSpec s = ProblemSpec::parse(k);
    for (Platform p : {Platform::Cuda, Platform::Cpu}) {
      const RunShape r = tuning_shape(s, p);
      EXPECT_EQ(ProblemSpec::for_shape(s.family, s.dtype, s.head_dim, s.mask, r.heads_q, r.heads_kv,
                                       r.seqlen_q, r.seqlen_k).key(), s.key()) << k;
    }
  }
}

TEST(Workload, EvenKeyWithASmallBucketCannotBeRun) {
  ProblemSpec s = ProblemSpec::parse("prefill_f32_hd64_none_g1_q64_k64");
  s.even = true;
  EXPECT_THROW(tuning_shape(s, Platform::Cpu), SpecError);
}

TEST(Workload, ReducedShapeCutsTheLargestTileInHalf) {
  const RunShape e = reduced_shape(ProblemSpec::parse("prefill_bf16_hd128_causal_g4_q4096_k4096_even"));
  EXPECT_EQ(e.seqlen_q % 128, 0);
  EXPECT_EQ(e.heads_q, 8);
  EXPECT_EQ(e.heads_kv, 2);
  const RunShape n = reduced_shape(ProblemSpec::parse("prefill_bf16_hd128_causal_g1_q4096_k4096"));
  EXPECT_NE(n.seqlen_q % 64, 0);
  EXPECT_NE(n.seqlen_k % 64, 0);
}

TEST(Workload, SlidingWindowCountsVisiblePairs) {
  const ProblemSpec s = ProblemSpec::parse("prefill_bf16_hd64_sw2-0_g1_q16_k16");
  // Row i sees keys [i-2, i]: 1 + 2 + 3*14 pairs.
  EXPECT_DOUBLE_EQ(visible_pairs(s, 16, 16), 1 + 2 + 3 * 14);
  const ProblemSpec wide = ProblemSpec::parse("prefill_bf16_hd64_sw4096-0_g1_q512_k512_even");
  EXPECT_DOUBLE_EQ(visible_pairs(wide, 512, 512), 512.0 * 513 / 2);  // the window covers all: causal
}

}  // namespace
}  // namespace attnjit::tuner
