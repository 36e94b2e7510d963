// Config order 1 of templates/prefill/sm80.cuh: key tiles end at the query block's last visible
// key (rounded up to half a tile) and, when the block's key range is an odd number of half
// tiles, the lowest tile loads and computes only its upper half. Run on the CPU emulator against
// the float64 reference (same rules as prefill_sm80_emu_test.cpp): causal and sliding windows
// (left only, left and right, tiny), bottom-right offsets both ways with fully masked rows,
// uneven and even lengths, GQA with batches, 1-3 stages, soft-capping and ALiBi (whose key
// positions must follow the shifted tiles), shuffled schedules. The skipped half is counted: the
// emulator's cp.async copies of an end-aligned run fall short of the aligned run's by exactly
// the half tiles a host model of both tilings predicts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>

#include "codegen/registry.h"
#include "emu/prefill_emu_harness.h"

namespace attnjit::emu_test {
namespace {

using testing::causal;
using testing::make_case;
using testing::PrefillCase;
using testing::window;
using sm80::Bf16;
using sm80::F16;
using sm80::MaskCausal;
using Win16_0 = sm80::MaskSlidingWindow<16, 0>;
using Win64_0 = sm80::MaskSlidingWindow<64, 0>;
using Win100_17 = sm80::MaskSlidingWindow<100, 17>;
struct Cap5 { static constexpr float kValue = 5.f; };

// End-aligned (order 1) and, for the copy counts, aligned (order 0) instantiations.
template <class E, int D, int BM, int BN, int W, int S, class M, bool Even = false>
using T1 = PrefillSm80Traits<E, D, BM, BN, W, S, M, Even, false, false, true>;
template <class E, int D, int BM, int BN, int W, int S, class M>
using T0 = PrefillSm80Traits<E, D, BM, BN, W, S, M, false>;

const PrefillKernels<
    T1<Bf16, 64, 64, 128, 4, 1, Win64_0>, T1<F16, 64, 64, 128, 4, 2, Win100_17>,
    T1<Bf16, 64, 64, 128, 4, 3, MaskCausal>, T1<F16, 128, 64, 128, 4, 1, MaskCausal>,
    T1<Bf16, 128, 64, 128, 4, 1, Win64_0>, T1<Bf16, 64, 64, 128, 4, 2, MaskCausal, true>,
    T1<F16, 64, 64, 128, 4, 1, Win16_0>, T1<Bf16, 64, 128, 64, 8, 2, Win100_17>,
    T1<Bf16, 128, 64, 128, 4, 1, MaskCausal>,
    T1<Bf16, 64, 64, 128, 4, 1, variants::SoftCapped<Win64_0, Cap5>>,
    T1<F16, 64, 64, 128, 4, 1, variants::WithAlibi<Win100_17>>,
    T0<Bf16, 64, 64, 128, 4, 1, Win64_0>, T0<Bf16, 128, 64, 128, 4, 1, MaskCausal>>
    kKernels;

TileConfig config(int bm, int bn, int w, int s, int order = 1) {
  return {.block_m = bm, .block_n = bn, .warps = w, .stages = s, .order = order, .tmpl = "sm80"};
}

EmuRun expect_ok(const PrefillCase& c, const TileConfig& cfg, emu::Order order = emu::Order::Forward) {
  const EmuRun r = run_prefill(c, cfg, order);
  EXPECT_TRUE(r.report.ok) << c.name() << " " << r.entry << "\n" << r.report.message;
  std::printf("[emu] %-44s %-22s O err %.2e (tol %.2e) LSE err %.2e  %llu copies\n", c.name().c_str(),
              cfg.key().c_str(), r.report.o_err, r.report.o_tol, r.report.lse_err,
              static_cast<unsigned long long>(r.stats.async_copies));
  return r;
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

// K + V rows each tiling loads for case c (a host model of both tilings, from the masks' key
// ranges: bottom-right aligned positions, ranges clamped to [0, seqlen_k)).
int64_t kv_rows(const PrefillCase& c, int bm, int bn, bool end_aligned) {
  auto range = [&](int64_t i, int64_t& lo, int64_t& hi) {
    const int64_t p = i + c.seqlen_k - c.seqlen_q;
    auto clamp = [&](int64_t k) { return std::clamp<int64_t>(k, 0, c.seqlen_k); };
    lo = c.mask.kind == MaskKind::SlidingWindow ? clamp(p - c.mask.window_left) : 0;
    hi = c.mask.kind == MaskKind::Causal ? clamp(p + 1) : clamp(p + c.mask.window_right + 1);
  };
  int64_t rows = 0;
  for (int64_t m0 = 0; m0 < c.seqlen_q; m0 += bm) {
    int64_t lo, hi_first, lo_last, hi;
    range(m0, lo, hi_first);
    range(std::min<int64_t>(m0 + bm, c.seqlen_q) - 1, lo_last, hi);
    if (end_aligned) {
      const int64_t h = bn / 2, a = lo / h * h, e = (hi + h - 1) / h * h;
      rows += e > a ? e - a : 0;
    } else {
      const int64_t a = lo / bn, e = (hi + bn - 1) / bn;
      rows += e > a ? (e - a) * bn : 0;
    }
  }
  return 2 * rows * c.batch * c.heads_q;
}

TEST(PrefillSm80EndAligned, TheHalfTilesAreNotLoaded) {
  const std::pair<PrefillCase, TileConfig> cases[] = {
      {make_case(DType::BF16, 64, window(64, 0), 300, 300), config(64, 128, 4, 1)},
      {make_case(DType::BF16, 128, causal(), 300, 300), config(64, 128, 4, 1)}};
  for (const auto& [c, cfg] : cases) {
    TileConfig aligned = cfg;
    aligned.order = 0;
    const EmuRun r0 = expect_ok(c, aligned), r1 = expect_ok(c, cfg);
    const int64_t chunks = c.head_dim / 8;  // 16-byte copies per row
    const int64_t saved = (kv_rows(c, cfg.block_m, cfg.block_n, false) - kv_rows(c, cfg.block_m, cfg.block_n, true));
    EXPECT_GT(saved, 0) << c.name();
    EXPECT_EQ(static_cast<int64_t>(r0.stats.async_copies - r1.stats.async_copies), saved * chunks) << c.name();
  }
}

TEST(PrefillSm80EndAligned, SearchSpaceAndRefusals) {
  const Target target = Target::cuda("sm_80");
  auto spec = [](MaskSpec m, int hd) {
    return ProblemSpec::for_shape(Family::Prefill, DType::BF16, hd, m, 1, 1, 300, 300);
  };
  const KernelTemplate& t = select_template(spec(causal(), 64), target);
  // Every kernel above is a config the tuner can pick.
  for (const TileConfig& c : {config(64, 128, 4, 1), config(64, 128, 4, 2), config(64, 128, 4, 3)}) {
    const auto space = t.search_space(spec(window(64, 0), 64), target);
    EXPECT_NE(std::find(space.begin(), space.end(), c), space.end()) << c.key();
  }
  const auto hd128 = t.search_space(spec(causal(), 128), target);
  EXPECT_NE(std::find(hd128.begin(), hd128.end(), config(64, 128, 4, 1)), hd128.end());
  // Only where a tile is longer than the block, and only with a mask's key range.
  for (const TileConfig& c : t.search_space(spec(causal(), 64), target))
    if (c.order == 1) EXPECT_GT(c.block_n, c.block_m) << c.key();
  for (const TileConfig& c : t.search_space(spec({}, 64), target)) EXPECT_EQ(c.order, 0) << c.key();
  // The knob's legality, with reasons.
  EXPECT_FALSE(t.can_implement(spec(causal(), 64), config(64, 128, 4, 1), target));
  EXPECT_FALSE(t.can_implement(spec(causal(), 64), config(128, 64, 8, 2), target));
  const auto two = t.can_implement(spec(causal(), 64), config(64, 128, 4, 1, 2), target);
  ASSERT_TRUE(two);
  EXPECT_NE(two->find("order: 2 not supported"), std::string::npos) << *two;
  ProblemSpec sparse = spec(causal(), 64);
  sparse.mask_mod = "0123456789abcdef";
  sparse.block_sparse = 128;
  const auto bs = t.can_implement(sparse, config(64, 128, 4, 1), target);
  ASSERT_TRUE(bs);
  EXPECT_NE(bs->find("a block mask names its own tiles"), std::string::npos) << *bs;
}

}  // namespace
}  // namespace attnjit::emu_test
