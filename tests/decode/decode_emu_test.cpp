// templates/decode/sm80.cuh — the real GPU kernel — run on the CPU emulator of tests/emu (CUDA
// threads as fibers, warp collectives, cp.async with poisoned in-flight shared memory, blocks one
// at a time) through the same harness as the CPU and GPU suites, so the GPU kernel's indexing,
// pipeline, masking, lane-group and warp merges, split partials and last-block-done combine are
// checked against the float64 reference on a machine without a GPU.
//
// How: an emulator Backend whose memory is host memory and whose get_kernel maps the rendered
// prelude (codegen's DecodeConfig constants) to one of the instantiations compiled in below; the
// template's inline-PTX helpers are replaced by emulated ones (ATTNJIT_DECODE_EMULATED_PTX).
// Configs are codegen's defaults, so this also checks codegen's mapping from specs to template
// arguments.
#include "decode/decode_emu_backend.h"

namespace attnjit::testing {
namespace {

// Every instantiation the cases below reach: codegen's default configs for their specs, and the
// configs they force (scalar kernel at 8 rows, other tensor-core tilings).
using decode::Bf16;
using decode::F16;
const std::map<std::string, Body>& registry() {
  static const auto r = kernels<
      Cfg<Bf16, 128, 1, 1, 1, 4, 16, 4, 0, 0, 0, 0>,       // MHA, contiguous
      Cfg<F16, 64, 4, 4, 8, 4, 32, 4, 16, 1, 0, 0>,        // GQA 4 x 4 tokens, paged 16, causal
      Cfg<Bf16, 32, 2, 2, 4, 4, 64, 4, 0, 2, 20, 1>,       // window 20 / 1
      Cfg<Bf16, 256, 8, 1, 8, 4, 8, 4, 256, 0, 0, 0>,      // hd 256, GQA 8, paged 256
      Cfg<Bf16, 128, 8, 4, 8, 4, 16, 4, 16, 1, 0, 0>,      // 32 rows: 4 chunks
      // tensor-core kernel (block_m 16)
      Cfg<F16, 64, 4, 4, 16, 4, 16, 3, 16, 1, 0, 0>,       // GQA 4 x 4 tokens, paged 16, causal
      Cfg<Bf16, 256, 8, 1, 16, 2, 16, 3, 256, 0, 0, 0>,    // hd 256, GQA 8, paged 256
      Cfg<Bf16, 128, 8, 4, 16, 4, 16, 3, 16, 1, 0, 0>,     // 32 rows: 2 chunks
      Cfg<Bf16, 128, 8, 1, 16, 2, 64, 2, 0, 2, 40, 3>,     // GQA 8, window 40 / 3, 64 keys per warp
      Cfg<Bf16, 128, 8, 1, 16, 8, 16, 2, 0, 0, 0, 0>,      // GQA 8, 8 warps
      Cfg<Bf16, 128, 8, 1, 16, 4, 32, 2, 0, 0, 0, 0>,      // GQA 8, 32 keys per warp
      Cfg<Bf16, 128, 8, 1, 16, 4, 16, 3, 0, 0, 0, 0>,      // GQA 8, contiguous: the default
      // soft-capping: tensor-core default and the scalar kernel, c = 50, 30.5, 5
      Capped<Cfg<F16, 64, 4, 4, 16, 4, 16, 3, 16, 1, 0, 0>, 100>,
      Capped<Cfg<F16, 64, 4, 4, 16, 4, 16, 3, 16, 1, 0, 0>, 61>,
      Capped<Cfg<F16, 64, 4, 4, 16, 4, 16, 3, 16, 1, 0, 0>, 10>,
      Capped<Cfg<F16, 64, 4, 4, 8, 4, 32, 4, 16, 1, 0, 0>, 10>,
      Capped<Cfg<F16, 64, 4, 4, 8, 4, 32, 4, 16, 1, 0, 0>, 61>>();
  return r;
}

TEST(DecodeEmu, MhaContiguousRaggedWithSplits) {
  EmuBackend be(emu::Order::Forward, registry());
  DecodeCase c{.dtype = DType::BF16, .head_dim = 128, .heads_kv = 2, .group = 1, .seqlens = {1, 7, 300}};
  for (int splits : {1, 3}) {
    c.splits = splits;
    c.launches = 2;  // the second launch needs the counters the first one reset
    expect_decode_matches(be, c);
  }
}

TEST(DecodeEmu, GqaPagedCausalQueryTokensAndEmptySequence) {
  EmuBackend be(emu::Order::Shuffle, registry());
  DecodeCase c{.dtype = DType::F16, .head_dim = 64, .mask = {.kind = MaskKind::Causal}, .heads_kv = 1,
               .group = 4, .q_tokens = 4, .seqlens = {0, 50, 200}, .page_size = 16, .splits = 4};
  // The default (tensor cores, 16 rows) and the scalar kernel at 8 rows per CTA.
  for (const char* cfg : {"", "bm8_bn32_w4_s4_v8"}) {
    c.config = *cfg ? std::optional<TileConfig>(TileConfig::parse(cfg)) : std::nullopt;
    const DecodeResult r = expect_decode_matches(be, c);
    for (size_t i = 0; i < size_t(4 * 4 * 64); ++i) EXPECT_EQ(r.o[i], 0.f);  // the empty sequence
  }
}

// Soft-capping on both decode kernels: Q scaled up (scores to ~+-20) so c = 5 bends most scores;
// GQA 4 x 4 tokens, paged, causal, an empty sequence and a 1-key one (rows that see nothing).
TEST(DecodeEmu, SoftcapBothKernels) {
  EmuBackend be(emu::Order::Shuffle, registry());
  DecodeCase c{.dtype = DType::F16, .head_dim = 64, .mask = {.kind = MaskKind::Causal}, .heads_kv = 1,
               .group = 4, .q_tokens = 4, .seqlens = {0, 1, 90}, .page_size = 16, .splits = 2,
               .q_gain = 16.f};
  for (double cap : {50.0, 30.5, 5.0})
    for (const char* cfg : {"", "bm8_bn32_w4_s4_v8"}) {
      if (*cfg && cap == 50.0) continue;  // the scalar kernel: 30.5 and 5
      c.softcap = cap;
      c.config = *cfg ? std::optional<TileConfig>(TileConfig::parse(cfg)) : std::nullopt;
      const DecodeResult r = expect_decode_matches(be, c);
      for (size_t i = 0; i < size_t(4 * 4 * 64); ++i) EXPECT_EQ(r.o[i], 0.f);  // the empty sequence
    }
}

TEST(DecodeEmu, SlidingWindowLeftAndRight) {
  EmuBackend be(emu::Order::Reverse, registry());
  DecodeCase c{.dtype = DType::BF16, .head_dim = 32, .mask = {MaskKind::SlidingWindow, 20, 1}, .heads_kv = 2,
               .group = 2, .q_tokens = 2, .seqlens = {100, 3}};
  for (int splits : {1, 2}) {
    c.splits = splits;
    expect_decode_matches(be, c);
  }
}

TEST(DecodeEmu, HeadDim256PagedAndRowChunks) {
  EmuBackend be(emu::Order::Forward, registry());
  DecodeCase c{.dtype = DType::BF16, .head_dim = 256, .heads_kv = 1, .group = 8, .seqlens = {600},
               .page_size = 256, .splits = 3};
  expect_decode_matches(be, c);
  c.config = TileConfig::parse("bm8_bn8_w4_s4_v8");  // the scalar kernel
  expect_decode_matches(be, c);

  DecodeCase chunks;  // 8 heads x 4 tokens = 32 rows per KV head: 4 CTAs of 8 rows, own counters
  chunks.dtype = DType::BF16;
  chunks.head_dim = 128;
  chunks.heads_kv = 1;
  chunks.group = 8;
  chunks.q_tokens = 4;
  chunks.page_size = 16;
  chunks.mask.kind = MaskKind::Causal;
  chunks.seqlens = {70, 2};
  chunks.splits = 2;
  expect_decode_matches(be, chunks);
  chunks.config = TileConfig::parse("bm8_bn16_w4_s4_v8");  // the scalar kernel: 4 chunks of 8 rows
  expect_decode_matches(be, chunks);
}

// The tensor-core kernel's own tilings: several k-steps of P V per block (64 keys per warp),
// 8 warps with uneven shares of a split, sliding windows, ragged and empty sequences, one
// and several splits.
TEST(DecodeEmu, TensorCoreKernelTilingsWindowsAndSplits) {
  EmuBackend be(emu::Order::Shuffle, registry());
  DecodeCase c{.dtype = DType::BF16, .head_dim = 128, .mask = {MaskKind::SlidingWindow, 40, 3}, .heads_kv = 2,
               .group = 8, .seqlens = {1, 7, 300, 0}, .config = TileConfig::parse("bm16_bn64_w2_s2_v8")};
  for (int splits : {1, 3}) {
    c.splits = splits;
    c.launches = 2;
    expect_decode_matches(be, c);
  }
  c.mask = {};
  c.seqlens = {1000, 33};
  for (const char* cfg : {"bm16_bn16_w8_s2_v8", "bm16_bn32_w4_s2_v8"})
    for (int splits : {1, 2}) {
      c.config = TileConfig::parse(cfg);
      c.splits = splits;
      expect_decode_matches(be, c);
    }
}

// The combine at many splits: MHA (1 row: 32 outputs, so 4 threads per output share the splits)
// and GQA 8 on tensor cores (8 real rows of 16: the padding rows are neither written nor read),
// at counts that run the 8-load unrolled loop and its remainder, up to the maximum of 128;
// ragged and empty sequences leave whole splits empty. Two launches: the counters reset.
TEST(DecodeEmu, CombineOfManySplits) {
  EmuBackend be(emu::Order::Shuffle, registry());
  DecodeCase c{.dtype = DType::BF16, .head_dim = 128, .heads_kv = 1, .seqlens = {2100, 40, 0}, .launches = 2};
  for (int group : {1, 8})
    for (int splits : {37, 128}) {
      c.group = group;
      c.splits = splits;
      expect_decode_matches(be, c);
    }
}

// The two-level combine (finish_cta, DecodeParams::combine_group): the last split of each group
// combines the group into an extra partial, the last group the groups. GQA 8 on tensor cores at
// 66 splits takes it by the rule (group 9: 8 groups, the last of 3); forced groups cover an
// uneven last group (37 in 5s: 8 groups, the last of 2), groups of one split, two groups
// (36 + 1) and a group as large as the splits (one level); the scalar kernel keeps one level;
// one level run in the two-level workspace (bench-decode --one-level-combine) is exact too.
// Blocks run forward, reversed and shuffled, so each group's and the slot's last
// arrival varies; ragged and empty sequences leave whole splits and groups empty; the relaunch
// finds every counter reset.
TEST(DecodeEmu, TwoLevelCombine) {
  DecodeCase c{.dtype = DType::BF16, .head_dim = 128, .heads_kv = 1, .group = 8, .seqlens = {2100, 40, 0},
               .launches = 2};
  for (emu::Order order : {emu::Order::Forward, emu::Order::Reverse, emu::Order::Shuffle}) {
    EmuBackend be(order, registry());
    c.splits = 66;
    c.combine_group = -1;
    EXPECT_EQ(expect_decode_matches(be, c).combine_group, 9) << c.describe();
  }
  EmuBackend be(emu::Order::Shuffle, registry());
  c.run_one_level = true;  // bench-decode --one-level-combine: one level in the two-level layout
  expect_decode_matches(be, c);
  c.run_one_level = false;
  c.splits = 37;
  for (int g : {5, 1, 36, 37}) {
    c.combine_group = g;
    EXPECT_EQ(expect_decode_matches(be, c).combine_group, g < 37 ? g : 0) << c.describe();
  }
  c.group = 1;  // the scalar kernel combines in one level: the rule gives it 0
  c.combine_group = -1;
  EXPECT_EQ(expect_decode_matches(be, c).combine_group, 0) << c.describe();
}

}  // namespace
}  // namespace attnjit::testing
