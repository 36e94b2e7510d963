// ALiBi and attention sinks in the CPU decode template (decode/cpu.h + decode/cpu_variants.h)
// against the float64 reference, outputs poisoned: every split count (the sink must count once:
// in the single-split epilogue or in the combine, never per split), GQA, ragged lengths with
// empty sequences (O = 0, LSE = the sink), paged caches, per-batch slopes, several query tokens
// (causal among them) with ALiBi, windows, an fp8 cache with sinks, both arithmetic orders.
#ifdef ATTNJIT_WITH_LLVM

#include <gtest/gtest.h>

#include "decode/decode_cpu_backend.h"
#include "decode/decode_harness.h"

namespace attnjit::testing {
namespace {

DecodeCase base(DType dt, bool alibi, bool sink) {
  DecodeCase c{.dtype = dt, .head_dim = 64, .heads_kv = 2, .group = 4, .seqlens = {0, 1, 37, 300},
               .config = TileConfig::parse("bm4_bn32_w1_s1_t2"), .alibi = alibi, .sink = sink};
  return c;
}

// 300 keys in blocks of 32: 10 blocks, so splits 1..10 cover every count (more are capped).
TEST(DecodeCpuAlibiSink, EverySplitCountBothVariantsAndEach) {
  for (auto [alibi, sink] : {std::pair{true, true}, {true, false}, {false, true}}) {
    DecodeCase c = base(DType::F32, alibi, sink);
    for (int splits = 1; splits <= 10; ++splits) {
      c.splits = splits;
      c.seed = uint64_t(splits);
      const DecodeResult r = expect_decode_matches(decode_cpu_backend(), c);
      EXPECT_EQ(r.splits, splits);
      // The empty sequence: O = 0, and LSE = the sink (-inf for the sink-less heads).
      for (int64_t i = 0; i < 8 * 64; ++i) ASSERT_EQ(r.o[size_t(i)], 0.f) << c.describe();
      for (size_t h = 0; h < 8; ++h) {
        if (!sink || std::isinf(r.ref_lse[h])) EXPECT_EQ(double(r.lse[h]), r.ref_lse[h]) << h;
        else EXPECT_NEAR(r.lse[h], r.ref_lse[h], 1e-6 * std::max(1.0, std::abs(r.ref_lse[h]))) << h;
      }
    }
  }
}

TEST(DecodeCpuAlibiSink, Bf16BothOrdersRelaunchAndTheSplitRule) {
  for (int order : {0, 1}) {
    DecodeCase c = base(DType::BF16, true, true);
    c.config = TileConfig::parse(order ? "bm4_bn64_w1_s1_t2_o1" : "bm4_bn64_w1_s1_t2");
    c.launches = 2;  // counters reset, sinks not carried over
    for (int splits : {0, 1, 3, 5}) {
      c.splits = splits;
      expect_decode_matches(decode_cpu_backend(), c);
    }
  }
}

// Several new tokens (causal among them, bottom-right aligned) with ALiBi at their own positions,
// per-batch slopes, paged caches of several page sizes, and the sink.
TEST(DecodeCpuAlibiSink, PagedQueryTokensCausalPerBatchSlopes) {
  for (int page : {1, 16})
    for (int qt : {1, 4}) {
      DecodeCase c = base(DType::BF16, true, true);
      c.config.reset();
      c.head_dim = 128;
      c.q_tokens = qt;
      c.page_size = page;
      c.mask.kind = MaskKind::Causal;
      c.alibi_per_batch = true;
      c.seqlens = {5, 0, 130, 2};
      for (int splits : {1, 4}) {
        c.splits = splits;
        c.seed = uint64_t(page * 10 + qt + splits);
        expect_decode_matches(decode_cpu_backend(), c);
      }
    }
}

TEST(DecodeCpuAlibiSink, SlidingWindowAndMha) {
  DecodeCase c = base(DType::F32, true, true);
  c.config.reset();
  c.group = 1;
  c.heads_kv = 4;
  c.q_tokens = 2;
  c.mask = {MaskKind::SlidingWindow, 50, 0};
  c.seqlens = {200, 3, 0};
  for (int splits : {1, 2, 6}) {
    c.splits = splits;
    expect_decode_matches(decode_cpu_backend(), c);
  }
}

TEST(DecodeCpuAlibiSink, Fp8CacheWithSinks) {
  for (KvDType kind : {KvDType::E4M3, KvDType::E5M2}) {
    DecodeCase c = base(DType::BF16, kind == KvDType::E5M2, true);
    c.config.reset();
    c.kv_dtype = kind;
    c.per_head_scale = true;
    c.page_size = 16;
    for (int splits : {1, 3, 7}) {
      c.splits = splits;
      expect_decode_matches(decode_cpu_backend(), c);
    }
  }
}

}  // namespace
}  // namespace attnjit::testing

#endif  // ATTNJIT_WITH_LLVM
