// End-to-end decode on the CPU backend (clang JIT) against the float64 reference: ragged
// lengths, contiguous and paged caches, GQA, masks, several query tokens, split counts from 1 to
// many, the exactness of the combine, empty sequences and counter reset across launches.
#ifdef ATTNJIT_WITH_LLVM

#include <gtest/gtest.h>

#include <memory>

#include "decode/decode_harness.h"
#include "runtime/cpu/cpu_backend.h"

namespace attnjit::testing {
namespace {

Backend& cpu() {
  static std::unique_ptr<Backend> b = [] {
    CpuBackendOptions o;
    o.use_disk_cache = false;
    return make_cpu_backend(o);
  }();
  return *b;
}

TEST(DecodeCpu, RaggedLengthsContiguous) {
  for (DType dt : {DType::F32, DType::BF16}) {
    DecodeCase c;
    c.dtype = dt;
    c.head_dim = 64;
    c.heads_kv = 2;
    c.group = 4;
    c.seqlens = {1, 7, 4097};
    for (int splits : {0, 1, 5}) {
      c.splits = splits;
      expect_decode_matches(cpu(), c);
    }
  }
}

TEST(DecodeCpu, PagedCacheGqaAndQueryTokens) {
  for (int page : {16, 256})
    for (int group : {1, 4, 8})
      for (int qt : {1, 4}) {
        DecodeCase c;
        c.dtype = DType::BF16;
        c.head_dim = 128;
        c.heads_kv = 2;
        c.group = group;
        c.q_tokens = qt;
        c.page_size = page;
        c.mask.kind = MaskKind::Causal;
        c.seqlens = {7, 300, 1};
        c.splits = 3;
        c.seed = uint64_t(page * 100 + group * 10 + qt);
        expect_decode_matches(cpu(), c);
      }
}

TEST(DecodeCpu, SlidingWindowSkipsAndMasks) {
  DecodeCase c;
  c.dtype = DType::F32;
  c.head_dim = 64;
  c.heads_kv = 1;
  c.group = 4;
  c.q_tokens = 4;
  c.page_size = 16;
  c.seqlens = {1000, 3, 130};
  for (auto [left, right] : {std::pair{100, 0}, std::pair{0, 0}, std::pair{37, 2}}) {
    c.mask = {MaskKind::SlidingWindow, left, right};
    for (int splits : {1, 4}) {
      c.splits = splits;
      expect_decode_matches(cpu(), c);
    }
  }
}

TEST(DecodeCpu, LongSequenceManySplits) {
  DecodeCase c;
  c.dtype = DType::BF16;
  c.head_dim = 64;
  c.heads_kv = 1;
  c.group = 1;
  c.seqlens = {100000};
  c.splits = 0;  // the rule: one work unit, so it splits across the threads
  DecodeResult r = expect_decode_matches(cpu(), c);
  EXPECT_GE(r.splits, 1);
  c.splits = 64;
  c.page_size = 256;
  expect_decode_matches(cpu(), c);
}

TEST(DecodeCpu, CombineIsExactToFp32Rounding) {
  DecodeCase c;
  c.dtype = DType::F32;
  c.head_dim = 128;
  c.heads_kv = 2;
  c.group = 8;
  c.q_tokens = 2;
  c.mask.kind = MaskKind::Causal;
  c.seqlens = {4097, 33, 2000};
  c.splits = 1;
  const DecodeResult one = expect_decode_matches(cpu(), c);
  ASSERT_EQ(one.splits, 1);
  double scale = 0;
  for (float x : one.o) scale = std::max(scale, double(std::abs(x)));
  for (int splits : {2, 7, 64, 128}) {
    c.splits = splits;
    const DecodeResult many = expect_decode_matches(cpu(), c);
    EXPECT_EQ(many.splits, std::min(splits, 65));  // 4097 keys = 65 blocks of 64: never more splits
    double diff = 0, lse_diff = 0;
    for (size_t i = 0; i < one.o.size(); ++i) diff = std::max(diff, double(std::abs(one.o[i] - many.o[i])));
    for (size_t i = 0; i < one.lse.size(); ++i)
      lse_diff = std::max(lse_diff, double(std::abs(one.lse[i] - many.lse[i])) / std::max(1.0, double(std::abs(one.lse[i]))));
    EXPECT_LE(diff / scale, 2e-6) << "splits " << splits;
    EXPECT_LE(lse_diff, 2e-6) << "splits " << splits;
  }
}

// Soft-capping with Q scaled up (scores to ~+-20): c = 5 bends most scores, 30.5 and 50 (Gemma 2)
// the largest. GQA, 4 query tokens (causal: in the 1-key sequence the first 3 see nothing),
// ragged lengths, an empty sequence, contiguous and paged, one and several splits.
TEST(DecodeCpu, SoftcapMatchesReference) {
  for (double cap : {50.0, 30.5, 5.0})
    for (int page : {0, 16}) {
      DecodeCase c;
      c.dtype = page ? DType::BF16 : DType::F32;
      c.head_dim = 64;
      c.heads_kv = 2;
      c.group = 4;
      c.q_tokens = 4;
      c.mask.kind = MaskKind::Causal;
      c.seqlens = {1, 300, 0, 77};
      c.page_size = page;
      c.splits = page ? 3 : 1;
      c.softcap = cap;
      c.q_gain = 16.f;
      c.seed = uint64_t(cap * 10 + page);
      const DecodeResult r = expect_decode_matches(cpu(), c);
      EXPECT_EQ(r.lse[0], -std::numeric_limits<float>::infinity()) << c.describe();
    }
}

TEST(DecodeCpu, EmptySequencesGiveZeroOutputAndMinusInfLse) {
  for (int splits : {1, 4}) {
    DecodeCase c;
    c.dtype = DType::BF16;
    c.head_dim = 64;
    c.heads_kv = 2;
    c.group = 2;
    c.seqlens = {0, 5, 0};
    c.page_size = splits == 4 ? 16 : 0;
    c.splits = splits;
    const DecodeResult r = expect_decode_matches(cpu(), c);
    const size_t per_seq = size_t(1 * 4 * 64);
    for (size_t i = 0; i < per_seq; ++i) {
      EXPECT_EQ(r.o[i], 0.f);
      EXPECT_EQ(r.o[2 * per_seq + i], 0.f);
    }
    for (size_t h = 0; h < 4; ++h) {
      EXPECT_EQ(r.lse[h], -std::numeric_limits<float>::infinity());
      EXPECT_EQ(r.lse[2 * 4 + h], -std::numeric_limits<float>::infinity());
      EXPECT_TRUE(std::isfinite(r.lse[4 + h]));
    }
  }
}

TEST(DecodeCpu, CountersAreResetSoTheWorkspaceIsReusable) {
  DecodeCase c;
  c.dtype = DType::F32;
  c.head_dim = 64;
  c.seqlens = {700, 900};
  c.splits = 6;
  c.launches = 3;  // run_decode_case also asserts every counter is back at 0
  expect_decode_matches(cpu(), c);
}

TEST(DecodeCpu, EveryHeadDimAndF16) {
  for (int d : kHeadDims) {
    DecodeCase c;
    c.dtype = DType::F16;
    c.head_dim = d;
    c.heads_kv = 1;
    c.group = 2;
    c.seqlens = {77, 129};
    c.splits = 2;
    expect_decode_matches(cpu(), c);
  }
}

TEST(DecodeCpu, QueryRowsSplitOverChunks) {
  // group 8 x 4 tokens = 32 rows per KV head in chunks of 4: every chunk has its own counter.
  DecodeCase c;
  c.dtype = DType::BF16;
  c.head_dim = 64;
  c.heads_kv = 2;
  c.group = 8;
  c.q_tokens = 4;
  c.mask.kind = MaskKind::Causal;
  c.seqlens = {300, 2};
  c.block_m = 4;
  c.splits = 3;
  expect_decode_matches(cpu(), c);
}

}  // namespace
}  // namespace attnjit::testing

#endif  // ATTNJIT_WITH_LLVM
