// End-to-end decode on a CUDA device against the float64 reference — the same matrix as the
// CPU suite (ragged lengths incl. 100000 keys, pages 16/256, GQA 1/4/8, windows, query tokens
// 1/4, splits 1..many, empty sequences, counter reset). Skips with the reason when no device is
// usable (this CI machine has none).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "codegen/registry.h"
#include "decode/decode_gpu_backend.h"
#include "decode/decode_harness.h"

namespace attnjit::testing {
namespace {

TEST(DecodeGpu, RaggedLengthsPagesGqaTokens) {
  REQUIRE_GPU();
  for (DType dt : {DType::BF16, DType::F16})
    for (int page : {0, 16, 256})
      for (int group : {1, 4, 8})
        for (int qt : {1, 4}) {
          DecodeCase c{.dtype = dt, .head_dim = 128, .mask = {qt > 1 ? MaskKind::Causal : MaskKind::None},
                       .heads_kv = 2, .group = group, .q_tokens = qt, .seqlens = {1, 7, 4097}, .page_size = page};
          for (int splits : {0, 1, 5}) {
            c.splits = splits;
            expect_decode_matches(*dev, c);
          }
        }
}

TEST(DecodeGpu, EveryHeadDimAndWindow) {
  REQUIRE_GPU();
  for (int d : {32, 64, 128, 256}) {
    expect_decode_matches(*dev, {.dtype = DType::BF16, .head_dim = d, .mask = {MaskKind::SlidingWindow, 100, 2},
                                 .heads_kv = 1, .group = 4, .q_tokens = 4, .seqlens = {1000, 3, 130},
                                 .page_size = 16, .splits = 4});
  }
}

TEST(DecodeGpu, LongSequenceAndQueryRowChunks) {
  REQUIRE_GPU();
  // 8 heads x 4 tokens = 32 rows per KV head: 4 chunks of 8
  expect_decode_matches(*dev, {.dtype = DType::BF16, .head_dim = 128, .mask = {MaskKind::Causal}, .heads_kv = 8,
                               .group = 8, .q_tokens = 4, .seqlens = {100000, 17}, .page_size = 256});
}

// The combine is exact to fp32 rounding: on the scalar kernel, whose per-key arithmetic does
// not depend on where a split starts, any split count gives the one-split result. (The
// tensor-core kernel rounds P to the element type relative to each block's running max, as
// FlashAttention-2 does, so its splits differ at that rounding; every split count of it is
// checked against the float64 reference in the other tests.)
TEST(DecodeGpu, CombineMatchesOneSplit) {
  REQUIRE_GPU();
  DecodeCase c{.dtype = DType::BF16, .head_dim = 128, .heads_kv = 2, .group = 8, .seqlens = {4097, 33, 20000},
               .splits = 1, .config = TileConfig::parse("bm8_bn16_w4_s4_v8")};
  const DecodeResult one = expect_decode_matches(*dev, c);
  for (int splits : {2, 9, 128}) {
    c.splits = splits;
    const DecodeResult many = expect_decode_matches(*dev, c);
    for (size_t i = 0; i < one.lse.size(); ++i)
      EXPECT_NEAR(one.lse[i], many.lse[i], 2e-6 * std::max(1.f, std::abs(one.lse[i]))) << i;
    for (size_t i = 0; i < one.o.size(); ++i)  // the fp32 results agree; the bf16 rounding may flip an ulp
      EXPECT_NEAR(one.o[i], many.o[i], std::abs(one.o[i]) * 0x1p-7f + 1e-6f) << i;
  }
}

// Every config of the search space (scalar kernel at every row count, tensor-core kernel at
// every tiling) once against the reference: a config that compiles but computes the wrong
// answer is caught here, not by the tuner's gate.
TEST(DecodeGpu, EveryConfigOfTheSearchSpace) {
  REQUIRE_GPU();
  struct V {
    DType dt;
    int head_dim, group, qt, page;
    MaskSpec mask;
  };
  const V variants[] = {V{DType::BF16, 128, 8, 1, 16, {}}, V{DType::F16, 64, 4, 4, 0, {MaskKind::Causal}},
                        V{DType::BF16, 256, 8, 2, 256, {MaskKind::SlidingWindow, 300, 0}}};
  // Compile every variant's kernels on all cores first (the backend compiles each source once
  // and is thread-safe); the checks below then hit its cache. Errors surface in the checks.
  {
    std::vector<KernelSource> sources;
    for (const V& v : variants) {
      const ProblemSpec spec =
          ProblemSpec::for_shape(Family::Decode, v.dt, v.head_dim, v.mask, 2 * v.group, 2, v.qt, 1500, v.page);
      const KernelTemplate& t = select_template(spec, dev->target());
      for (const TileConfig& cfg : t.search_space(spec, dev->target())) sources.push_back(t.render(spec, cfg, dev->target()));
    }
    std::atomic<size_t> next{0};
    std::vector<std::thread> pool;
    for (unsigned i = 0; i < std::max(1u, std::thread::hardware_concurrency()); ++i)
      pool.emplace_back([&] {
        for (size_t k; (k = next++) < sources.size();) {
          try {
            dev->get_kernel(sources[k]);
          } catch (const std::exception&) {
          }
        }
      });
    for (auto& th : pool) th.join();
  }
  int ran = 0;
  for (const V& v : variants) {
    DecodeCase c{.dtype = v.dt, .head_dim = v.head_dim, .mask = v.mask, .heads_kv = 2, .group = v.group,
                 .q_tokens = v.qt, .seqlens = {3, 1500, 0}, .page_size = v.page};
    const ProblemSpec spec = ProblemSpec::for_shape(Family::Decode, v.dt, v.head_dim, v.mask, v.group * c.heads_kv,
                                                    c.heads_kv, v.qt, 1500, v.page);
    const KernelTemplate& t = select_template(spec, dev->target());
    for (const TileConfig& cfg : t.search_space(spec, dev->target())) {
      c.config = cfg;
      c.splits = (ran % 3) * 3;  // the rule, 3 and 6 splits in turn
      expect_decode_matches(*dev, c);
      ++ran;
    }
  }
  std::printf("[ configs  ] %d decode configs checked on %s\n", ran, dev->target().key().c_str());
}

TEST(DecodeGpu, EmptySequencesAndCounterReset) {
  REQUIRE_GPU();
  const DecodeResult r = expect_decode_matches(*dev, {.dtype = DType::F16, .head_dim = 64, .heads_kv = 2, .group = 2,
                                                      .seqlens = {0, 5000, 0}, .splits = 8, .launches = 3});
  for (size_t i = 0; i < size_t(4 * 64); ++i) EXPECT_EQ(r.o[i], 0.f);
  for (size_t h = 0; h < 4; ++h) EXPECT_EQ(r.lse[h], -std::numeric_limits<float>::infinity());
}

// fp8 KV caches on the device: both kinds, both query dtypes, per-tensor and per-head scales,
// contiguous and paged (1- and 16-token pages), MHA and GQA 8, ragged and empty sequences, the
// rule's split count and a fixed one. On sm_89+ this runs the hardware conversion the emulator
// cannot (it runs the sm_80 integer path).
TEST(DecodeGpu, Fp8KvCachePagesAndScales) {
  REQUIRE_GPU();
  for (KvDType kv : {KvDType::E4M3, KvDType::E5M2})
    for (DType dt : {DType::BF16, DType::F16})
      for (int page : {0, 1, 16})
        for (int group : {1, 8}) {
          DecodeCase c{.dtype = dt, .head_dim = 128, .heads_kv = 2, .group = group, .seqlens = {1, 300, 4097, 0},
                       .page_size = page, .kv_dtype = kv, .per_head_scale = page != 0};
          for (int splits : {0, 3}) {
            c.splits = splits;
            expect_decode_matches(*dev, c);
          }
        }
}

// Every page size 1..256 (shuffled tables, lengths ending mid-page) on both kernels.
TEST(DecodeGpu, EveryPageSize) {
  REQUIRE_GPU();
  for (int page = 1; page <= 256; page *= 2)
    for (int group : {1, 8}) {
      expect_decode_matches(*dev, {.dtype = DType::BF16, .head_dim = 128, .mask = {MaskKind::Causal}, .heads_kv = 2,
                                   .group = group, .q_tokens = 2, .seqlens = {page + 1, 0, 3 * page - 1, 1000},
                                   .page_size = page});
    }
}

}  // namespace
}  // namespace attnjit::testing
