// End-to-end decode on the CPU backend (clang JIT) against the float64 reference: ragged
// lengths, contiguous and paged caches, GQA, masks, several query tokens, split counts from 1 to
// many, the exactness of the combine, empty sequences and counter reset across launches, both
// arithmetic orders (fp32; bf16 pair dot products, emulated where the host lacks AVX-512 BF16),
// KV heads spread over several items, P.V chunk lengths by V row stride, one-page rows prefetched
// in address order, and the AVX-512 BF16 code path compiled for such a host.
#ifdef ATTNJIT_WITH_LLVM

#include <gtest/gtest.h>

#include <memory>
#include <tuple>

#include "decode/decode_harness.h"
#include "runtime/cpu/cpu_backend.h"
#include "runtime/cpu/cpu_compiler.h"

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
    DecodeCase c{.dtype = dt, .head_dim = 64, .heads_kv = 2, .group = 4, .seqlens = {1, 7, 4097}};
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
        DecodeCase c{.dtype = DType::BF16, .head_dim = 128, .mask = {.kind = MaskKind::Causal}, .heads_kv = 2,
                     .group = group, .q_tokens = qt, .seqlens = {7, 300, 1}, .page_size = page, .splits = 3,
                     .seed = uint64_t(page * 100 + group * 10 + qt)};
        expect_decode_matches(cpu(), c);
      }
}

TEST(DecodeCpu, SlidingWindowSkipsAndMasks) {
  DecodeCase c{.dtype = DType::F32, .head_dim = 64, .heads_kv = 1, .group = 4, .q_tokens = 4,
               .seqlens = {1000, 3, 130}, .page_size = 16};
  for (auto [left, right] : {std::pair{100, 0}, std::pair{0, 0}, std::pair{37, 2}}) {
    c.mask = {MaskKind::SlidingWindow, left, right};
    for (int splits : {1, 4}) {
      c.splits = splits;
      expect_decode_matches(cpu(), c);
    }
  }
}

TEST(DecodeCpu, LongSequenceManySplits) {
  DecodeCase c{.dtype = DType::BF16, .head_dim = 64, .heads_kv = 1, .group = 1, .seqlens = {100000}};
  c.splits = 0;  // the rule: one work unit, so it splits across the threads
  DecodeResult r = expect_decode_matches(cpu(), c);
  EXPECT_GE(r.splits, 1);
  c.splits = 64;
  c.page_size = 256;
  expect_decode_matches(cpu(), c);
}

// The rule gives each of 2 threads about 4 items (sequences x head groups x splits), so GQA
// groups with few sequences split their length: ragged lengths, one and three sequences, f32
// and bf16; the K/V prefetch distance runs across block and split ends.
TEST(DecodeCpu, RuleSplitsFewItemsForTwoThreads) {
  for (DType dt : {DType::F32, DType::BF16})
    for (int64_t group : {1, 8}) {
      DecodeCase c{.dtype = dt, .head_dim = 128, .heads_kv = 4, .group = group,
                   .seed = uint64_t(group) * 7 + (dt == DType::F32 ? 1 : 2)};
      const ProblemSpec spec = ProblemSpec::for_shape(Family::Decode, dt, 128, MaskSpec{}, 4 * group, 4, 1, 8191, 0);
      TileConfig cfg = select_template(spec, cpu().target()).default_config(spec, cpu().target());
      cfg.threads = 2;
      c.config = cfg;
      c.seqlens = {8191, 1, 3000};  // one item per sequence (4 KV heads fit one): 3 splits each
      EXPECT_EQ(expect_decode_matches(cpu(), c).splits, 3) << c.describe();
      c.seqlens = {5000};  // 8 splits of 10 or 9 blocks, the last one short
      EXPECT_EQ(expect_decode_matches(cpu(), c).splits, 8) << c.describe();
    }
}

TEST(DecodeCpu, CombineIsExactToFp32Rounding) {
  DecodeCase c{.dtype = DType::F32, .head_dim = 128, .mask = {.kind = MaskKind::Causal}, .heads_kv = 2,
               .group = 8, .q_tokens = 2, .seqlens = {4097, 33, 2000}, .splits = 1};
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
      DecodeCase c{.dtype = page ? DType::BF16 : DType::F32, .head_dim = 64,
                   .mask = {.kind = MaskKind::Causal}, .heads_kv = 2, .group = 4, .q_tokens = 4,
                   .seqlens = {1, 300, 0, 77}, .page_size = page, .splits = page ? 3 : 1,
                   .seed = uint64_t(cap * 10 + page), .softcap = cap, .q_gain = 16.f};
      const DecodeResult r = expect_decode_matches(cpu(), c);
      EXPECT_EQ(r.lse[0], -std::numeric_limits<float>::infinity()) << c.describe();
    }
}

