// decode_gpu_plan over the serving grid of issue #19 (batch 1..64, GQA group 1..8, 4k..128k
// keys, 132 SMs, bf16 and fp8 caches): the kernel choice, the residency estimate, and a split
// count that reaches kDecodeTargetWaves waves of CTAs (when one split per sequence and KV head is
// under a wave) wherever the length allows it, never
// splits below kDecodeMinKeysPerSplit keys or beyond the combine's maximum, and leaves large
// batches unsplit; the tuner's fixed fields are honoured.
#include <gtest/gtest.h>

#include <algorithm>

#include "codegen/decode/plan.h"

namespace attnjit {
namespace {

DecodeGpuPlanInput shape(int64_t batch, int64_t group, int64_t len, int kv_bytes = 2) {
  DecodeGpuPlanInput in;
  in.batch = batch;
  in.heads_kv = 32 / group;  // 32 query heads, as the bench grid
  in.group = group;
  in.seqlen_k = len;
  in.head_dim = 128;
  in.kv_bytes = kv_bytes;
  in.sm_count = 132;
  return in;
}

TEST(DecodeGpuPlan, KernelFollowsRowsAndFp8) {
  EXPECT_FALSE(decode_gpu_plan(shape(1, 1, 4096)).tensor_cores);  // MHA: scalar, 1 row per CTA
  EXPECT_EQ(decode_gpu_plan(shape(1, 1, 4096)).block_m, 1);
  EXPECT_EQ(decode_gpu_plan(shape(1, 4, 4096)).block_m, 4);
  EXPECT_TRUE(decode_gpu_plan(shape(1, 8, 4096)).tensor_cores);
  EXPECT_TRUE(decode_gpu_plan(shape(1, 1, 4096, 1)).tensor_cores);  // fp8: dequantised for ldmatrix
  DecodeGpuPlanInput q = shape(1, 4, 4096);
  q.q_tokens = 2;  // 8 rows
  EXPECT_TRUE(decode_gpu_plan(q).tensor_cores);
  q.head_dim = 32;  // no tensor-core kernel for head dim 32
  EXPECT_FALSE(decode_gpu_plan(q).tensor_cores);
  DecodeGpuPlanInput hd256 = shape(1, 8, 4096);
  hd256.head_dim = 256;
  EXPECT_EQ(decode_gpu_plan(hd256).warps, 2);
}

TEST(DecodeGpuPlan, SplitsReachTwoWavesOnTheServingGrid) {
  for (int kvb : {2, 1})
    for (int64_t batch : {1, 8, 64})
      for (int64_t group : {1, 4, 8})
        for (int64_t len : {4096, 32768, 131072}) {
          const DecodeGpuPlanInput in = shape(batch, group, len, kvb);
          const DecodeGpuPlan p = decode_gpu_plan(in);
          const std::string what = "batch " + std::to_string(batch) + " group " + std::to_string(group) +
                                   " len " + std::to_string(len) + " kv bytes " + std::to_string(kvb);
          EXPECT_GE(p.ctas_per_sm, 1) << what;
          EXPECT_LE(p.ctas_per_sm * p.warps, 64) << what;
          EXPECT_GE(p.splits, 1) << what;
          EXPECT_LE(p.splits, kDecodeMaxSplits) << what;
          EXPECT_GE(len / p.splits, kDecodeMinKeysPerSplit) << what;
          const int64_t units = batch * in.heads_kv * ((group + p.block_m - 1) / p.block_m);
          EXPECT_EQ(p.ctas, units * p.splits) << what;
          const double unit_waves = double(units) / (132.0 * p.ctas_per_sm);
          if (unit_waves >= 1.0) {
            EXPECT_EQ(p.splits, 1) << what;  // the batch fills the GPU: no combine at all
          } else if (p.splits < std::min<int64_t>(kDecodeMaxSplits, len / kDecodeMinKeysPerSplit)) {
            EXPECT_GE(p.waves, kDecodeTargetWaves) << what;  // not capped: the target is reached
            EXPECT_LT(p.waves, kDecodeTargetWaves + 1.0) << what;  // and not overshot
          } else {  // capped by the combine's maximum or the shortest split
            EXPECT_EQ(p.splits, std::min<int64_t>(kDecodeMaxSplits, len / kDecodeMinKeysPerSplit)) << what;
            EXPECT_LT(p.waves, kDecodeTargetWaves) << what;
          }
        }
  // Batch-1 GQA 8 at 32k (the case measured at 0.47x the copy ceiling with 57 splits): now 128
  // splits of 256 keys over 4 KV heads, about two waves.
  const DecodeGpuPlan b1 = decode_gpu_plan(shape(1, 8, 32768));
  EXPECT_EQ(b1.splits, 128);
  EXPECT_GE(b1.waves, 1.9);
}

TEST(DecodeGpuPlan, TunerFieldsOverrideAndShortSequencesStayWhole) {
  DecodeGpuPlanInput in = shape(1, 8, 131072);
  in.splits = 7;
  EXPECT_EQ(decode_gpu_plan(in).splits, 7);
  in.splits = 0;
  in.block_m = 4;  // the scalar kernel, forced
  in.warps = 8;
  const DecodeGpuPlan p = decode_gpu_plan(in);
  EXPECT_FALSE(p.tensor_cores);
  EXPECT_EQ(p.warps, 8);
  EXPECT_EQ(decode_gpu_plan(shape(1, 8, 100)).splits, 1);
  EXPECT_EQ(decode_gpu_plan(shape(1, 8, 0)).splits, 1);
  EXPECT_THROW(decode_gpu_plan(shape(0, 8, 100)), SpecError);
  // More SMs, more splits (until the caps).
  DecodeGpuPlanInput small = shape(1, 1, 131072), big = small;
  small.sm_count = 16;
  EXPECT_LT(decode_gpu_plan(small).splits, decode_gpu_plan(big).splits);
}

}  // namespace
}  // namespace attnjit
