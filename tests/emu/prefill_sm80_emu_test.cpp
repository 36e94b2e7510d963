// templates/prefill/sm80.cuh run on the CPU emulator (tests/emu/emu_runtime.h), compared with
// the float64 reference. Covers what the GPU tests cover but runs everywhere: dtypes, head dims
// 32/64/128, masks (causal, sliding windows left-only and left+right), uneven lengths that cut
// tiles and pipelines, seqlen_q != seqlen_k both ways, fully masked rows, GQA, batches, strided
// layouts, and configs from the search space with 1/2/3 stages and 4/8 warps.
//
// Tolerance: testing::check_outputs — at most 2x the max abs error of a same-precision
// straightforward implementation + one dtype ulp at 0.3 (flash-attention's rule). On unit-normal
// inputs that is about 1e-2 for bf16 and 1.5e-3 for f16. The emulated mma rounds once per 16x8x16
// tile and ex2 is exact, so the emulator is at least as accurate as the hardware: a failure here
// is a kernel bug, not noise.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "codegen/registry.h"
#include "emu/prefill_emu_harness.h"

namespace attnjit::emu_test {
namespace {

using namespace sm80_vocab;
using Win16_0 = sm80::MaskSlidingWindow<16, 0>;
using Win40_24 = sm80::MaskSlidingWindow<40, 24>;

// Soft-caps as codegen declares them (attnjit_gen::Softcap in each kernel's prelude).
struct Cap50 { static constexpr float kValue = 50.f; };
struct Cap30p5 { static constexpr float kValue = 30.5f; };
struct Cap5 { static constexpr float kValue = 5.f; };
template <class M, class Cap>
using Sc = variants::SoftCapped<M, Cap>;

template <class E, int D, int BM, int BN, int W, int S, class M, bool Even>
using T = PrefillSm80Traits<E, D, BM, BN, W, S, M, Even>;

// Every instantiation the tests below reach (default configs on sm_80 and the listed ones).
const PrefillKernels<
    // Defaults: hd <= 64 -> bm128_bn128_w8_s2; hd 128 -> bm128_bn64_w8_s2.
    T<Bf16, 32, 128, 128, 8, 2, MaskNone, false>, T<F16, 32, 128, 128, 8, 2, MaskCausal, false>,
    T<Bf16, 64, 128, 128, 8, 2, MaskNone, false>, T<F16, 64, 128, 128, 8, 2, MaskNone, false>,
    T<Bf16, 64, 128, 128, 8, 2, MaskCausal, false>, T<F16, 64, 128, 128, 8, 2, MaskCausal, false>,
    T<Bf16, 64, 128, 128, 8, 2, Win16_0, false>, T<F16, 64, 128, 128, 8, 2, Win40_24, false>,
    T<Bf16, 64, 128, 128, 8, 2, MaskCausal, true>, T<F16, 64, 128, 128, 8, 2, MaskNone, true>,
    T<Bf16, 128, 128, 64, 8, 2, MaskNone, false>, T<F16, 128, 128, 64, 8, 2, MaskCausal, false>,
    T<Bf16, 128, 128, 64, 8, 2, Win40_24, false>, T<F16, 128, 128, 64, 8, 2, MaskCausal, true>,
    // Search-space configs: stages 1/2/3, 4 and 8 warps, one and two m16 tiles per warp.
    T<Bf16, 64, 64, 32, 4, 1, MaskCausal, false>, T<F16, 64, 64, 64, 4, 3, MaskCausal, false>,
    T<Bf16, 64, 128, 64, 4, 3, Win40_24, false>, T<F16, 64, 64, 128, 4, 2, MaskNone, false>,
    T<Bf16, 128, 64, 32, 4, 1, MaskCausal, false>, T<F16, 32, 128, 32, 4, 3, Win16_0, false>,
    // Schedules.
    T<Bf16, 64, 64, 64, 4, 3, MaskCausal, false>,
    // Head dims 96 / 192 (12 / 24 chunks per row: the 4-chunk swizzle and loader paths) and 256:
    // defaults bm128_bn64_w8_s2 (96, 192) and bm128_bn64_w8_s1 (256), plus bm64_bn32_w4_s2.
    T<Bf16, 96, 128, 64, 8, 2, MaskCausal, false>, T<F16, 192, 128, 64, 8, 2, MaskNone, false>,
    T<Bf16, 256, 128, 64, 8, 1, MaskCausal, false>, T<F16, 256, 64, 32, 4, 2, Win40_24, false>,
    // Soft-capping (defaults).
    T<Bf16, 64, 128, 128, 8, 2, Sc<MaskCausal, Cap50>, false>,
    T<F16, 64, 128, 128, 8, 2, Sc<MaskNone, Cap30p5>, false>,
    T<Bf16, 128, 128, 64, 8, 2, Sc<MaskCausal, Cap5>, false>,
    T<F16, 64, 128, 128, 8, 2, Sc<Win40_24, Cap5>, false>>
    kKernels;



void expect_ok(const PrefillCase& c, TileConfig cfg = TileConfig{0},
               emu::Order order = emu::Order::Forward) {
  const auto t0 = std::chrono::steady_clock::now();
  const EmuRun r = run_prefill(c, cfg, order);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(r.report.ok) << c.name() << " " << r.entry << "\n" << r.report.message;
  std::printf("[emu] %-44s %-14s O err %.2e (tol %.2e) LSE err %.2e  %llu blocks %llu coll %.0f ms\n",
              c.name().c_str(), cfg.block_m ? cfg.key().c_str() : "default", r.report.o_err,
              r.report.o_tol, r.report.lse_err, static_cast<unsigned long long>(r.stats.blocks),
              static_cast<unsigned long long>(r.stats.collectives), ms);
}

TileConfig config(int bm, int bn, int w, int s) {
  return {.block_m = bm, .block_n = bn, .warps = w, .stages = s, .tmpl = "sm80"};
}

// ---- Default configs ----

// Soft-capping: scale 0.5 (4x the default at hd 64) puts the scores at ~+-4 standard deviations
// of 4, so c = 5 bends most of them and 30.5 / 50 the largest. Uneven lengths, GQA, fully
// masked rows (causal with seqlen_q > seqlen_k).
PrefillCase capped(PrefillCase c, double cap) {
  c.softcap = cap;
  c.scale = 0.5;
  return c;
}

TEST(PrefillSm80Emu, SoftcapMatchesReference) {
  expect_ok(capped(make_case(DType::BF16, 64, causal(), 200, 130, 1, 4, 2), 50));
  expect_ok(capped(make_case(DType::F16, 64, {}, 17, 200, 2, 2, 1), 30.5));
  expect_ok(capped(make_case(DType::BF16, 128, causal(), 127, 100, 1, 2, 2), 5));
  expect_ok(capped(make_case(DType::F16, 64, window(40, 24), 200, 127), 5));
}

TEST(PrefillSm80Emu, NoMaskUnevenLengths) {
  for (DType d : {DType::BF16, DType::F16}) {
    expect_ok(make_case(d, 64, {}, 17, 200));
    expect_ok(make_case(d, 64, {}, 127, 1));
  }
  expect_ok(make_case(DType::BF16, 32, {}, 200, 127));
  expect_ok(make_case(DType::BF16, 128, {}, 1, 17));
}

TEST(PrefillSm80Emu, CausalQueriesLongerThanKeysHaveFullyMaskedRows) {
  // Bottom-right alignment: the first seqlen_q - seqlen_k rows see no key (O = 0, LSE = -inf).
  expect_ok(make_case(DType::F16, 64, causal(), 200, 17));
  expect_ok(make_case(DType::BF16, 64, causal(), 127, 1));
  expect_ok(make_case(DType::F16, 32, causal(), 130, 100));
}

TEST(PrefillSm80Emu, CausalKeysLongerThanQueries) {
  expect_ok(make_case(DType::BF16, 64, causal(), 17, 200));
  expect_ok(make_case(DType::F16, 128, causal(), 127, 200));
}

TEST(PrefillSm80Emu, SlidingWindowLeftOnly) {
  expect_ok(make_case(DType::BF16, 64, window(16, 0), 200, 200));
  expect_ok(make_case(DType::BF16, 64, window(16, 0), 17, 127));
}

TEST(PrefillSm80Emu, SlidingWindowLeftAndRight) {
  expect_ok(make_case(DType::F16, 64, window(40, 24), 200, 127));
  expect_ok(make_case(DType::BF16, 128, window(40, 24), 127, 200));
}

TEST(PrefillSm80Emu, EvenLengthsUseTheUncheckedKernel) {
  expect_ok(make_case(DType::F16, 64, {}, 128, 256));
  expect_ok(make_case(DType::BF16, 64, causal(), 256, 128));  // rows 0..127 fully masked
  expect_ok(make_case(DType::F16, 128, causal(), 128, 256));
}

TEST(PrefillSm80Emu, GqaBatchAndStridedLayouts) {
  PrefillCase c = make_case(DType::BF16, 64, causal(), 70, 90, /*b=*/2, /*hq=*/4, /*hkv=*/1);
  expect_ok(c);
  c.layout = testing::Layout::Padded;
  expect_ok(c);
  PrefillCase d = make_case(DType::F16, 64, {}, 33, 65, 2, 4, 4);
  d.layout = testing::Layout::BHSD;
  expect_ok(d);
}

TEST(PrefillSm80Emu, NoKeysGivesZeroAndMinusInfinity) {
  expect_ok(make_case(DType::BF16, 64, {}, 17, 0));
  expect_ok(make_case(DType::F16, 64, causal(), 130, 0));
}

TEST(PrefillSm80Emu, HeadDims96192And256) {
  expect_ok(make_case(DType::BF16, 96, causal(), 130, 150));
  expect_ok(make_case(DType::F16, 192, {}, 70, 129));
  expect_ok(make_case(DType::BF16, 256, causal(), 100, 140));
  expect_ok(make_case(DType::F16, 256, window(40, 24), 90, 77), config(64, 32, 4, 2));
}

// ---- Search-space configs ----

TEST(PrefillSm80Emu, StagesOneTwoThreeAndWarpCounts) {
  // Key lengths that wrap the 2- and 3-deep pipeline several times and end mid-tile.
  expect_ok(make_case(DType::BF16, 64, causal(), 200, 200), config(64, 32, 4, 1));
  expect_ok(make_case(DType::F16, 64, causal(), 127, 200), config(64, 64, 4, 3));
  expect_ok(make_case(DType::F16, 64, {}, 100, 300), config(64, 128, 4, 2));
  expect_ok(make_case(DType::BF16, 64, window(40, 24), 200, 127), config(128, 64, 4, 3));
  expect_ok(make_case(DType::BF16, 128, causal(), 100, 150), config(64, 32, 4, 1));
  expect_ok(make_case(DType::F16, 32, window(16, 0), 150, 200), config(128, 32, 4, 3));
}

TEST(PrefillSm80Emu, EveryConfigOfTheListIsInTheSearchSpace) {
  // The (head dim, config) pairs above must be ones the tuner can pick, or the test covers
  // nothing real.
  const Target target = Target::cuda("sm_80");
  const std::pair<int, TileConfig> used[] = {
      {64, config(64, 32, 4, 1)},  {64, config(64, 64, 4, 3)}, {64, config(64, 128, 4, 2)},
      {64, config(128, 64, 4, 3)}, {128, config(64, 32, 4, 1)}, {32, config(128, 32, 4, 3)}};
  for (const auto& [hd, c] : used) {
    ProblemSpec spec = ProblemSpec::for_shape(Family::Prefill, DType::BF16, hd, causal(), 1, 1, 200, 200);
    const auto space = select_template(spec, target).search_space(spec, target);
    EXPECT_NE(std::find(space.begin(), space.end(), c), space.end()) << c.key() << " hd" << hd;
  }
}

// ---- Schedules: the same case under other fiber orders must give the same answer ----

TEST(PrefillSm80Emu, ReverseAndShuffledSchedules) {
  const PrefillCase c = make_case(DType::BF16, 64, causal(), 127, 200);
  expect_ok(c, config(64, 64, 4, 3), emu::Order::Reverse);
  expect_ok(c, config(64, 64, 4, 3), emu::Order::Shuffle);
  expect_ok(c, TileConfig{0}, emu::Order::Shuffle);
}

}  // namespace
}  // namespace attnjit::emu_test