TEST(DecodeCpu, EmptySequencesGiveZeroOutputAndMinusInfLse) {
  for (int splits : {1, 4}) {
    DecodeCase c{.dtype = DType::BF16, .head_dim = 64, .heads_kv = 2, .group = 2, .seqlens = {0, 5, 0},
                 .page_size = splits == 4 ? 16 : 0, .splits = splits};
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
  DecodeCase c{.dtype = DType::F32, .head_dim = 64, .seqlens = {700, 900}, .splits = 6};
  c.launches = 3;  // run_decode_case also asserts every counter is back at 0
  expect_decode_matches(cpu(), c);
}

TEST(DecodeCpu, EveryHeadDimAndF16) {
  for (int d : kHeadDims) {
    DecodeCase c{.dtype = DType::F16, .head_dim = d, .heads_kv = 1, .group = 2, .seqlens = {77, 129},
                 .splits = 2};
    expect_decode_matches(cpu(), c);
  }
}

TEST(DecodeCpu, QueryRowsSplitOverChunks) {
  // group 8 x 4 tokens = 32 rows per KV head in chunks of 4: every chunk has its own counter.
  DecodeCase c{.dtype = DType::BF16, .head_dim = 64, .mask = {.kind = MaskKind::Causal}, .heads_kv = 2,
               .group = 8, .q_tokens = 4, .seqlens = {300, 2}, .splits = 3, .block_m = 4};
  expect_decode_matches(cpu(), c);
}


TileConfig cpu_config(const DecodeCase& c, int order) {
  const ProblemSpec spec = ProblemSpec::for_shape(Family::Decode, c.dtype, c.head_dim, c.mask, c.heads_kv * c.group,
                                                  c.heads_kv, c.q_tokens, 1, c.page_size);
  TileConfig cfg = select_template(spec, cpu().target()).default_config(spec, cpu().target());
  cfg.order = order;
  return cfg;
}

TEST(DecodeCpu, EveryGroupSizeDtypeAndSplitCount) {
  // Lengths that cut the 64-key blocks unevenly; every split count up to one split per block.
  for (DType dt : {DType::F32, DType::BF16, DType::F16})
    for (int group : {1, 2, 3, 4, 8}) {
      DecodeCase c{.dtype = dt, .head_dim = 64, .heads_kv = 3, .group = group, .seqlens = {200, 1, 77},
                   .seed = uint64_t(group * 10 + int(dt))};
      for (int splits = 1; splits <= 4; ++splits) {
        c.splits = splits;
        expect_decode_matches(cpu(), c);
      }
    }
}

TEST(DecodeCpu, Bf16PairDotProductsMatchTheReference) {
  // kOrder 1: vdpbf16ps on AVX-512 BF16 hosts, its FMA emulation elsewhere; P rounded to bf16.
  for (int group : {1, 4, 8})
    for (int page : {0, 16}) {
      DecodeCase c{.dtype = DType::BF16, .head_dim = 128, .heads_kv = 2, .group = group,
                   .seqlens = {1000, 3, 129}, .page_size = page};
      c.config = cpu_config(c, 1);
      for (int splits : {1, 3}) {
        c.splits = splits;
        expect_decode_matches(cpu(), c);
      }
    }
  DecodeCase w{.dtype = DType::BF16, .head_dim = 64, .mask = {MaskKind::SlidingWindow, 50, 1}, .heads_kv = 1,
               .group = 4, .q_tokens = 2, .seqlens = {300, 2}};
  w.config = cpu_config(w, 1);
  expect_decode_matches(cpu(), w);
}

TEST(DecodeCpu, EveryScoreTileShapeInBothOrders) {
  // The softmax runs on the Q.K^T tiles (QR rows x QJ keys per vector): vec and block_m pick the
  // shape, from one row x min(vec, 8) keys (at vec 16 the tile fills half the lanes, the rest
  // repeat them) to vec rows x one key (QJ = 1: bf16 pairs across two tiles; QJ even: within one
  // tile), with masked and ragged rows (window, 2 query tokens). The broadcast-key Q.K^T
  // (kBcastQk) runs where a tile is all the rows and fills a whole vector, or half of one for bf16
  // pairs: vec 16 with group 16 (both dtypes) or group 8 (bf16), and vec 8 with group 8 (both);
  // the rest use TreeSum's tiles.
  const int widest = cpu().target().vector_bits >= 512 ? 16 : cpu().target().vector_bits >= 256 ? 8 : 4;
  for (DType dtype : {DType::BF16, DType::F32})
    for (int vec = widest; vec >= 4; vec /= 2)
      for (int group : {1, 2, 8, 16})
        for (int order : {0, 1}) {
          if (dtype == DType::F32 && order == 1) continue;  // bf16 pairs need bf16 storage
          DecodeCase c{.dtype = dtype, .head_dim = 64, .heads_kv = 2, .group = group,
                       .q_tokens = group == 2 ? 2 : 1};
          if (group == 2) c.mask = {MaskKind::SlidingWindow, 40, 0};
          c.seqlens = {200, 5, 67};
          c.config = cpu_config(c, order);
          c.config->vec = vec;
          c.splits = group == 8 ? 2 : 1;
          SCOPED_TRACE(std::string(dtype == DType::F32 ? "f32" : "bf16") + " vec " + std::to_string(vec) + " group " +
                       std::to_string(group) + " order " + std::to_string(order));
          expect_decode_matches(cpu(), c);
        }
}

TEST(DecodeCpu, EveryHeadDimBroadcastKeys) {
  // The broadcast-key Q.K^T (kBcastQk: bf16 pairs at group 8, half vectors on AVX-512; f32 at
  // group 16, whole vectors) where a row is whole pairs of 64-byte lines, TreeSum's tiles
  // elsewhere (bf16 head dim 32): at every head dim.
  for (int d : kHeadDims)
    for (DType dtype : {DType::BF16, DType::F32}) {
      DecodeCase c{.dtype = dtype, .head_dim = d, .heads_kv = 1, .group = dtype == DType::BF16 ? 8 : 16,
                   .seqlens = {77, 130}};
      c.config = cpu_config(c, dtype == DType::BF16 ? 1 : 0);
      SCOPED_TRACE("head dim " + std::to_string(d) + " group " + std::to_string(c.group));
      expect_decode_matches(cpu(), c);
    }
}

TEST(DecodeCpu, PairDotOrderNeedsBf16) {
  DecodeCase c{.dtype = DType::F32, .head_dim = 64};
  const ProblemSpec spec = ProblemSpec::for_shape(Family::Decode, c.dtype, 64, c.mask, 2, 2, 1, 100, 0);
  const KernelTemplate& t = select_template(spec, cpu().target());
  TileConfig cfg = t.default_config(spec, cpu().target());
  EXPECT_EQ(cfg.order, 0);
  cfg.order = 1;
  auto why = t.can_implement(spec, cfg, cpu().target());
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("order"), std::string::npos) << *why;
}

