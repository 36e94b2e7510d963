// ALiBi and sinks in the sm_80 decode kernels (decode/sm80.cuh's scalar kernel, mma_sm80.cuh's
// tensor-core kernel, both through their variant entries, and finish_cta's split combine) on the
// CPU emulator (decode_emu_backend.h) against the float64 reference, outputs poisoned: every
// split count (the sink once: single-split epilogue or combine), GQA, ragged lengths with empty
// sequences, pages, several query tokens (causal among them) with ALiBi, per-batch slopes, an
// fp8 cache with sinks.
#include "decode/decode_emu_backend.h"

namespace attnjit::testing {
namespace {

using decode::Bf16;
using decode::F16;
using ScalarGqa = Cfg<Bf16, 64, 4, 1, 4, 2, 16, 3, 0, 0, 0, 0>;         // GQA 4, contiguous
using ScalarTokens = Cfg<F16, 64, 1, 4, 4, 4, 32, 2, 16, 1, 0, 0>;      // MHA x 4 tokens, paged 16, causal
using MmaGqa = Cfg<F16, 64, 8, 1, 16, 2, 16, 2, 0, 0, 0, 0>;            // GQA 8, contiguous
using MmaTokens = Cfg<Bf16, 128, 4, 4, 16, 4, 16, 3, 16, 1, 0, 0>;      // GQA 4 x 4 tokens, paged 16, causal
using MmaFp8 = Fp8<Cfg<Bf16, 128, 8, 1, 16, 2, 16, 2, 8, 0, 0, 0>, fp8::kE4M3>;  // fp8, paged 8

const std::map<std::string, Body>& registry() {
  static const auto r = kernels<Variant<ScalarGqa, true, true>, Variant<ScalarGqa, true, false>,
                                Variant<ScalarGqa, false, true>, Variant<ScalarTokens, true, true>,
                                Variant<MmaGqa, true, true>, Variant<MmaGqa, false, true>,
                                Variant<MmaTokens, true, true>, Variant<MmaFp8, false, true>,
                                Variant<MmaFp8, true, true>>();
  return r;
}

DecodeCase gqa(bool mma, bool alibi, bool sink) {
  DecodeCase c{.dtype = mma ? DType::F16 : DType::BF16, .head_dim = 64, .heads_kv = 2, .group = mma ? 8 : 4,
               .seqlens = {0, 1, 37, 100},
               .config = TileConfig::parse(mma ? "bm16_bn16_w2_s2_v8" : "bm4_bn16_w2_s3_v8"), .alibi = alibi,
               .sink = sink};
  return c;
}

// 100 keys in blocks of 16: 7 blocks; splits 1..8 cover every count (8 is capped to 7).
TEST(DecodeEmuAlibiSink, ScalarEverySplitCount) {
  EmuBackend be(emu::Order::Shuffle, registry());
  for (auto [alibi, sink] : {std::pair{true, true}, {true, false}, {false, true}})
    for (int splits = 1; splits <= 8; ++splits) {
      DecodeCase c = gqa(false, alibi, sink);
      c.splits = splits;
      c.seed = uint64_t(splits);
      const DecodeResult r = expect_decode_matches(be, c);
      for (size_t i = 0; i < size_t(8 * 64); ++i) ASSERT_EQ(r.o[i], 0.f) << c.describe();  // empty sequence
    }
}

TEST(DecodeEmuAlibiSink, TensorCoreEverySplitCountAndRelaunch) {
  EmuBackend be(emu::Order::Reverse, registry());
  for (bool alibi : {true, false})
    for (int splits = 1; splits <= 8; ++splits) {
      DecodeCase c = gqa(true, alibi, true);
      c.splits = splits;
      c.launches = splits == 3 ? 2 : 1;  // counters reset, the sink not carried over
      c.seed = uint64_t(10 + splits);
      const DecodeResult r = expect_decode_matches(be, c);
      for (size_t i = 0; i < size_t(16 * 64); ++i) ASSERT_EQ(r.o[i], 0.f) << c.describe();
    }
}

// The sink joins only the final combine of a two-level one (tensor cores; groups of 2 and 3
// over 7 splits).
TEST(DecodeEmuAlibiSink, TwoLevelCombineFoldsTheSinkOnce) {
  EmuBackend be(emu::Order::Shuffle, registry());
  for (int g : {2, 3}) {
    DecodeCase c = gqa(true, true, true);
    c.splits = 7;
    c.combine_group = g;
    c.seed = uint64_t(40 + g);
    EXPECT_EQ(expect_decode_matches(be, c).combine_group, g) << c.describe();
  }
}

// Four new tokens, causal among them, ALiBi at their own positions; paged; per-batch slopes.
TEST(DecodeEmuAlibiSink, QueryTokensCausalPagedPerBatchSlopesBothKernels) {
  EmuBackend be(emu::Order::Shuffle, registry());
  for (bool mma : {false, true}) {
    DecodeCase c{.dtype = mma ? DType::BF16 : DType::F16, .head_dim = mma ? 128 : 64,
                 .mask = {.kind = MaskKind::Causal}, .heads_kv = mma ? 1 : 2, .group = mma ? 4 : 1,
                 .q_tokens = 4, .seqlens = {3, 0, 70, 33}, .page_size = 16};
    c.alibi = c.sink = c.alibi_per_batch = true;
    c.config = TileConfig::parse(mma ? "bm16_bn16_w4_s3_v8" : "bm4_bn32_w4_s2_v8");
    for (int splits : {1, 2, 5}) {
      c.splits = splits;
      c.seed = uint64_t(splits + 20 * mma);
      expect_decode_matches(be, c);
    }
  }
}

TEST(DecodeEmuAlibiSink, Fp8CacheWithSinks) {
  EmuBackend be(emu::Order::Forward, registry());
  for (bool alibi : {false, true}) {
    DecodeCase c{.dtype = DType::BF16, .head_dim = 128, .heads_kv = 1, .group = 8, .seqlens = {90, 0, 17},
                 .page_size = 8, .config = TileConfig::parse("bm16_bn16_w2_s2_v8"), .kv_dtype = KvDType::E4M3,
                 .per_head_scale = true, .alibi = alibi, .sink = true};
    for (int splits : {1, 3}) {
      c.splits = splits;
      expect_decode_matches(be, c);
    }
  }
}

}  // namespace
}  // namespace attnjit::testing
