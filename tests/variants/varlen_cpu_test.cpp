// Varlen (packed) and paged-KV prefill on the CPU backend against the float64 varlen reference:
// mixed and uneven lengths with empty sequences, q != k lengths (bottom-right alignment per
// sequence, fully masked rows), GQA, every mask, 16-bit and f32 storage, every page size 1..256
// with shuffled block tables, varlen q + paged K/V, several tile configs (idle tile numbers).
#include <gtest/gtest.h>

#include <memory>

#include "variants/ragged_harness.h"

namespace attnjit::variants_test {
namespace {

MaskSpec causal() { return {MaskKind::Causal, 0, 0}; }
MaskSpec window(int64_t l, int64_t r) { return {MaskKind::SlidingWindow, l, r}; }

Runtime* cpu_runtime() {
  static std::unique_ptr<Runtime> rt = [] {
    try {
      // ctest runs each test in its own process: a disk cache in the build tree compiles each
      // kernel once per build instead of once per test.
      return Runtime::create(BackendKind::Cpu, {.disk_cache = true, .cache_dir = kernel_cache_dir()});
    } catch (const BackendError&) {
      return std::unique_ptr<Runtime>();
    }
  }();
  return rt.get();
}

RaggedCase mk(DType dt, int hd, MaskSpec m, int64_t hq, int64_t hkv, std::vector<int64_t> sq,
              std::vector<int64_t> sk, bool varlen = true, int page = 0) {
  return ragged_case(dt, hd, m, hq, hkv, std::move(sq), std::move(sk), varlen, page);
}

void run_and_check(Runtime& rt, const RaggedCase& c) {
  SCOPED_TRACE(c.name());
  RaggedData x = make_ragged(c);
  rt.prefill(x.args);
  const CheckReport r = check_ragged(x);
  EXPECT_TRUE(r.ok) << r.message;
}

#define REQUIRE_CPU()                                              \
  Runtime* rt = cpu_runtime();                                     \
  if (!rt) GTEST_SKIP() << "CPU backend not built (LLVM off)";

TEST(VarlenCpu, MixedLengthsAgainstReference) {
  REQUIRE_CPU();
  const DType F = DType::F32, B = DType::BF16, H = DType::F16;
  const RaggedCase cases[] = {
      // Self-attention over mixed lengths with an empty sequence and a one-token one.
      mk(F, 64, causal(), 2, 2, {300, 1, 0, 77, 128}, {300, 1, 0, 77, 128}),
      mk(B, 128, causal(), 4, 2, {33, 0, 150}, {33, 0, 150}),
      mk(H, 64, {}, 2, 1, {17, 64, 5}, {40, 3, 100}),
      // q longer than k (causal: the first rows see nothing), k empty (every row masked).
      mk(F, 32, causal(), 1, 1, {90, 20, 7}, {30, 20, 0}),
      // Sliding windows align per sequence too.
      mk(F, 96, window(16, 4), 3, 1, {70, 129, 1}, {100, 129, 65}),
      mk(B, 256, window(40, 0), 1, 1, {65, 3}, {65, 80}),
  };
  for (const RaggedCase& c : cases) run_and_check(*rt, c);
}

TEST(VarlenCpu, EveryPageSizeWithShuffledTables) {
  REQUIRE_CPU();
  for (int page : {1, 2, 4, 8, 16, 32, 64, 128, 256}) {
    // Chunked prefill: 3 sequences of 40 new tokens against caches of 40..300 keys.
    run_and_check(*rt, mk(DType::F32, 32, causal(), 2, 1, {40, 40, 40}, {300, 40, 97}, false, page));
  }
  // 16-bit storage, GQA, a window, and a sequence whose cache is shorter than its new tokens.
  run_and_check(*rt, mk(DType::BF16, 128, causal(), 4, 1, {20, 20}, {150, 9}, false, 16));
  run_and_check(*rt, mk(DType::F16, 64, window(24, 0), 2, 2, {33, 33}, {33, 200}, false, 8));
}

TEST(VarlenCpu, VarlenQueriesAgainstPagedCache) {
  REQUIRE_CPU();
  for (int page : {1, 16, 256})
    run_and_check(*rt, mk(DType::F32, 64, causal(), 4, 2, {50, 0, 7, 130}, {260, 5, 7, 130}, true, page));
  run_and_check(*rt, mk(DType::BF16, 64, {}, 2, 1, {1, 64, 17}, {0, 64, 100}, true, 4));
}

TEST(VarlenCpu, EveryTileSizeCoversEachSequenceOnce) {
  REQUIRE_CPU();
  // Small and large block_m: tile numbers of short sequences and idle numbers both occur.
  const RaggedCase c = mk(DType::F32, 64, causal(), 2, 1, {16, 0, 17, 200, 128, 1}, {16, 0, 40, 200, 128, 1});
  const TileConfig def = rt->prepare_prefill(make_ragged(c).args.problem).config;
  for (int bm : {16, 64, 128}) {
    TileConfig cfg = def;
    cfg.block_m = bm;
    cfg.vec = std::min(cfg.vec, bm);
    rt->set_config_provider(std::make_shared<testing::FixedConfigProvider>(cfg));
    SCOPED_TRACE(cfg.key());
    run_and_check(*rt, c);
  }
  rt->set_config_provider(nullptr);
}

// Equal lengths: the varlen kernel and the dense one must agree bit for bit (same tiles, same order).
TEST(VarlenCpu, EqualLengthsMatchDenseCallExactly) {
  REQUIRE_CPU();
  RaggedCase c = mk(DType::F32, 64, causal(), 2, 2, {100, 100, 100}, {100, 100, 100});
  RaggedData v = make_ragged(c);
  rt->prefill(v.args);
  c.varlen = false;  // same images, dense q and k ([b, s, h, d] is the packed image)
  RaggedData d = make_ragged(c);
  d.args.k = {d.k_img.data(), 100 * 2 * 64, 2 * 64, 64};
  d.args.v = {d.v_img.data(), 100 * 2 * 64, 2 * 64, 64};
  d.args.cu_seqlens_k = nullptr;
  rt->prefill(d.args);
  EXPECT_EQ(v.o_img, d.o_img);
}

}  // namespace
}  // namespace attnjit::variants_test