TEST(DecodeCpu, PvChunksFollowTheValueRowStride) {
  // bf16 GQA 8 at one token (the quad-broadcast Q.K^T where vdpbf16ps exists): P.V takes chunks
  // of 32, 16 or 8 keys as the V rows lie 1, 2 or 4 KiB apart (4, 8, 16 KV heads of head dim 128;
  // 16 with head dim 64 is 2 KiB again). Ragged lengths end chunks early; pages keep the stride.
  for (auto [head_dim, heads_kv] : {std::pair{128, 4}, {128, 8}, {128, 16}, {64, 16}})
    for (int page : {0, 16}) {
      DecodeCase c{.dtype = DType::BF16, .head_dim = head_dim, .heads_kv = heads_kv, .group = 8,
                   .seqlens = {300, 37, 1}, .page_size = page};
      c.config = cpu_config(c, 1);
      for (int splits : {1, 3}) {
        c.splits = splits;
        expect_decode_matches(cpu(), c);
      }
    }
}

TEST(DecodeCpu, OnePageRowsPrefetchInAddressOrder) {
  // Rows of one 4 KiB page (f32: 8 KV heads x 128; bf16: 16 x 128) prefetch K and V in address
  // order where a block's rows follow each other: a contiguous cache, and pages of 256 rows (a
  // block inside one page); shuffled pages of 16 rows fall back to row-by-row prefetches. Ragged
  // lengths end the walk mid-block, and the last block of each item has no rows ahead.
  for (auto [dtype, heads_kv, group] : {std::tuple{DType::F32, 8, 4}, {DType::F32, 8, 8}, {DType::BF16, 16, 2}})
    for (int page : {0, 16, 256}) {
      DecodeCase c{.dtype = dtype, .head_dim = 128, .heads_kv = heads_kv, .group = group,
                   .seqlens = {700, 37, 1}, .page_size = page,
                   .seed = uint64_t(heads_kv * 1000 + group * 10 + page)};
      for (int splits : {1, 3}) {
        c.splits = splits;
        expect_decode_matches(cpu(), c);
      }
    }
}

