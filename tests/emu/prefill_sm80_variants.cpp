// ALiBi and attention sinks in templates/prefill/sm80.cuh, run on the CPU emulator against the
// float64 reference (testing::check_outputs: 2x a same-precision baseline that applies the same
// bias / sink, plus one ulp; O and LSE poisoned first; fully masked rows O = 0 exactly and, with
// sinks, LSE = the sink). Default sm_80 configs, uneven lengths, GQA, per-batch slopes, fully
// masked rows (causal with seqlen_q > seqlen_k, a window that misses every key), soft-capping
// underneath. Registered with the ctest label `variants` (tests/emu/tests.cmake).
#include <gtest/gtest.h>

#include "emu/prefill_emu_harness.h"

namespace attnjit::emu_test {
namespace {

using testing::PrefillCase;
using sm80::Bf16;
using sm80::F16;
using sm80::MaskCausal;
using sm80::MaskNone;
using Win8_0 = sm80::MaskSlidingWindow<8, 0>;
struct Cap30p5 { static constexpr float kValue = 30.5f; };
template <class M>
using Al = variants::WithAlibi<M>;
template <class M>
using Sk = variants::WithSink<M>;

template <class E, int D, int BM, int BN, int W, int S, class M, bool Even>
using T = PrefillSm80Traits<E, D, BM, BN, W, S, M, Even>;

// Defaults on sm_80: hd 64 -> bm128_bn128_w8_s2, hd 128 -> bm128_bn64_w8_s2; plus one small
// search-space config (two m16 tiles per warp) for ALiBi's fragment positions.
const PrefillKernels<
    T<Bf16, 64, 128, 128, 8, 2, Al<MaskCausal>, false>, T<F16, 64, 128, 128, 8, 2, Al<MaskNone>, false>,
    T<Bf16, 128, 128, 64, 8, 2, Al<variants::SoftCapped<MaskCausal, Cap30p5>>, false>,
    T<F16, 64, 128, 32, 4, 1, Al<MaskCausal>, false>,
    T<Bf16, 64, 128, 128, 8, 2, Sk<MaskCausal>, false>, T<F16, 64, 128, 128, 8, 2, Sk<Win8_0>, false>,
    T<Bf16, 64, 128, 128, 8, 2, Sk<Al<MaskNone>>, false>>
    kKernels;

MaskSpec causal() { return {MaskKind::Causal, 0, 0}; }

void expect_ok(const PrefillCase& c, TileConfig cfg = TileConfig{0}, int64_t min_masked_rows = 0) {
  const EmuRun r = run_prefill(c, cfg);
  EXPECT_TRUE(r.report.ok) << c.name() << " " << r.entry << "\n" << r.report.message;
  EXPECT_GE(r.report.masked_rows, min_masked_rows) << c.name();
}

TEST(PrefillSm80EmuVariants, AlibiMatchesReference) {
  // Uneven lengths (both ways), GQA, per-batch slopes, fully masked rows.
  expect_ok(PrefillCase::make(DType::BF16, 64, causal(), 200, 130, 2, 4, 2).with_alibi(true));
  expect_ok(PrefillCase::make(DType::F16, 64, {}, 17, 200, 1, 2, 1).with_alibi());
  expect_ok(PrefillCase::make(DType::BF16, 64, causal(), 150, 33, 1, 2, 2).with_alibi(), TileConfig{0}, 2 * (150 - 33));
  PrefillCase capped = PrefillCase::make(DType::BF16, 128, causal(), 127, 100, 1, 2, 1).with_alibi();
  capped.softcap = 30.5;
  expect_ok(capped);
  const TileConfig small{.block_m = 128, .block_n = 32, .warps = 4, .stages = 1, .tmpl = "sm80"};
  expect_ok(PrefillCase::make(DType::F16, 64, causal(), 130, 130, 1, 2, 1).with_alibi(), small);
}

TEST(PrefillSm80EmuVariants, SinksMatchReference) {
  expect_ok(PrefillCase::make(DType::BF16, 64, causal(), 200, 130, 2, 4, 2).with_sink());
  // Causal, seqlen_q > seqlen_k: the first rows see no key: O = 0 and LSE = the sink.
  expect_ok(PrefillCase::make(DType::BF16, 64, causal(), 150, 33, 1, 2, 1).with_sink(), TileConfig{0}, 2 * (150 - 33));
  // A window [p - 8, p] with p < 0 for the first 100 rows: they see no key either.
  expect_ok(PrefillCase::make(DType::F16, 64, {MaskKind::SlidingWindow, 8, 0}, 140, 40, 1, 2, 2).with_sink(), TileConfig{0},
            2 * 100);
}

TEST(PrefillSm80EmuVariants, AlibiWithSinks) {
  expect_ok(PrefillCase::make(DType::BF16, 64, {}, 70, 150, 1, 4, 1).with_alibi().with_sink());
}

}  // namespace
}  // namespace attnjit::emu_test
