// Config orders 1 and 2 of templates/prefill/sm80.cuh: key tiles end at the query block's last
// visible key (rounded up to half a tile) and, when the block's key range is an odd number of
// half tiles, the lowest tile loads and computes only its upper half; with order 2, in the tiles
// the mask cuts, each warp also skips the 16-key steps none of its rows sees. Every case runs
// with both orders on the CPU emulator against the float64 reference (same rules as
// prefill_sm80_emu_test.cpp): causal and sliding windows (left only, left and right, tiny),
// bottom-right offsets both ways with fully masked rows, uneven and even lengths, GQA with
// batches, 1-3 stages, 4 and 8 warps, soft-capping and ALiBi (whose key positions must follow the
// shifted tiles), shuffled schedules. What is skipped is counted: the emulator's cp.async copies
// and mma.sync calls match a host model of the tilings exactly (aligned vs end-aligned loads;
// every step vs the steps each warp sees).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>

#include "codegen/registry.h"
#include "emu/prefill_emu_harness.h"

namespace attnjit::emu_test {
namespace {

using namespace sm80_vocab;
using Win16_0 = sm80::MaskSlidingWindow<16, 0>;
using Win64_0 = sm80::MaskSlidingWindow<64, 0>;
using Win100_17 = sm80::MaskSlidingWindow<100, 17>;
struct Cap5 { static constexpr float kValue = 5.f; };

// Instantiations of the key tilings O = 0 (aligned, for the counts), 1 and 2.
template <int O, class E, int D, int BM, int BN, int W, int S, class M, bool Even = false>
using TO = PrefillSm80Traits<E, D, BM, BN, W, S, M, Even, false, false, O>;
// Both end-aligned orders of a kernel.
template <class... K>
struct Both;
template <class E, int D, int BM, int BN, int W, int S, class M, bool Even>
struct Both<PrefillSm80Traits<E, D, BM, BN, W, S, M, Even>> {
  PrefillKernels<TO<1, E, D, BM, BN, W, S, M, Even>, TO<2, E, D, BM, BN, W, S, M, Even>> k;
};
template <class E, int D, int BM, int BN, int W, int S, class M, bool Even = false>
using K = Both<PrefillSm80Traits<E, D, BM, BN, W, S, M, Even>>;

const K<Bf16, 64, 64, 128, 4, 1, Win64_0> k1;
const K<F16, 64, 64, 128, 4, 2, Win100_17> k2;
const K<Bf16, 64, 64, 128, 4, 3, MaskCausal> k3;
const K<F16, 128, 64, 128, 4, 1, MaskCausal> k4;
const K<Bf16, 128, 64, 128, 4, 1, Win64_0> k5;
const K<Bf16, 64, 64, 128, 4, 2, MaskCausal, true> k6;
const K<F16, 64, 64, 128, 4, 1, Win16_0> k7;
const K<Bf16, 64, 128, 64, 8, 2, Win100_17> k8;
const K<Bf16, 128, 64, 128, 4, 1, MaskCausal> k9;
const K<Bf16, 64, 64, 128, 4, 1, variants::SoftCapped<Win64_0, Cap5>> k10;
const K<F16, 64, 64, 128, 4, 1, variants::WithAlibi<Win100_17>> k11;
const PrefillKernels<TO<0, Bf16, 64, 64, 128, 4, 1, Win64_0>, TO<0, Bf16, 128, 64, 128, 4, 1, MaskCausal>,
                     TO<0, Bf16, 64, 128, 64, 8, 2, Win100_17>>
    k0;

TileConfig config(int bm, int bn, int w, int s, int order = 1) {
  return {.block_m = bm, .block_n = bn, .warps = w, .stages = s, .order = order, .tmpl = "sm80"};
}

EmuRun expect_one(const PrefillCase& c, const TileConfig& cfg, emu::Order order = emu::Order::Forward) {
  const EmuRun r = run_prefill(c, cfg, order);
  EXPECT_TRUE(r.report.ok) << c.name() << " " << r.entry << "\n" << r.report.message;
  std::printf("[emu] %-44s %-22s O err %.2e (tol %.2e) LSE err %.2e  %llu copies %llu mma\n", c.name().c_str(),
              cfg.key().c_str(), r.report.o_err, r.report.o_tol, r.report.lse_err,
              static_cast<unsigned long long>(r.stats.async_copies),
              static_cast<unsigned long long>(r.stats.mma_calls / 32));
  return r;
}
// The case with order 1 and with order 2 (cfg's other knobs).
void expect_ok(const PrefillCase& c, TileConfig cfg, emu::Order order = emu::Order::Forward) {
  for (int o : {1, 2}) {
    cfg.order = o;
    expect_one(c, cfg, order);
  }
}

TEST(PrefillSm80EndAligned, SlidingWindows) {
  // 64 keys left: a 64-row block spans 127 keys, one and a half 128-key tiles end-aligned.
  expect_ok(make_case(DType::BF16, 64, window(64, 0), 300, 300), config(64, 128, 4, 1));
  expect_ok(make_case(DType::BF16, 128, window(64, 0), 200, 257), config(64, 128, 4, 1));
  // Left and right, positions offset by seqlen_k - seqlen_q both ways.
  expect_ok(make_case(DType::F16, 64, window(100, 17), 200, 260), config(64, 128, 4, 2));
  expect_ok(make_case(DType::F16, 64, window(100, 17), 260, 130), config(64, 128, 4, 2));
  // A window inside one tile; and a 128-row block with 64-key tiles.
  expect_ok(make_case(DType::F16, 64, window(16, 0), 190, 190), config(64, 128, 4, 1));
  expect_ok(make_case(DType::BF16, 64, window(100, 17), 300, 333), config(128, 64, 8, 2));
}

TEST(PrefillSm80EndAligned, CausalBothOffsetsAndFullyMaskedRows) {
  expect_ok(make_case(DType::BF16, 64, causal(), 200, 200), config(64, 128, 4, 3));
  expect_ok(make_case(DType::BF16, 64, causal(), 300, 90), config(64, 128, 4, 3));  // rows 0..209 see nothing
  expect_ok(make_case(DType::F16, 128, causal(), 90, 300), config(64, 128, 4, 1));
  expect_ok(make_case(DType::F16, 128, causal(), 129, 129), config(64, 128, 4, 1));
}

TEST(PrefillSm80EndAligned, EvenLengthsUseTheUncheckedKernel) {
  expect_ok(make_case(DType::BF16, 64, causal(), 256, 256), config(64, 128, 4, 2));
  expect_ok(make_case(DType::BF16, 64, causal(), 128, 384), config(64, 128, 4, 2));
}

TEST(PrefillSm80EndAligned, GqaBatchesAndLayouts) {
  PrefillCase c = make_case(DType::BF16, 64, window(64, 0), 150, 170, /*b=*/2, /*hq=*/4, /*hkv=*/2);
  expect_ok(c, config(64, 128, 4, 1));
  c.layout = testing::Layout::BHSD;
  expect_ok(c, config(64, 128, 4, 1));
}

TEST(PrefillSm80EndAligned, SoftcapAndAlibiFollowTheShiftedKeys) {
  PrefillCase c = make_case(DType::BF16, 64, window(64, 0), 200, 230);
  c.softcap = 5;
  c.scale = 0.5;
  expect_ok(c, config(64, 128, 4, 1));
  expect_ok(make_case(DType::F16, 64, window(100, 17), 210, 190, 2, 4, 2).with_alibi(true), config(64, 128, 4, 1));
}

TEST(PrefillSm80EndAligned, ShuffledSchedules) {
  const PrefillCase c = make_case(DType::BF16, 64, causal(), 200, 200);
  expect_ok(c, config(64, 128, 4, 3), emu::Order::Reverse);
  expect_ok(c, config(64, 128, 4, 3), emu::Order::Shuffle);
}

// What each tiling does for case c, from a host model written from the masks' key ranges
// (bottom-right aligned positions, ranges clamped to [0, seqlen_k)): the K + V rows it loads and
// its warp-level mma.sync count (per 16-key step a warp computes, head_dim / 16 k-steps x 2 of
// Q K^T and head_dim / 8 of P V, times its m16 tiles).
struct Work {
  int64_t rows = 0, mma = 0;
};
Work model(const PrefillCase& c, const TileConfig& cfg) {
  auto range = [&](int64_t i, int64_t& lo, int64_t& hi) {
    const int64_t p = i + c.seqlen_k - c.seqlen_q;
    auto clamp = [&](int64_t k) { return std::clamp<int64_t>(k, 0, c.seqlen_k); };
    lo = c.mask.kind == MaskKind::SlidingWindow ? clamp(p - c.mask.window_left) : 0;
    hi = c.mask.kind == MaskKind::Causal ? clamp(p + 1) : clamp(p + c.mask.window_right + 1);
  };
  const int bm = cfg.block_m, bn = cfg.block_n, warp_rows = bm / cfg.warps;
  const int64_t step_mma = c.head_dim / 4 * (warp_rows / 16);
  Work w;
  for (int64_t m0 = 0; m0 < c.seqlen_q; m0 += bm) {
    int64_t lo, hi_first, lo_last, hi;
    range(m0, lo, hi_first);
    range(std::min<int64_t>(m0 + bm, c.seqlen_q) - 1, lo_last, hi);
    // Tiles as [first key computed, end): aligned, or end-aligned with a half first tile.
    std::vector<std::pair<int64_t, int64_t>> tiles;
    if (cfg.order == 0) {
      for (int64_t n = lo / bn; n < (hi + bn - 1) / bn; ++n) tiles.push_back({n * bn, n * bn + bn});
    } else {
      const int64_t h = bn / 2, a = lo / h * h, e = (hi + h - 1) / h * h;
      for (int64_t end = e; end > a; end -= bn) tiles.push_back({std::max(end - bn, a), end});
    }
    for (const auto& [k0, k1] : tiles) {
      w.rows += k1 - k0;
      const bool cut = !(k0 >= lo_last && k1 <= hi_first);
      for (int wp = 0; wp < cfg.warps; ++wp) {
        int64_t wlo, whi, unused;
        range(m0 + wp * warp_rows, wlo, unused);
        range(m0 + wp * warp_rows + warp_rows - 1, unused, whi);
        for (int64_t k = k0; k < k1; k += 16)
          if (cfg.order < 2 || !cut || (k + 16 > wlo && k < whi)) w.mma += step_mma;
      }
    }
  }
  const int64_t heads = c.batch * c.heads_q;
  return {2 * w.rows * heads, w.mma * heads};
}

TEST(PrefillSm80EndAligned, WhatIsSkippedMatchesTheModel) {
  const std::pair<PrefillCase, TileConfig> cases[] = {
      {make_case(DType::BF16, 64, window(64, 0), 300, 300), config(64, 128, 4, 1)},
      {make_case(DType::BF16, 128, causal(), 300, 300), config(64, 128, 4, 1)},
      {make_case(DType::BF16, 64, window(100, 17), 300, 333), config(128, 64, 8, 2)}};
  for (const auto& [c, base] : cases) {
    const int64_t chunks = c.head_dim / 8;  // 16-byte copies per row
    Work w[3];
    EmuRun r[3];
    for (int o = 0; o < 3; ++o) {
      TileConfig cfg = base;
      cfg.order = o;
      w[o] = model(c, cfg);
      r[o] = expect_one(c, cfg);
      SCOPED_TRACE(c.name() + " " + cfg.key());
      EXPECT_EQ(static_cast<int64_t>(r[o].stats.mma_calls), 32 * w[o].mma);
    }
    SCOPED_TRACE(c.name());
    EXPECT_EQ(static_cast<int64_t>(r[0].stats.async_copies - r[1].stats.async_copies), (w[0].rows - w[1].rows) * chunks);
    EXPECT_EQ(r[1].stats.async_copies, r[2].stats.async_copies);  // order 2 skips arithmetic, not loads
    EXPECT_LT(w[2].mma, w[1].mma);
    if (base.block_n > base.block_m) EXPECT_LT(w[1].rows, w[0].rows);
  }
}

TEST(PrefillSm80EndAligned, SearchSpaceAndRefusals) {
  const Target target = Target::cuda("sm_80");
  auto spec = [](MaskSpec m, int hd) {
    return ProblemSpec::for_shape(Family::Prefill, DType::BF16, hd, m, 1, 1, 300, 300);
  };
  const KernelTemplate& t = select_template(spec(causal(), 64), target);
  // Every kernel above is a config the tuner can pick.
  const auto space = t.search_space(spec(window(64, 0), 64), target);
  for (int o : {1, 2})
    for (const TileConfig& c : {config(64, 128, 4, 1, o), config(64, 128, 4, 2, o), config(64, 128, 4, 3, o)})
      EXPECT_NE(std::find(space.begin(), space.end(), c), space.end()) << c.key();
  EXPECT_NE(std::find(space.begin(), space.end(), config(128, 64, 8, 2, 2)), space.end());
  const auto hd128 = t.search_space(spec(causal(), 128), target);
  for (int o : {1, 2}) EXPECT_NE(std::find(hd128.begin(), hd128.end(), config(64, 128, 4, 1, o)), hd128.end());
  // Order 1 only where a tile is longer than the block; both only with a mask's key range.
  for (const TileConfig& c : t.search_space(spec(causal(), 64), target))
    if (c.order == 1) EXPECT_GT(c.block_n, c.block_m) << c.key();
  for (const TileConfig& c : t.search_space(spec({}, 64), target)) EXPECT_EQ(c.order, 0) << c.key();
  // The knob's legality, with reasons.
  EXPECT_FALSE(t.can_implement(spec(causal(), 64), config(64, 128, 4, 1), target));
  EXPECT_FALSE(t.can_implement(spec(causal(), 64), config(128, 64, 8, 2), target));
  const auto three = t.can_implement(spec(causal(), 64), config(64, 128, 4, 1, 3), target);
  ASSERT_TRUE(three);
  EXPECT_NE(three->find("order: 3 not supported"), std::string::npos) << *three;
  // 160 accumulators per thread (hd 256 bm64_bn64, hd 192 bm64_bn128): the extra tile bodies spilled.
  for (const auto& [hd, bn] : {std::pair{256, 64}, std::pair{192, 128}})
    for (int o : {1, 2}) {
      const auto roomless = t.can_implement(spec(causal(), hd), config(64, bn, 4, 1, o), target);
      ASSERT_TRUE(roomless) << hd << " o" << o;
      EXPECT_NE(roomless->find("160 fp32 accumulators per thread leave its extra tile bodies no registers"),
                std::string::npos)
          << *roomless;
      EXPECT_FALSE(t.can_implement(spec(causal(), hd), config(64, bn, 4, 1, 0), target)) << hd;
    }
  ProblemSpec sparse = spec(causal(), 64);
  sparse.mask_mod = "0123456789abcdef";
  sparse.block_sparse = 128;
  const auto bs = t.can_implement(sparse, config(64, 128, 4, 1), target);
  ASSERT_TRUE(bs);
  EXPECT_NE(bs->find("a block mask names its own tiles"), std::string::npos) << *bs;
}

}  // namespace
}  // namespace attnjit::emu_test
