// templates/prefill/sm80.cuh and sm90.cuh with user variants on the CPU emulator (tests/emu),
// against the float64 reference: a score_mod reading an f32 aux table plus a document mask_mod reading
// int32 doc ids, dense and block-sparse, causal, GQA, uneven lengths, fully masked rows, even
// lengths. The prelude struct below is what codegen/snippet.cpp's user_mods_struct generates
// for kScoreMod / kMaskMod (the test checks the rendered source carries those bodies).
#include <gtest/gtest.h>

#include "codegen/snippet.h"
#include "emu/prefill_emu_harness.h"
#include "emu/prefill_sm90_emu_run.h"
#include "variants/user_cases.h"

namespace attnjit_gen {
struct UserMods : attnjit::variants::UserModsBase {
  enum : bool { kScoreMod = true, kMaskMod = true };
  template <class Score>
  ATTNJIT_HD Score score_mod(Score score, int b, int h, int q_idx, int kv_idx) const {
    return score + aux<float>(1)[h] - 0.0625f * (q_idx - kv_idx);
  }
  ATTNJIT_HD bool mask_mod(int b, int h, int q_idx, int kv_idx) const {
    const int* doc = aux<int>(0);
    return doc[q_idx] == doc[kv_idx];
  }
};
}  // namespace attnjit_gen

