// The decode planning rules: row chunks, the split rule (fills the machine, never more splits
// than KV blocks, honours a fixed count) and the workspace size.
#include "codegen/decode/plan.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace attnjit {
namespace {

ProblemSpec spec_with(int group, int q_tokens) {
  return ProblemSpec::for_shape(Family::Decode, DType::BF16, 128, {}, group * 8, 8, q_tokens, 4096);
}

TileConfig cfg_with(int bm, int bn, int splits = 0) {
  TileConfig c;
  c.block_m = bm;
  c.block_n = bn;
  c.splits = splits;
  return c;
}

Target h100() {
  Target t = Target::cuda("sm_90a");
  t.sm_count = 132;
  return t;
}

TEST(DecodePlan, RowChunksCoverGroupTimesTokens) {
  EXPECT_EQ(decode_rows(spec_with(8, 4)), 32);
  EXPECT_EQ(decode_row_chunks(spec_with(8, 4), cfg_with(8, 16)), 4);
  EXPECT_EQ(decode_row_chunks(spec_with(3, 1), cfg_with(2, 16)), 2);  // 3 rows: last chunk half empty
  EXPECT_EQ(decode_row_chunks(spec_with(1, 1), cfg_with(1, 16)), 1);
  EXPECT_THROW(decode_row_chunks(spec_with(1, 1), cfg_with(0, 16)), SpecError);
}

TEST(DecodePlan, SplitRuleFillsTheGpuAndNeverExceedsKvBlocks) {
  const ProblemSpec s = spec_with(8, 1);
  const TileConfig c = cfg_with(8, 16);
  // batch 1 x 8 KV heads = 8 CTAs on 132 SMs: split until one wave of CTAs is resident.
  const int one = decode_num_splits(s, c, h100(), RunShape{1, 64, 8, 1, 131072});
  EXPECT_GE(one * 8, 132) << one;
  EXPECT_LE(one, kDecodeMaxSplits);
  // Already a full wave of CTAs: no split.
  EXPECT_EQ(decode_num_splits(s, c, h100(), RunShape{64, 512, 8, 1, 4096}), 1);
  // A short sequence: no split under kDecodeMinKeysPerSplit keys (the combine would dominate).
  EXPECT_EQ(decode_num_splits(s, c, h100(), RunShape{1, 64, 8, 1, 40}), 1);
  EXPECT_EQ(decode_num_splits(s, c, h100(), RunShape{1, 64, 8, 1, 3 * kDecodeMinKeysPerSplit}), 3);
  EXPECT_EQ(decode_num_splits(s, c, h100(), RunShape{1, 64, 8, 1, 0}), 1);
  // More KV blocks, more CTAs wanted: the split count never decreases with the length.
  int prev = 1;
  for (int64_t len : {16, 64, 256, 1024, 4096, 65536}) {
    const int n = decode_num_splits(s, c, h100(), RunShape{1, 64, 8, 1, len});
    EXPECT_GE(n, prev) << len;
    EXPECT_LE(n, decode_kv_blocks(c, len)) << len;
    prev = n;
  }
}

TEST(DecodePlan, FixedSplitsAreCappedByBlocksAndTheMaximum) {
  const ProblemSpec s = spec_with(1, 1);
  EXPECT_EQ(decode_num_splits(s, cfg_with(1, 16, 7), h100(), RunShape{4, 8, 8, 1, 4096}), 7);
  EXPECT_EQ(decode_num_splits(s, cfg_with(1, 16, 7), h100(), RunShape{4, 8, 8, 1, 20}), 2);
  EXPECT_EQ(decode_num_splits(s, cfg_with(1, 16, 128), h100(), RunShape{1, 8, 8, 1, 1 << 20}), 128);
  EXPECT_THROW(decode_num_splits(s, cfg_with(1, 16, -1), h100(), RunShape{1, 8, 8, 1, 64}), SpecError);
}

TEST(DecodePlan, CpuRuleGivesEveryThreadWork) {
  Target cpu = Target::cpu("icelake-client");
  cpu.sm_count = 8;
  const ProblemSpec s = spec_with(1, 1);
  TileConfig c = cfg_with(1, 64);
  // One sequence, one KV head, 100k keys: 4 items for each of the 8 threads (handed out
  // dynamically, so a thread slowed by a shared core takes fewer).
  EXPECT_EQ(decode_num_splits(s, c, cpu, RunShape{1, 1, 1, 1, 100000}), 32);
  // A CPU item holds a group of KV heads (8192 / (rows * head dim) of them): 4 sequences x 8
  // heads are 4 items, so each sequence splits in 8; 8 sequences in 4; 32 need no split.
  const int64_t per = decode_cpu_heads_per_item(s, c);
  EXPECT_EQ(per, std::clamp<int64_t>(8192 / (int64_t(c.block_m) * s.head_dim), 1, 64));
  ASSERT_GE(per, 8);
  EXPECT_EQ(decode_num_splits(s, c, cpu, RunShape{4, 8, 8, 1, 100000}), 8);
  EXPECT_EQ(decode_num_splits(s, c, cpu, RunShape{8, 8, 8, 1, 100000}), 4);
  EXPECT_EQ(decode_num_splits(s, c, cpu, RunShape{32, 8, 8, 1, 100000}), 1);
  // 3 items (rule gives 11 splits) but only 5 keys' worth of 512-key splits.
  EXPECT_EQ(decode_num_splits(s, c, cpu, RunShape{3, 8, 8, 1, 5 * 512 + 100}), 5);
  // Query rows of 8 GQA heads x 128 dims: 8 KV heads per item.
  TileConfig g8 = cfg_with(8, 64);
  EXPECT_EQ(decode_cpu_heads_per_item(spec_with(8, 1), g8), 8192 / (8 * spec_with(8, 1).head_dim));
  // Short sequences are not worth splitting.
  EXPECT_EQ(decode_num_splits(s, c, cpu, RunShape{1, 1, 1, 1, 600}), 1);
}

TEST(DecodePlan, WorkspaceSizes) {
  const ProblemSpec s = spec_with(8, 2);  // 16 rows per KV head
  const TileConfig c = cfg_with(8, 16);   // 2 chunks
  const RunShape shape{3, 64, 8, 2, 1000};
  const DecodeWorkspace none = decode_workspace(s, c, shape, 1);
  EXPECT_EQ(none.partial_o_bytes + none.partial_lse_bytes + none.counter_bytes, 0);
  const DecodeWorkspace w = decode_workspace(s, c, shape, 5);
  const int64_t slots = 3 * 8 * 2;
  EXPECT_EQ(w.counter_bytes, slots * 4);
  EXPECT_EQ(w.partial_lse_bytes, slots * 5 * 8 * 4);
  EXPECT_EQ(w.partial_o_bytes, slots * 5 * 8 * 128 * 4);
  EXPECT_THROW(decode_workspace(s, c, shape, 0), SpecError);
  EXPECT_THROW(decode_workspace(s, c, shape, kDecodeMaxSplits + 1), SpecError);
  // Two-level combine (tensor cores, 16 rows: 1 chunk): 5 splits in groups of 2 -> 3 group
  // partials per slot and a counter each.
  const TileConfig c16 = cfg_with(16, 16);
  const DecodeWorkspace t = decode_workspace(s, c16, shape, 5, 2);
  const int64_t slots16 = 3 * 8;
  EXPECT_EQ(t.combine_group, 2);
  EXPECT_EQ(t.counter_bytes, slots16 * (1 + 3) * 4);
  EXPECT_EQ(t.partial_lse_bytes, slots16 * (5 + 3) * 16 * 4);
  EXPECT_EQ(t.partial_o_bytes, slots16 * (5 + 3) * 16 * 128 * 4);
  // A group of all splits (or more) is one level; so is any group on the scalar kernel.
  for (int g : {5, 9, 2}) {
    const DecodeWorkspace one = decode_workspace(s, g == 2 ? c : c16, shape, 5, g);
    const DecodeWorkspace& w1 = g == 2 ? w : decode_workspace(s, c16, shape, 5);
    EXPECT_EQ(one.combine_group, 0);
    EXPECT_EQ(one.counter_bytes, w1.counter_bytes);
    EXPECT_EQ(one.partial_o_bytes, w1.partial_o_bytes);
  }
  EXPECT_THROW(decode_workspace(s, c, shape, 5, -1), SpecError);
}

// Two levels where one CTA would issue many loads per thread: many splits of several rows.
TEST(DecodePlan, CombineGroupRule) {
  TileConfig mma = cfg_with(16, 16);  // tensor cores, 4 warps = 128 threads
  mma.warps = 4;
  const ProblemSpec g8 = spec_with(8, 1);  // 8 rows: 256 outputs, 2 per thread
  EXPECT_EQ(decode_combine_group(g8, mma, h100(), 66), 9);   // 132 loads a thread -> 8 + 9 partials
  EXPECT_EQ(decode_combine_group(g8, mma, h100(), 128), 12);
  EXPECT_EQ(decode_combine_group(g8, mma, h100(), 16), 0);   // 32 loads: one level
  EXPECT_EQ(decode_combine_group(g8, mma, h100(), 17), 5);   // 34
  const ProblemSpec g16 = spec_with(16, 1);  // 16 rows: 4 outputs a thread
  EXPECT_EQ(decode_combine_group(g16, mma, h100(), 15), 0);  // 60 loads, but under kDecodeTreeMinSplits
  TileConfig scalar = cfg_with(1, 64);
  scalar.warps = 4;
  const ProblemSpec mha = spec_with(1, 1);  // 1 row: 32 outputs, 4 threads each
  EXPECT_EQ(decode_combine_group(mha, scalar, h100(), 24), 0);
  EXPECT_EQ(decode_combine_group(mha, scalar, h100(), 128), 0);  // 32 loads a thread at the most
  TileConfig scalar8 = cfg_with(8, 64);  // 8 rows on the scalar kernel: 2 outputs a thread, but
  scalar8.warps = 4;                     // the scalar kernel combines in one level
  EXPECT_EQ(decode_combine_group(g8, scalar8, h100(), 66), 0);
  EXPECT_EQ(decode_combine_group(g8, mma, Target::cpu("znver3"), 66), 0);  // the CPU: one level
}

}  // namespace
}  // namespace attnjit