bool host_has_amx(std::string* why) {
  const std::string& f = cpu().target().cpu_features;
  if (f.find("+amx-tile") != std::string::npos && f.find("+amx-bf16") != std::string::npos) return true;
  *why = "this host (" + cpu().target().key() + ") has no AMX tiles, or Linux did not grant them to the process";
  return false;
}

TEST(DecodeCpu, AmxTilesMatchTheReference) {
  // kOrder 2: Q.K^T and P.V on AMX tiles. Every rows-per-item (1..16: the tiles' N and M), head
  // dims 64-256, block_n 32-128; ragged lengths (16-key groups and 32-key chunks cut short),
  // contiguous rows (tiles loaded straight from the cache at the row stride) and pages of 1, 16
  // and 32 rows (rows gathered where 16 keys are not one stride apart), one split and several.
  std::string why;
  if (!host_has_amx(&why)) GTEST_SKIP() << why;
  for (int group : {1, 2, 4, 8, 16})
    for (auto [head_dim, page] : {std::pair{128, 0}, {128, 1}, {128, 16}, {64, 32}, {256, 0}}) {
        DecodeCase c{.dtype = DType::BF16, .head_dim = head_dim, .heads_kv = 2, .group = group,
                     .seqlens = {300, 3, 129, 17}, .page_size = page,
                     .seed = uint64_t(group * 1000 + head_dim + page)};
        c.config = cpu_config(c, 2);
        c.config->block_n = group == 2 ? 32 : group == 8 ? 128 : 64;
        for (int splits : {1, 3}) {
          c.splits = splits;
          SCOPED_TRACE("group " + std::to_string(group) + " head dim " + std::to_string(head_dim) + " page " +
                       std::to_string(page) + " splits " + std::to_string(splits));
          expect_decode_matches(cpu(), c);
        }
    }
}

TEST(DecodeCpu, AmxTilesWithMasksTokensAndSoftcap) {
  // The key-major score tiles through the softmax's masks (window, causal among query tokens,
  // rows past the problem's), soft-capping, and query rows split over chunks.
  std::string why;
  if (!host_has_amx(&why)) GTEST_SKIP() << why;
  DecodeCase w{.dtype = DType::BF16, .head_dim = 64, .mask = {MaskKind::SlidingWindow, 50, 1}, .heads_kv = 1,
               .group = 4, .q_tokens = 2, .seqlens = {300, 2}};
  w.config = cpu_config(w, 2);
  expect_decode_matches(cpu(), w);
  DecodeCase k{.dtype = DType::BF16, .head_dim = 128, .mask = {.kind = MaskKind::Causal}, .heads_kv = 2,
               .group = 3, .q_tokens = 3, .seqlens = {500, 40}, .splits = 2};  // 9 rows in items of 16
  k.config = cpu_config(k, 2);
  expect_decode_matches(cpu(), k);
  DecodeCase r{.dtype = DType::BF16, .head_dim = 64, .mask = {.kind = MaskKind::Causal}, .heads_kv = 2,
               .group = 8, .q_tokens = 4, .seqlens = {300, 2}, .splits = 3, .block_m = 4};
  r.config = cpu_config(r, 2);
  expect_decode_matches(cpu(), r);
  DecodeCase s{.dtype = DType::BF16, .head_dim = 128, .heads_kv = 2, .group = 8, .seqlens = {333}, .softcap = 30,
               .q_gain = 8.f};
  s.config = cpu_config(s, 2);
  expect_decode_matches(cpu(), s);
}

TEST(DecodeCpu, AmxOrderIsRefusedWithoutTilesAndOffItsShapes) {
  const ProblemSpec spec = ProblemSpec::for_shape(Family::Decode, DType::BF16, 128, {}, 32, 4, 1, 32768, 0);
  const Target no_amx = Target::cpu("sapphirerapids", "+avx2,+avx512bf16,+avx512bw,+avx512dq,+avx512f,+avx512vl,+fma", 512);
  const KernelTemplate& t = select_template(spec, no_amx);
  TileConfig cfg = t.default_config(spec, no_amx);
  EXPECT_EQ(cfg.order, 1);
  cfg.order = 2;
  auto why = t.can_implement(spec, cfg, no_amx);
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("AMX"), std::string::npos) << *why;
  const Target amx = Target::cpu(
      "sapphirerapids", "+amx-bf16,+amx-tile,+avx2,+avx512bf16,+avx512bw,+avx512dq,+avx512f,+avx512vl,+fma", 512);
  cfg.block_n = 16;
  why = t.can_implement(spec, cfg, amx);
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("block_n"), std::string::npos) << *why;
  cfg.block_n = 64;
  cfg.vec = 8;
  why = t.can_implement(spec, cfg, amx);
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("vec 16"), std::string::npos) << *why;
  const ProblemSpec f32 = ProblemSpec::for_shape(Family::Decode, DType::F32, 128, {}, 32, 4, 1, 32768, 0);
  TileConfig c32 = t.default_config(f32, amx);
  c32.order = 2;
  why = t.can_implement(f32, c32, amx);
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("bf16"), std::string::npos) << *why;
}