namespace attnjit::emu_test {

namespace {

constexpr const char* kScoreMod = "return score + aux<float>(1)[h] - 0.0625f * (q_idx - kv_idx);";
constexpr const char* kMaskMod = "const int* doc = aux<int>(0);\nreturn doc[q_idx] == doc[kv_idx];";

using sm80::Bf16;
using sm80::F16;
using Bf16s = sm90::Bf16;
using F16s = sm90::F16;
template <class M, int kTile>
using U = variants::WithUserMods<M, attnjit_gen::UserMods, kTile>;
template <class E, class M, bool Even>
using T = PrefillSm80Traits<E, 64, 128, 128, 8, 2, M, Even>;  // hd64's default config

const PrefillKernels<T<Bf16, U<sm80::MaskNone, 0>, false>, T<Bf16, U<sm80::MaskNone, 128>, false>,
                     T<F16, U<sm80::MaskCausal, 0>, false>, T<Bf16, U<sm80::MaskCausal, 128>, true>>
    kKernels;

// hd 128 on the H200's masked configs (bm64_bn128_w4_s1, bm128_bn128_w8_s1): full block-sparse
// tiles skip the mask_mod; under a built-in window or causal mask the mask_mod cuts the rest.
template <class E, int BM, int W, class M, bool Even>
using T128 = PrefillSm80Traits<E, 128, BM, 128, W, 1, M, Even>;
using Win100 = sm80::MaskSlidingWindow<100, 0>;
const PrefillKernels<T128<Bf16, 64, 4, U<sm80::MaskNone, 128>, true>, T128<Bf16, 128, 8, U<sm80::MaskNone, 128>, true>,
                     T128<Bf16, 64, 4, U<sm80::MaskNone, 128>, false>, T128<Bf16, 128, 8, U<sm80::MaskNone, 128>, false>,
                     T128<Bf16, 64, 4, U<Win100, 128>, false>, T128<F16, 128, 8, U<Win100, 0>, false>,
                     T128<Bf16, 64, 4, U<sm80::MaskCausal, 0>, false>>
    kKernels128;
// The same with end-aligned key tiles (config orders 1 and 2).
template <int O, class E, class M>
using T128e = PrefillSm80Traits<E, 128, 64, 128, 4, 1, M, false, false, false, O>;
const PrefillKernels<T128e<1, Bf16, U<Win100, 0>>, T128e<1, F16, U<sm80::MaskCausal, 0>>, T128e<2, Bf16, U<Win100, 0>>,
                     T128e<2, F16, U<sm80::MaskCausal, 0>>>
    kKernels128e;

testing::PrefillCase user_case(DType dt, MaskSpec m, int64_t hq, int64_t hk, int64_t sq, int64_t sk,
                               std::vector<int> doc_lens, int block_sparse, int hd = 64) {
  testing::PrefillCase c = testing::mk(dt, hd, m, 1, hq, hk, sq, sk);
  testing::UserCase& u = c.user;
  u.score_mod = kScoreMod;
  u.mask_mod = kMaskMod;
  u.aux_i32 = testing::docs(std::max(sq, sk), doc_lens);
  for (int64_t h = 0; h < hq; ++h) u.aux_f32.push_back(0.5f - 0.25f * float(h));
  const auto d = u.aux_i32;
  const auto table = u.aux_f32;
  u.score_ref = [table](double s, int64_t, int64_t h, int64_t q, int64_t k) {
    return s + table[h] - 0.0625 * double(q - k);
  };
  u.mask_ref = [d](int64_t, int64_t, int64_t q, int64_t k) { return d[q] == d[k]; };
  u.block_sparse = block_sparse;
  u.name = "emu" + std::to_string(block_sparse);
  return c;
}

void expect_ok(const testing::PrefillCase& c) {
  const EmuRun r = run_prefill(c);
  EXPECT_TRUE(r.report.ok) << c.name() << " (" << r.entry << ")\n" << r.report.message;
  const ProblemSpec spec = prefill_spec(c.problem());
  const Target tg = Target::cuda("sm_80");
  const KernelTemplate& t = select_template(spec, tg);
  const KernelSource src = t.render(spec, t.default_config(spec, tg), tg);
  EXPECT_NE(src.text.find(user_mods_struct(kScoreMod, kMaskMod)), std::string::npos);
}

void expect_config(const testing::PrefillCase& c, int bm, int w, int64_t min_masked_rows = 0, int order = 0) {
  const TileConfig cfg{.block_m = bm, .block_n = 128, .warps = w, .stages = 1, .order = order, .tmpl = "sm80"};
  const EmuRun r = run_prefill(c, cfg);
  EXPECT_TRUE(r.report.ok) << c.name() << " (" << r.entry << ")\n" << r.report.message;
  EXPECT_GE(r.report.masked_rows, min_masked_rows) << c.name() << " (" << r.entry << ")";
}

TEST(UserModsEmu, DenseDocumentMaskWithScoreMod) {
  expect_ok(user_case(DType::BF16, {}, 2, 1, 200, 200, {37, 90, 73}, 0));
}

TEST(UserModsEmu, CausalGqaFullyMaskedRows) {
  // seqlen_q > seqlen_k: the first 50 rows see no key under the causal mask.
  const auto c = user_case(DType::F16, {MaskKind::Causal, 0, 0}, 4, 2, 150, 100, {30, 45}, 0);
  const EmuRun r = run_prefill(c);
  EXPECT_TRUE(r.report.ok) << r.report.message;
  EXPECT_GT(r.report.masked_rows, 0);
}

#if defined(ATTNJIT_WITH_LLVM)
TEST(UserModsEmu, BlockSparseDocumentMask) {
  expect_ok(user_case(DType::BF16, {}, 2, 2, 300, 300, {100, 156, 20}, 128));
}

TEST(UserModsEmu, BlockSparseDocumentsOnTheBenchConfigs) {
  // Documents aligned to the 128-key tiles (every visited tile full) and not (partial tiles).
  for (int bm : {64, 128}) {
    expect_config(user_case(DType::BF16, {}, 2, 1, 256, 256, {128}, 128, 128), bm, bm / 16);
    expect_config(user_case(DType::BF16, {}, 1, 1, 300, 300, {100, 200}, 128, 128), bm, bm / 16);
  }
}

TEST(UserModsEmu, WindowWithDocumentsSkipsChunksPerWarp) {
  // Block-sparse and dense, uneven lengths, GQA; seqlen_q > seqlen_k + 100 leaves the first rows
  // with no key at all.
  expect_config(user_case(DType::BF16, {MaskKind::SlidingWindow, 100, 0}, 2, 1, 300, 300, {70, 150, 80}, 128, 128), 64, 4);
  expect_config(user_case(DType::F16, {MaskKind::SlidingWindow, 100, 0}, 4, 2, 333, 200, {64, 33}, 0, 128), 128, 8,
                4 * (333 - 200));  // rows i < 133 sit at p = i - 133 < 0
  expect_config(user_case(DType::BF16, {MaskKind::Causal, 0, 0}, 2, 2, 290, 301, {57, 200}, 0, 128), 64, 4);
}

TEST(UserModsEmu, EndAlignedTilesGiveTheSnippetsTheirKeys) {
  // A half first tile: the score_mod (which reads kv_idx) and the mask_mod see the shifted keys.
  for (int order : {1, 2}) {
    expect_config(user_case(DType::BF16, {MaskKind::SlidingWindow, 100, 0}, 2, 1, 300, 300, {70, 150, 80}, 0, 128), 64,
                  4, 0, order);
    expect_config(user_case(DType::F16, {MaskKind::Causal, 0, 0}, 2, 2, 290, 301, {57, 200}, 0, 128), 64, 4, 0, order);
  }
}

TEST(UserModsEmu, BlockSparseEvenCausal) {
  expect_ok(user_case(DType::BF16, {MaskKind::Causal, 0, 0}, 2, 1, 256, 256, {128, 64}, 128));
}
#endif

// The same snippets on the sm90 template (emu/prefill_sm90_emu_run.h), in each of its main loops.
template <class E, int D, int BN, class M, int WG = 2, bool OV = false, bool PS = false, bool SO = false, bool PU = false,
          bool NS = false>
using T90 = PrefillSm90Traits<E, D, BN, 2, M, WG, true, OV, PS, SO, PU, false, false, NS>;

// Also checks that codegen renders sm90 kernels for the case with the snippets' struct and the
// policy the test instantiates.
template <class Traits>
void expect_sm90(const testing::PrefillCase& c, const std::string& policy, int64_t min_masked_rows = 0,
                 unsigned blocks = 0) {  // blocks: the persistent grid (0: one per tile, up to 132)
  const emu90::EmuOut r = emu90::run<Traits>(c, emu::Order::Forward, blocks);
  EXPECT_TRUE(r.report.ok) << c.name() << "\n" << r.report.message;
  EXPECT_GE(r.report.masked_rows, min_masked_rows) << c.name();
  const ProblemSpec spec = prefill_spec(c.problem());
  const Target tg = Target::cuda("sm_90a");
  TileConfig named;
  named.tmpl = "sm90";
  const KernelTemplate& t = template_for(spec, tg, named);
  const KernelSource src = t.render(spec, t.default_config(spec, tg), tg);
  EXPECT_NE(src.text.find(user_mods_struct(kScoreMod, kMaskMod)), std::string::npos);
  EXPECT_NE(src.entry.find(policy), std::string::npos) << src.entry;
}

TEST(UserModsEmuSm90, DenseDocumentMaskWithScoreMod) {
  expect_sm90<T90<Bf16s, 64, 128, U<sm80::MaskNone, 0>>>(
      user_case(DType::BF16, {}, 2, 1, 200, 200, {37, 90, 73}, 0),
      "attnjit::variants::WithUserMods<attnjit::sm80::MaskNone, attnjit_gen::UserMods, 0>");
  // Causal, GQA, seqlen_q > seqlen_k (the first 50 rows see no key), the overlapped main loop.
  expect_sm90<T90<F16s, 64, 64, U<sm80::MaskCausal, 0>, 2, true>>(
      user_case(DType::F16, {MaskKind::Causal, 0, 0}, 4, 2, 150, 100, {30, 45}, 0),
      "attnjit::variants::WithUserMods<attnjit::sm80::MaskCausal, attnjit_gen::UserMods, 0>", 4 * 50);
  // The same with ps3 on 3 blocks: each walks several tiles and issues the next one's first S
  // during this one's epilogue. (The template runs it; codegen refuses ps3 with user variants for
  // its compile time and registers, so no GPU kernel is built this way.)
  expect_sm90<T90<F16s, 64, 64, U<sm80::MaskCausal, 0>, 2, true, true, true, false, true>>(
      user_case(DType::F16, {MaskKind::Causal, 0, 0}, 4, 2, 150, 100, {30, 45}, 0),
      "attnjit::variants::WithUserMods<attnjit::sm80::MaskCausal, attnjit_gen::UserMods, 0>", 4 * 50, 3);
  // A window with order 1 (consumers pass through the tiles the window hides) and three consumers.
  expect_sm90<T90<Bf16s, 128, 128, U<Win100, 0>, 3, false, false, false, true>>(
      user_case(DType::BF16, {MaskKind::SlidingWindow, 100, 0}, 2, 1, 300, 300, {70, 150, 80}, 0, 128),
      "attnjit::variants::WithUserMods<attnjit::sm80::MaskSlidingWindow<100, 0>, attnjit_gen::UserMods, 0>");
}

#if defined(ATTNJIT_WITH_LLVM)
TEST(UserModsEmuSm90, BlockSparseTileLists) {
  expect_sm90<T90<Bf16s, 64, 128, U<sm80::MaskNone, 128>>>(
      user_case(DType::BF16, {}, 2, 2, 300, 300, {100, 156, 20}, 128),
      "attnjit::variants::WithUserMods<attnjit::sm80::MaskNone, attnjit_gen::UserMods, 128>");
  // Causal, 64-key tiles (two per block-mask tile), the persistent kernel with O's own buffer and
  // the overlap; then documents aligned to the tiles (every visited tile full).
  expect_sm90<T90<Bf16s, 128, 64, U<sm80::MaskCausal, 128>, 2, true, true, true>>(
      user_case(DType::BF16, {MaskKind::Causal, 0, 0}, 2, 1, 256, 300, {128, 64}, 128, 128),
      "attnjit::variants::WithUserMods<attnjit::sm80::MaskCausal, attnjit_gen::UserMods, 128>");
  expect_sm90<T90<Bf16s, 128, 64, U<sm80::MaskCausal, 128>, 2, true, true, true, false, true>>(
      user_case(DType::BF16, {MaskKind::Causal, 0, 0}, 2, 1, 256, 300, {128, 64}, 128, 128),
      "attnjit::variants::WithUserMods<attnjit::sm80::MaskCausal, attnjit_gen::UserMods, 128>", 0, 2);
  expect_sm90<T90<F16s, 128, 128, U<Win100, 128>, 2, false, true>>(
      user_case(DType::F16, {MaskKind::SlidingWindow, 100, 0}, 2, 1, 256, 256, {128}, 128, 128),
      "attnjit::variants::WithUserMods<attnjit::sm80::MaskSlidingWindow<100, 0>, attnjit_gen::UserMods, 128>");
}
#endif

}  // namespace
}  // namespace attnjit::emu_test
