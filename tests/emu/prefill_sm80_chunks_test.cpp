// Per-warp chunk skipping in templates/prefill/sm80.cuh (common/sm80_chunks.cuh), on the CPU
// emulator against the float64 reference (O and LSE poisoned first): window edges that cut
// 16-key chunks at every offset, causal diagonals, tiles hidden from whole warps (narrow windows
// with small key tiles), one and two m16 tiles per warp, uneven lengths both ways, fully masked
// rows, GQA; plus an exact count of the warp collectives a causal tile saves, so that a kernel
// that stops skipping (or skips too much) fails here, not only on a GPU's clock.
#include <gtest/gtest.h>

#include "emu/prefill_emu_harness.h"

namespace attnjit::emu_test {
namespace {

using testing::causal;
using testing::make_case;
using testing::window;
using sm80::Bf16;
using sm80::F16;
using sm80::MaskCausal;
using sm80::MaskNone;
using Win37_0 = sm80::MaskSlidingWindow<37, 0>;
using Win100_21 = sm80::MaskSlidingWindow<100, 21>;
using Win5_3 = sm80::MaskSlidingWindow<5, 3>;
using Win0_0 = sm80::MaskSlidingWindow<0, 0>;

template <class E, int D, int BM, int BN, int W, int S, class M, bool Even>
using T = PrefillSm80Traits<E, D, BM, BN, W, S, M, Even>;

const PrefillKernels<
    // The collective count: hd 64's default (bm128_bn128_w8_s2), even lengths.
    T<Bf16, 64, 128, 128, 8, 2, MaskNone, true>, T<Bf16, 64, 128, 128, 8, 2, MaskCausal, true>,
    // The H200's masked configs at hd 128 (one m16 tile per warp, 16-key chunks of 128-key tiles).
    T<Bf16, 128, 64, 128, 4, 1, MaskCausal, false>, T<Bf16, 128, 64, 128, 4, 1, Win37_0, false>,
    T<F16, 128, 128, 128, 8, 1, Win100_21, false>, T<Bf16, 128, 128, 128, 8, 1, MaskCausal, false>,
    // Two m16 tiles per warp; narrow windows over small key tiles (tiles hidden from warps).
    T<F16, 64, 128, 64, 4, 1, Win37_0, false>, T<Bf16, 64, 128, 64, 4, 1, MaskCausal, false>,
    T<Bf16, 64, 128, 32, 8, 2, Win5_3, false>, T<F16, 64, 128, 32, 8, 2, Win0_0, false>,
    T<Bf16, 64, 64, 64, 4, 2, Win5_3, false>>
    kKernels;

TileConfig config(int bm, int bn, int w, int s) {
  return {.block_m = bm, .block_n = bn, .warps = w, .stages = s, .tmpl = "sm80"};
}

void expect_ok(const testing::PrefillCase& c, TileConfig cfg, int64_t min_masked_rows = 0) {
  const EmuRun r = run_prefill(c, cfg);
  EXPECT_TRUE(r.report.ok) << c.name() << " " << r.entry << "\n" << r.report.message;
  EXPECT_GE(r.report.masked_rows, min_masked_rows) << c.name() << " " << r.entry;
}

// One 128 x 128 causal tile, 8 warps of 16 rows: warp w sees the chunks 0..w of 8, so 28 chunks
// are skipped, each worth (hd 64) 4 k-steps of Q K^T and 4 d-pairs of P V, an ldmatrix and two
// mma per step: 24 collectives. Everything else (Q loads, softmax shuffles, epilogue) is the
// same as the unmasked kernel's on the same single tile.
TEST(PrefillSm80Chunks, CausalTileSkipsExactlyTheHiddenChunks) {
  const int64_t batch = 1, heads = 2;
  const auto none = run_prefill(make_case(DType::BF16, 64, {}, 128, 128, batch, heads, heads));
  const auto diag = run_prefill(make_case(DType::BF16, 64, causal(), 128, 128, batch, heads, heads));
  ASSERT_TRUE(none.report.ok) << none.report.message;
  ASSERT_TRUE(diag.report.ok) << diag.report.message;
  ASSERT_NE(none.entry.find("128, 128, 8, 2, attnjit::sm80::MaskNone, true"), std::string::npos) << none.entry;
  const uint64_t skipped = 28 * 24 * batch * heads;
  EXPECT_EQ(none.stats.collectives - diag.stats.collectives, skipped)
      << "none " << none.stats.collectives << " causal " << diag.stats.collectives;
}

TEST(PrefillSm80Chunks, WindowEdgesAtEveryChunkOffset) {
  // Windows of 37 + 1 and 100 + 21 + 1 keys start and end inside chunks at offsets that walk
  // through all 16 positions as the rows advance; uneven lengths cut the last tiles.
  expect_ok(make_case(DType::BF16, 128, window(37, 0), 300, 300, 1, 2, 2), config(64, 128, 4, 1));
  expect_ok(make_case(DType::F16, 128, window(100, 21), 333, 290, 1, 4, 2), config(128, 128, 8, 1));
  expect_ok(make_case(DType::F16, 64, window(37, 0), 250, 261, 2, 2, 1), config(128, 64, 4, 1));
}

TEST(PrefillSm80Chunks, CausalDiagonalsUnevenAndGqa) {
  expect_ok(make_case(DType::BF16, 128, causal(), 300, 300, 1, 4, 1), config(64, 128, 4, 1));
  expect_ok(make_case(DType::BF16, 128, causal(), 200, 333, 1, 2, 2), config(128, 128, 8, 1));
  expect_ok(make_case(DType::BF16, 64, causal(), 190, 257, 2, 2, 2), config(128, 64, 4, 1));
}

TEST(PrefillSm80Chunks, FullyMaskedRowsKeepZeroAndMinusInfinity) {
  // Causal with seqlen_q > seqlen_k: the first 333 - 150 rows see no key; their warps skip
  // every chunk of every tile.
  expect_ok(make_case(DType::BF16, 128, causal(), 333, 150, 1, 2, 1), config(64, 128, 4, 1), 2 * (333 - 150));
  // Window [p - 5, p + 3] with p = i - 100: rows below 97 see nothing.
  expect_ok(make_case(DType::BF16, 64, window(5, 3), 300, 200, 1, 2, 2), config(128, 32, 8, 2), 2 * 97);
}

TEST(PrefillSm80Chunks, NarrowWindowsHideWholeTilesFromWarps) {
  // 9- and 1-key windows: a 128-row block visits every 32-key tile its rows reach, most of
  // which no row of a given warp sees.
  expect_ok(make_case(DType::BF16, 64, window(5, 3), 260, 260, 1, 2, 1), config(128, 32, 8, 2));
  expect_ok(make_case(DType::F16, 64, window(0, 0), 200, 200, 2, 2, 2), config(128, 32, 8, 2));
  expect_ok(make_case(DType::BF16, 64, window(5, 3), 130, 131, 1, 3, 1), config(64, 64, 4, 2));
}

}  // namespace
}  // namespace attnjit::emu_test
