// decode_gpu_plan over the serving grid of issue #19 (batch 1..64, GQA group 1..8, 4k..128k
// keys, 132 and 108 SMs, bf16 and fp8 caches): the kernel choice, the residency estimate, and a
// split count that fills one wave of resident CTAs (when one split per sequence and KV head is
// under a wave) wherever the length allows it, never splits below kDecodeMinKeysPerSplit keys or
// beyond the combine's maximum, and leaves large batches unsplit; the tuner's fixed fields are
// honoured.
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
  EXPECT_TRUE(decode_gpu_plan(shape(1, 1, 4096, 1)).tensor_cores);  // fp8: operands converted for the MMAs
  // fp8 blocks of 32 keys (16-bit K/V's bytes per stage), 16 at head dim 256 (registers).
  EXPECT_EQ(decode_gpu_plan(shape(1, 8, 4096, 1)).block_n, 32);
  EXPECT_EQ(decode_gpu_plan(shape(1, 8, 4096, 2)).block_n, 16);
  DecodeGpuPlanInput q = shape(1, 4, 4096);
  q.q_tokens = 2;  // 8 rows
  EXPECT_TRUE(decode_gpu_plan(q).tensor_cores);
  q.head_dim = 32;  // no tensor-core kernel for head dim 32
  EXPECT_FALSE(decode_gpu_plan(q).tensor_cores);
  DecodeGpuPlanInput hd256 = shape(1, 8, 4096);
  hd256.head_dim = 256;
  EXPECT_EQ(decode_gpu_plan(hd256).warps, 2);
  hd256.kv_bytes = 1;
  EXPECT_EQ(decode_gpu_plan(hd256).block_n, 16);
}

// Over the serving grid and both SM counts (H100/H200 132, A100 108): a grid of at most one
// wave of resident CTAs, as many splits as fit in it (within the caps: the longest split
// kDecodeMinKeysPerSplit keys, the combine's maximum), none when the unsplit grid already
// fills a wave; residency from shared memory, warps and registers.
TEST(DecodeGpuPlan, SplitsFillOneWaveOnTheServingGrid) {
  for (int sms : {132, 108})
    for (int kvb : {2, 1})
      for (int64_t batch : {1, 2, 8, 16, 64})
        for (int64_t group : {1, 2, 4, 8})
          for (int64_t len : {4096, 32768, 131072}) {
            DecodeGpuPlanInput in = shape(batch, group, len, kvb);
            in.sm_count = sms;
            const DecodeGpuPlan p = decode_gpu_plan(in);
            const std::string what = "batch " + std::to_string(batch) + " group " + std::to_string(group) +
                                     " len " + std::to_string(len) + " kv bytes " + std::to_string(kvb) +
                                     " SMs " + std::to_string(sms);
            EXPECT_GE(p.ctas_per_sm, 1) << what;
            EXPECT_LE(p.ctas_per_sm * p.warps, 64) << what;
            EXPECT_GE(p.splits, 1) << what;
            EXPECT_LE(p.splits, kDecodeMaxSplits) << what;
            EXPECT_GE(len / p.splits, kDecodeMinKeysPerSplit) << what;
            const int64_t units = batch * in.heads_kv * ((group + p.block_m - 1) / p.block_m);
            const int64_t slots = int64_t(sms) * p.ctas_per_sm;
            EXPECT_EQ(p.ctas, units * p.splits) << what;
            if (units >= slots) {
              EXPECT_EQ(p.splits, 1) << what;  // the batch fills the GPU: no combine at all
              continue;
            }
            EXPECT_LE(p.ctas, slots) << what;  // one wave: no CTA waits for a slot
            const int64_t cap = std::min<int64_t>(kDecodeMaxSplits, len / kDecodeMinKeysPerSplit);
            if (p.splits < cap) {
              // Not capped: one more split would not fit the wave, or would not shorten the
              // longest split (whole blocks of block_n keys).
              const int64_t blocks = (len + p.block_n - 1) / p.block_n;
              const auto longest = [&](int64_t s) { return (blocks + s - 1) / s; };
              EXPECT_TRUE(units * (p.splits + 1) > slots || longest(p.splits + 1) == longest(p.splits)) << what;
              EXPECT_GT(p.waves, 0.5) << what;
            }
          }
}

// The points measured slow on the H200 at f309fac, and what the plan does now.
TEST(DecodeGpuPlan, MeasuredSlowPointsGetOneFullWave) {
  // Batch-1 GQA 8 (4 KV heads): 128 splits in two waves before; now 64-66
  // splits, one wave of the 264 tensor-core slots.
  for (int64_t len : {32768, 131072}) {
    const DecodeGpuPlan p = decode_gpu_plan(shape(1, 8, len));
    EXPECT_TRUE(p.tensor_cores);
    EXPECT_EQ(p.ctas_per_sm, 2);  // 98 KiB of rings per CTA
    EXPECT_GE(p.splits, 64) << len;
    EXPECT_LE(p.splits, 66) << len;
    EXPECT_GE(p.waves, 0.96) << len;
  }
  // Batch 8 x 32k GQA 8: 17 splits = 2.06 waves (a nearly empty third) before; now 8, 0.97.
  const DecodeGpuPlan b8 = decode_gpu_plan(shape(8, 8, 32768));
  EXPECT_EQ(b8.splits, 8);
  EXPECT_LE(b8.waves, 1.0);
  // MHA runs the scalar kernel, 6 CTAs per SM (shared memory; 48 registers): 24 splits at batch 1.
  const DecodeGpuPlan mha = decode_gpu_plan(shape(1, 1, 131072));
  EXPECT_FALSE(mha.tensor_cores);
  EXPECT_EQ(mha.ctas_per_sm, 6);
  EXPECT_EQ(mha.splits, 24);
  // A full batch stays unsplit.
  EXPECT_EQ(decode_gpu_plan(shape(64, 8, 131072)).splits, 1);
}

// The cost model itself: waves round up, the combine and the fixed costs grow with the count.
TEST(DecodeGpuPlan, SplitCostCountsWavesKeysAndTheCombine) {
  DecodeSplitCostInput c;
  c.units = 4;
  c.slots = 264;
  c.blocks = 2048;  // 32k keys of 16
  c.block_n = 16;
  c.key_bytes = 512;
  c.partial_bytes = 8 * 128 * 4;
  const double one = decode_split_cost(c, 1);
  EXPECT_DOUBLE_EQ(one, 2048.0 * 16 * 512 + kDecodeCtaFixedBytes);
  EXPECT_LT(decode_split_cost(c, 66), decode_split_cost(c, 33));   // both one wave: shorter CTAs
  EXPECT_LT(decode_split_cost(c, 66), decode_split_cost(c, 67));   // 67: a second wave
  EXPECT_LT(decode_split_cost(c, 64), decode_split_cost(c, 65));   // same keys per CTA, one more partial
  // Two splits: half the keys, the partials written, and the combine reading both.
  EXPECT_DOUBLE_EQ(decode_split_cost(c, 2), 1024.0 * 16 * 512 + kDecodeCtaFixedBytes + c.partial_bytes +
                                                kDecodeCombineCost * 2 * c.partial_bytes);
  // 133 splits: 532 CTAs, three waves of 16 blocks each.
  EXPECT_DOUBLE_EQ(decode_split_cost(c, 133), 3 * (16.0 * 16 * 512 + kDecodeCtaFixedBytes + c.partial_bytes) +
                                                  kDecodeCombineCost * 133 * c.partial_bytes);
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
