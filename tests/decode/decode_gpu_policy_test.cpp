// The launch-time decode policy on a CUDA device (codegen/decode/plan.cpp: kernel, CTA shape and
// split count from the run shape and the device's SM count) and the kernel changes that came with
// it, against the float64 reference: the rule's split counts at the serving shapes it was made
// for (one wave of resident CTAs: 64-66 splits for batch-1 GQA 8 on 132 SMs), the combine at
// many split counts on both kernels (its unrolled loads and their remainder, splits dealt across
// threads), and the f16 MMAs of fp8 caches with bf16 queries outside f16's range. Skips without
// a device.
#include <gtest/gtest.h>

#include <algorithm>

#include "codegen/decode/plan.h"
#include "decode/decode_gpu_backend.h"
#include "decode/decode_harness.h"

namespace attnjit::testing {
namespace {

// The plan the rule makes for a case on this device (what the launch must have used).
DecodeGpuPlan plan_for(const Backend& be, const DecodeCase& c) {
  DecodeGpuPlanInput in;
  in.batch = int64_t(c.seqlens.size());
  in.heads_kv = c.heads_kv;
  in.group = c.group;
  in.q_tokens = c.q_tokens;
  in.seqlen_k = *std::max_element(c.seqlens.begin(), c.seqlens.end());
  in.head_dim = c.head_dim;
  in.kv_bytes = c.kv_dtype == KvDType::Same ? 2 : 1;
  in.sm_count = be.target().sm_count;
  in.smem_per_sm = be.target().smem_per_sm;
  return decode_gpu_plan(in);
}

// Batch-1 GQA 8 and MHA at 32k keys, bf16 and e4m3 caches, contiguous and 16-token pages: the
// split count the launch used is the plan's, and it fills the device's resident CTA slots.
TEST(DecodeGpu, RuleSplitsAtServingShapes) {
  REQUIRE_GPU();
  for (KvDType kv : {KvDType::Same, KvDType::E4M3})
    for (int group : {8, 1})
      for (int page : {0, 16}) {
        DecodeCase c{.dtype = DType::BF16, .head_dim = 128, .heads_kv = group == 8 ? 4 : 8, .group = group,
                     .seqlens = {32768}, .page_size = page, .kv_dtype = kv};
        const DecodeGpuPlan plan = plan_for(*dev, c);
        const DecodeResult r = expect_decode_matches(*dev, c);
        EXPECT_EQ(r.splits, plan.splits) << c.describe();
        EXPECT_GT(plan.waves, 0.5) << c.describe();
        EXPECT_LE(plan.waves, 1.0) << c.describe();
        if (group == 8 && dev->target().sm_count >= 100) {
          EXPECT_TRUE(plan.tensor_cores);
          EXPECT_GE(r.splits, 32) << c.describe();
        }
      }
}

// The combine at split counts around its 8-load unroll and up to its maximum, on the tensor-core
// kernel (8 real rows of 16) and the scalar one (1 row: 4 threads per output), with ragged and
// empty sequences (empty splits weigh 0) and a relaunch (the counters reset).
TEST(DecodeGpu, CombineAtManySplits) {
  REQUIRE_GPU();
  for (int group : {8, 1})
    for (int splits : {7, 8, 9, 31, 64, 127, 128}) {
      DecodeCase c{.dtype = DType::BF16, .head_dim = 128, .heads_kv = 2, .group = group,
                   .seqlens = {40000, 100, 0, 3000}, .splits = splits, .launches = 2};
      const DecodeResult r = expect_decode_matches(*dev, c);
      EXPECT_EQ(r.splits, splits);
    }
}

// fp8 caches run their MMAs in f16: bf16 queries beyond f16's largest value (soft-capped, so the
// scores stay comparable) and far below its normal range, both kinds, MHA and GQA 8.
TEST(DecodeGpu, Fp8Bf16QueriesOutsideF16Range) {
  REQUIRE_GPU();
  for (KvDType kv : {KvDType::E4M3, KvDType::E5M2})
    for (int group : {1, 8}) {
      DecodeCase c{.dtype = DType::BF16, .head_dim = 128, .heads_kv = 2, .group = group, .seqlens = {3000, 5},
                   .splits = 2, .softcap = 5.0, .q_gain = 3e5f, .kv_dtype = kv};
      expect_decode_matches(*dev, c);
      c.softcap = 0;
      c.q_gain = 1e-6f;
      expect_decode_matches(*dev, c);
    }
}

}  // namespace
}  // namespace attnjit::testing
