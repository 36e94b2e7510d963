// The sm80 prefill template with varlen (packed) batches and paged K/V, run on the CPU emulator
// (tests/emu) against the float64 varlen reference. The kernel is chosen as the runtime chooses
// it (select_template / default or given config / render / geometry for sm_80); render()'s name
// expression must be one of the instantiations compiled in below. Covers mixed lengths with empty
// sequences (idle tile numbers), q != k per sequence (fully masked rows), GQA, page sizes below,
// at and above block_n (rows crossing pages), shuffled block tables, varlen q + paged K/V.
#include <gtest/gtest.h>

#include "emu/prefill_emu_harness.h"
#include "variants/ragged_harness.h"

namespace attnjit::variants_test {
namespace {

using emu_test::kernels;
using emu_test::PrefillKernels;
using sm80::Bf16;
using sm80::F16;
using sm80::MaskCausal;
using sm80::MaskNone;
using Win24_0 = sm80::MaskSlidingWindow<24, 0>;

template <class E, int D, int BM, int BN, int W, int S, class M, bool Varlen, bool Paged, int KeyTiles = 0>
using T = PrefillSm80Traits<E, D, BM, BN, W, S, M, false, Varlen, Paged, KeyTiles>;
using Win100_0 = sm80::MaskSlidingWindow<100, 0>;

const PrefillKernels<
    // Defaults on sm_80 for head dim 64 (bm128_bn128_w8_s2).
    T<Bf16, 64, 128, 128, 8, 2, MaskCausal, true, false>, T<F16, 64, 128, 128, 8, 2, MaskNone, true, false>,
    T<Bf16, 64, 128, 128, 8, 2, MaskCausal, false, true>,
    // A smaller tile: pages of 1..16 tokens cut its 32-key tiles, 64 and 256 hold several.
    T<Bf16, 64, 64, 32, 4, 2, MaskCausal, false, true>, T<F16, 64, 64, 32, 4, 1, Win24_0, true, true>,
    T<Bf16, 64, 64, 32, 4, 2, MaskCausal, true, false>,
    // End-aligned key tiles (config orders 1 and 2): the half first tile through varlen rows and
    // pages, and the per-warp skipping.
    T<Bf16, 64, 64, 128, 4, 1, MaskCausal, true, false, 1>, T<F16, 64, 64, 128, 4, 2, Win100_0, false, true, 1>,
    T<Bf16, 64, 64, 128, 4, 1, Win100_0, true, true, 1>, T<Bf16, 64, 64, 128, 4, 1, MaskCausal, true, false, 2>,
    T<F16, 64, 64, 128, 4, 2, Win100_0, false, true, 2>, T<Bf16, 64, 64, 128, 4, 1, Win100_0, true, true, 2>>
    kKernels;

RaggedCase mk(DType dt, MaskSpec m, int64_t hq, int64_t hkv, std::vector<int64_t> sq, std::vector<int64_t> sk,
              bool varlen, int page) {
  return ragged_case(dt, 64, m, hq, hkv, std::move(sq), std::move(sk), varlen, page);
}

TileConfig small() { return {.block_m = 64, .block_n = 32, .warps = 4, .stages = 2, .tmpl = "sm80"}; }
TileConfig end_aligned(int stages, int order) {
  return {.block_m = 64, .block_n = 128, .warps = 4, .stages = stages, .order = order, .tmpl = "sm80"};
}

// Runs the case on the emulator (cfg.block_m == 0: the default config) and checks it.
void run_emu(const RaggedCase& c, TileConfig cfg = TileConfig{0}, int stages = 0) {
  SCOPED_TRACE(c.name());
  RaggedData x = make_ragged(c);
  const ProblemSpec spec = prefill_spec(x.args.problem);
  const Target target = Target::cuda("sm_80");
  const KernelTemplate& tmpl = select_template(spec, target);
  if (cfg.block_m == 0) cfg = tmpl.default_config(spec, target);
  if (stages) cfg.stages = stages;
  const KernelSource src = tmpl.render(spec, cfg, target);
  const LaunchGeometry geo = tmpl.geometry(spec, cfg, target, prefill_shape(x.args.problem));
  const auto it = kernels().find(src.entry);
  ASSERT_NE(it, kernels().end()) << "no emulated instantiation of " << src.entry;
  ASSERT_EQ(geo.block[0], static_cast<unsigned>(it->second.threads));
  ASSERT_EQ(geo.dynamic_smem, static_cast<unsigned>(it->second.smem_bytes));
  const PrefillParams params = make_prefill_params(x.args, Platform::Cuda);
  emu::LaunchConfig lc;
  lc.grid = {geo.grid[0], geo.grid[1], geo.grid[2]};
  lc.block = {geo.block[0], geo.block[1], geo.block[2]};
  lc.dynamic_smem = geo.dynamic_smem;
  lc.seed = c.seed;
  lc.readable = {{x.q_img.data(), x.q_img.size()}, {x.k_img.data(), x.k_img.size()}, {x.v_img.data(), x.v_img.size()}};
  try {
    emu::launch(lc, attnjit::smem, [&] { it->second.body(params); });
  } catch (const emu::EmuError& e) {
    FAIL() << "emulator: " << e.what();
  }
  const CheckReport r = check_ragged(x);
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(VarlenEmuSm80, MixedLengthsDefaultConfig) {
  // Empty sequences, a one-token one, lengths that cut the 128-row tile, GQA.
  run_emu(mk(DType::BF16, {MaskKind::Causal, 0, 0}, 2, 1, {130, 0, 1, 45}, {130, 0, 1, 45}, true, 0));
  // q != k per sequence: causal rows before the keys see nothing; k empty masks every row.
  run_emu(mk(DType::F16, {}, 1, 1, {20, 70}, {0, 90}, true, 0));
}

TEST(VarlenEmuSm80, SmallTilesManySequences) {
  run_emu(mk(DType::BF16, {MaskKind::Causal, 0, 0}, 1, 1, {64, 65, 3, 0, 100}, {64, 80, 40, 7, 100}, true, 0),
          small());
}

TEST(VarlenEmuSm80, PagedKvShuffledTables) {
  // Chunked prefill: 24 new tokens per sequence against caches of 24..150 keys.
  for (int page : {1, 4, 16, 64, 256})
    run_emu(mk(DType::BF16, {MaskKind::Causal, 0, 0}, 2, 1, {24, 24}, {150, 24}, false, page), small());
  run_emu(mk(DType::BF16, {MaskKind::Causal, 0, 0}, 1, 1, {40, 40}, {200, 33}, false, 8));  // default tile
}

TEST(VarlenEmuSm80, VarlenQueriesAgainstPagedCache) {
  run_emu(mk(DType::F16, {MaskKind::SlidingWindow, 24, 0}, 2, 2, {33, 0, 70}, {100, 9, 70}, true, 16), small(), 1);
}

TEST(VarlenEmuSm80, EndAlignedTilesWithVarlenAndPages) {
  // Sequences whose 64-row blocks span an odd number of 64-key halves: the half first tile's
  // rows come from packed sequences, then through block tables with pages of 1..64 keys.
  for (int order : {1, 2}) {
    run_emu(mk(DType::BF16, {MaskKind::Causal, 0, 0}, 2, 1, {130, 0, 200, 45}, {130, 0, 257, 45}, true, 0),
            end_aligned(1, order));
    for (int page : {1, 16, 64})
      run_emu(mk(DType::F16, {MaskKind::SlidingWindow, 100, 0}, 2, 2, {150, 150}, {230, 150}, false, page),
              end_aligned(2, order));
    run_emu(mk(DType::BF16, {MaskKind::SlidingWindow, 100, 0}, 2, 1, {33, 0, 170}, {300, 9, 170}, true, 16),
            end_aligned(1, order));
  }
}

}  // namespace
}  // namespace attnjit::variants_test