TEST(DecodeCpu, AmxHostGetsTiles) {
  // Compiled (not run) for a host with AMX, so it is checked on every build machine.
  const Target amx = Target::cpu(
      "sapphirerapids", "+amx-bf16,+amx-tile,+avx2,+avx512bf16,+avx512bw,+avx512dq,+avx512f,+avx512vl,+fma", 512);
  for (int group : {1, 4, 8}) {
    const ProblemSpec spec = ProblemSpec::for_shape(Family::Decode, DType::BF16, 128, {}, 32, 32 / group, 1, 32768, 0);
    const KernelTemplate& t = select_template(spec, amx);
    TileConfig cfg = t.default_config(spec, amx);
    cfg.order = 2;
    ASSERT_FALSE(t.can_implement(spec, cfg, amx).has_value());
    const CpuCompileResult r = compile_cpu_kernel(t.render(spec, cfg, amx), {false, true});
    for (const char* insn : {"ldtilecfg", "tileloadd", "tdpbf16ps", "tilestored", "tilerelease", "vcvtne2ps2bf16"})
      EXPECT_NE(r.asm_text.find(insn), std::string::npos) << insn << " missing at group " << group;
  }
}

TEST(DecodeCpu, KvHeadsSpreadOverSeveralItems) {
  // group 8 x head dim 256 -> 4 KV heads per item: 9 heads make items of 4, 4 and 1.
  for (int splits : {1, 2}) {
    DecodeCase c{.dtype = DType::BF16, .head_dim = 256, .heads_kv = 9, .group = 8, .seqlens = {150, 64},
                 .page_size = splits == 2 ? 32 : 0, .splits = splits};
    expect_decode_matches(cpu(), c);
  }
}

TEST(DecodeCpu, Avx512Bf16HostGetsPairDotProductsInVdpbf16ps) {
  // This machine may lack the instruction: compile (not run) for a host that has it.
  const Target host = Target::cpu("sapphirerapids", "+avx2,+avx512bf16,+avx512bw,+avx512dq,+avx512f,+avx512vl,+fma", 512);
  const ProblemSpec spec = ProblemSpec::for_shape(Family::Decode, DType::BF16, 128, {}, 32, 4, 1, 32768, 0);
  const KernelTemplate& t = select_template(spec, host);
  const TileConfig cfg = t.default_config(spec, host);
  EXPECT_EQ(cfg.order, 1);
  EXPECT_EQ(cfg.vec, 16);
  const CpuCompileResult r = compile_cpu_kernel(t.render(spec, cfg, host), {false, true});
  EXPECT_NE(r.asm_text.find("vdpbf16ps"), std::string::npos);
  EXPECT_NE(r.asm_text.find("vcvtneps2bf16"), std::string::npos);  // the probabilities' pairs
  EXPECT_NE(r.asm_text.find("zmm"), std::string::npos);
  EXPECT_NE(r.asm_text.find("vbroadcasti32x4"), std::string::npos);  // GQA 8: the quad-broadcast Q.K^T
  // An AVX2 host computes the same products with FMAs.
  const Target avx2 = Target::cpu("znver3", "+avx2,+fma,-avx512bf16,-avx512f", 256);
  TileConfig c2 = t.default_config(spec, avx2);
  EXPECT_EQ(c2.order, 0);
  c2.order = 1;
  const CpuCompileResult r2 = compile_cpu_kernel(t.render(spec, c2, avx2), {false, true});
  EXPECT_EQ(r2.asm_text.find("vdpbf16ps"), std::string::npos);
  EXPECT_NE(r2.asm_text.find("vfmadd"), std::string::npos);
  EXPECT_EQ(r2.asm_text.find("vbroadcasti32x4"), std::string::npos);
}

}  // namespace
}  // namespace attnjit::testing

#endif  // ATTNJIT_WITH_LLVM
