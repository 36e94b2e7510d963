// templates/prefill/sm90.cuh (warp-specialised TMA + wgmma) run on the sm90 emulator and compared
// with the float64 reference (emu/prefill_sm90_emu_run.h). Score variants: prefill_sm90_variants.cpp.
//
// Covers: f16/bf16, head dims 64, 96, 128, 192, 256, masks none / causal / sliding window (bottom-right),
// soft-capping, 2 and 3 consumer warpgroups, ping-pong on and off, the intra-warpgroup overlap
// and the persistent kernel (same bits as without them),
// uneven lengths that cut the 128-row and block_n tiles, fully masked rows, seqlen_q < and >
// seqlen_k, GQA with batches, and the BHSD layout; plus a second schedule order giving the same
// bits, and a refused map (no encoder) reported with the reason.
#include "emu/prefill_sm90_emu_run.h"

namespace attnjit {
namespace {

using namespace emu90;

TEST(PrefillSm90Emu, Hd64NoMaskUnevenLengths) {
  expect_ok<T<sm90::Bf16, 64, 128, 2, MaskNone>>(make_case(DType::BF16, 64, {}, 200, 130));
  expect_ok<T<sm90::F16, 64, 64, 2, MaskNone>>(make_case(DType::F16, 64, {}, 17, 200));
}

TEST(PrefillSm90Emu, Hd64CausalWithFullyMaskedRowsAndMoreKeys) {
  // Bottom-right: with seqlen_q > seqlen_k the first rows see no key (O = 0, LSE = -inf).
  expect_ok<T<sm90::F16, 64, 128, 2, MaskCausal>>(make_case(DType::F16, 64, causal(), 200, 17));
  expect_ok<T<sm90::Bf16, 64, 128, 2, MaskCausal>>(make_case(DType::BF16, 64, causal(), 70, 200));
}

TEST(PrefillSm90Emu, Hd64SlidingWindow) {
  expect_ok<T<sm90::F16, 64, 128, 2, Win40_24>>(make_case(DType::F16, 64, window(40, 24), 200, 127));
}

TEST(PrefillSm90Emu, Hd128AllMasks) {
  expect_ok<T<sm90::Bf16, 128, 128, 2, MaskNone>>(make_case(DType::BF16, 128, {}, 130, 200));
  expect_ok<T<sm90::F16, 128, 128, 2, MaskCausal>>(make_case(DType::F16, 128, causal(), 127, 200));
  expect_ok<T<sm90::Bf16, 128, 64, 3, Win16_0>>(make_case(DType::BF16, 128, window(16, 0), 200, 150));
}

TEST(PrefillSm90Emu, GqaBatchesAndBhsdLayout) {
  PrefillCase c = make_case(DType::BF16, 64, causal(), 70, 90, /*b=*/2, /*hq=*/4, /*hkv=*/2);
  expect_ok<T<sm90::Bf16, 64, 128, 2, MaskCausal>>(c);
  c.layout = testing::Layout::BHSD;
  expect_ok<T<sm90::Bf16, 64, 128, 2, MaskCausal>>(c);
}

TEST(PrefillSm90Emu, ScheduleOrderDoesNotChangeTheBits) {
  const PrefillCase c = make_case(DType::F16, 64, window(40, 24), 150, 150);
  using K = T<sm90::F16, 64, 64, 2, Win40_24>;
  const EmuOut a = run<K>(c, emu::Order::Forward), b = run<K>(c, emu::Order::Reverse);
  EXPECT_TRUE(a.report.ok) << a.report.message;
  EXPECT_EQ(a.o_img, b.o_img);
}

// Head dims 96 (padded to 128 in shared memory: TMA reads zeros past column 96, the store drops
// them), 192 (three column blocks) and 256 (four; FlashAttention-3's 80-key tiles).
TEST(PrefillSm90Emu, HeadDims96And192And256) {
  expect_ok<T<sm90::Bf16, 96, 128, 2, MaskNone>>(make_case(DType::BF16, 96, {}, 130, 150));
  expect_ok<T<sm90::F16, 96, 64, 3, MaskCausal>>(make_case(DType::F16, 96, causal(), 100, 140));
  expect_ok<T<sm90::Bf16, 192, 112, 2, MaskCausal>>(make_case(DType::BF16, 192, causal(), 140, 250));
  expect_ok<T<sm90::F16, 192, 96, 2, Win40_24>>(make_case(DType::F16, 192, window(40, 24), 90, 130));
  expect_ok<T<sm90::Bf16, 256, 80, 2, MaskNone>>(make_case(DType::BF16, 256, {}, 129, 170));
  expect_ok<T<sm90::F16, 256, 80, 2, MaskCausal>>(make_case(DType::F16, 256, causal(), 200, 90));
  expect_ok<T<sm90::Bf16, 256, 64, 2, Win16_0, 2, true, true>>(make_case(DType::BF16, 256, window(16, 0), 70, 150));
}

// Soft-capping through the shared variant hook (variants::SoftCapped, as the sm80 template),
// applied before the mask; c = 5 bends the scores of these inputs visibly.
struct Cap5 {
  static constexpr float kValue = 5.f;
};
struct Cap30_5 {
  static constexpr float kValue = 30.5f;
};
TEST(PrefillSm90Emu, SoftCapping) {
  PrefillCase c = make_case(DType::BF16, 128, causal(), 150, 200);
  c.softcap = 5;
  expect_ok<T<sm90::Bf16, 128, 128, 2, variants::SoftCapped<MaskCausal, Cap5>>>(c);
  PrefillCase d = make_case(DType::F16, 64, window(40, 24), 130, 100, 1, 2, 1);
  d.softcap = 30.5;
  expect_ok<T<sm90::F16, 64, 64, 2, variants::SoftCapped<Win40_24, Cap30_5>, 2, true, true>>(d);
  // The cap is applied: without it the same kernel misses the capped reference.
  PrefillCase e = make_case(DType::BF16, 64, {}, 64, 64);
  e.softcap = 5;
  const EmuOut uncapped = run<T<sm90::Bf16, 64, 64, 2, MaskNone>>(e);
  EXPECT_FALSE(uncapped.report.ok) << "an uncapped kernel passed the capped reference";
}

// Three consumer warpgroups (block_m 192) and ping-pong off.
TEST(PrefillSm90Emu, ThreeConsumerWarpgroupsAndPingPongOff) {
  expect_ok<T<sm90::Bf16, 64, 128, 2, MaskCausal, 3>>(make_case(DType::BF16, 64, causal(), 300, 250));
  expect_ok<T<sm90::F16, 128, 64, 2, Win40_24, 3>>(make_case(DType::F16, 128, window(40, 24), 200, 200));
  expect_ok<T<sm90::Bf16, 64, 128, 3, MaskNone, 2, false>>(make_case(DType::BF16, 64, {}, 200, 300));
  expect_ok<T<sm90::F16, 64, 64, 2, MaskCausal, 3, false>>(make_case(DType::F16, 64, causal(), 250, 250));
  // Ping-pong only orders the GEMM issue: the bits are the same without it.
  const PrefillCase c = make_case(DType::F16, 64, causal(), 200, 220);
  const EmuOut on = run<T<sm90::F16, 64, 64, 2, MaskCausal, 2, true>>(c);
  const EmuOut off = run<T<sm90::F16, 64, 64, 2, MaskCausal, 2, false>>(c);
  EXPECT_TRUE(on.report.ok) << on.report.message;
  EXPECT_EQ(on.o_img, off.o_img);
}

// Intra-warpgroup overlap: S (n) and P V (n-1) in flight together, the softmax between their
// waits. The emulator's hazard checks (accumulators or A operands touched in flight, a missing
// fence, a wait that retires the wrong group) run on every wgmma; the per-row arithmetic is the
// same sequence as without the overlap, so the bits must be identical.
template <class Off, class On>
void expect_overlap_same_bits(const PrefillCase& c) {
  const EmuOut off = run<Off>(c), on = run<On>(c);
  EXPECT_TRUE(off.report.ok) << c.name() << "\n" << off.report.message;
  EXPECT_TRUE(on.report.ok) << c.name() << " (overlap)\n" << on.report.message;
  EXPECT_EQ(off.o_img, on.o_img) << c.name();
}
TEST(PrefillSm90Emu, IntraWarpgroupOverlapGivesTheSameBits) {
  // One, two and many key tiles per row block; rows that see no key (seqlen_q > seqlen_k).
  expect_overlap_same_bits<T<sm90::Bf16, 64, 64, 2, MaskCausal>, T<sm90::Bf16, 64, 64, 2, MaskCausal, 2, true, true>>(
      make_case(DType::BF16, 64, causal(), 260, 200));
  expect_overlap_same_bits<T<sm90::F16, 128, 128, 3, MaskNone>, T<sm90::F16, 128, 128, 3, MaskNone, 2, true, true>>(
      make_case(DType::F16, 128, {}, 100, 60));
  expect_overlap_same_bits<T<sm90::F16, 64, 64, 2, Win40_24, 2, false>,
                           T<sm90::F16, 64, 64, 2, Win40_24, 2, false, true>>(
      make_case(DType::F16, 64, window(40, 24), 150, 300, 2, 4, 2));
  expect_overlap_same_bits<T<sm90::Bf16, 64, 64, 2, MaskCausal, 3>, T<sm90::Bf16, 64, 64, 2, MaskCausal, 3, true, true>>(
      make_case(DType::BF16, 64, causal(), 200, 330));
  expect_overlap_same_bits<T<sm90::Bf16, 192, 112, 2, MaskNone>, T<sm90::Bf16, 192, 112, 2, MaskNone, 2, true, true>>(
      make_case(DType::BF16, 192, {}, 70, 250));
}

// Persistent: fewer blocks than tiles (1, 2, 3 and 5 blocks over up to 24 tiles), each walking
// the scheduler's order (L2 sections, longest first for causal) and reusing Q's shared rows
// after O's store — the same bits as one block per tile.
template <class Plain, class Persistent>
void expect_persistent_same_bits(const PrefillCase& c, std::initializer_list<unsigned> grids) {
  const EmuOut plain = run<Plain>(c);
  EXPECT_TRUE(plain.report.ok) << c.name() << "\n" << plain.report.message;
  for (unsigned blocks : grids) {
    const EmuOut p = run<Persistent>(c, emu::Order::Forward, blocks);
    EXPECT_TRUE(p.report.ok) << c.name() << " (persistent, " << blocks << " blocks)\n" << p.report.message;
    EXPECT_EQ(plain.o_img, p.o_img) << c.name() << " (persistent, " << blocks << " blocks)";
  }
}
TEST(PrefillSm90Emu, PersistentWithMoreTilesThanBlocks) {
  // Causal, GQA 2 x 2 batches: 2 query tiles x 8 (batch, head) pairs = 16 tiles.
  expect_persistent_same_bits<T<sm90::Bf16, 64, 64, 2, MaskCausal, 2, true, true>,
                              T<sm90::Bf16, 64, 64, 2, MaskCausal, 2, true, true, true>>(
      make_case(DType::BF16, 64, causal(), 200, 150, 2, 4, 2), {1, 3, 5});
  // Sliding window, 3 consumer warpgroups, ping-pong off: 2 x 6 = 12 tiles, ragged last tile.
  expect_persistent_same_bits<T<sm90::F16, 64, 64, 2, Win16_0, 3, false>,
                              T<sm90::F16, 64, 64, 2, Win16_0, 3, false, false, true>>(
      make_case(DType::F16, 64, window(16, 0), 300, 300, 2, 3, 3), {2});
  // No mask, fully masked tiles absent; hd 128, 3 stages: the K/V ring's phases run across tiles.
  expect_persistent_same_bits<T<sm90::Bf16, 128, 64, 3, MaskNone>, T<sm90::Bf16, 128, 64, 3, MaskNone, 2, true, false, true>>(
      make_case(DType::BF16, 128, {}, 130, 70, 1, 3, 1), {2});
  // Causal with seqlen_q > seqlen_k: tiles whose rows see no key (no K/V loads at all).
  expect_persistent_same_bits<T<sm90::F16, 64, 128, 2, MaskCausal>, T<sm90::F16, 64, 128, 2, MaskCausal, 2, true, true, true>>(
      make_case(DType::F16, 64, causal(), 400, 100, 1, 2, 1), {3});
}

// Persistent with O staged in its own buffer: Q's rows are released once a tile's last S GEMM
// has retired, so the next tile's Q lands while P V, the epilogue and the store still run (the
// emulator checks that no load overwrites rows a pending GEMM reads and that no store's source
// is overwritten before its read completes) — the same bits as one block per tile.
TEST(PrefillSm90Emu, PersistentWithSeparateOBuffer) {
  // Causal, GQA, uneven: tiles with 0..4 key tiles (rows that see no key included); overlap.
  expect_persistent_same_bits<T<sm90::Bf16, 64, 64, 2, MaskCausal, 2, true, true>,
                              T<sm90::Bf16, 64, 64, 2, MaskCausal, 2, true, true, true, true>>(
      make_case(DType::BF16, 64, causal(), 260, 150, 2, 4, 2), {1, 3, 5});
  // hd 128, 2 stages, no overlap, no ping-pong, one key tile per tile: Q turns over fastest.
  expect_persistent_same_bits<T<sm90::F16, 128, 64, 2, MaskNone, 2, false, false>,
                              T<sm90::F16, 128, 64, 2, MaskNone, 2, false, false, true, true>>(
      make_case(DType::F16, 128, {}, 300, 40, 2, 2, 1), {1, 2});
  // Three consumer warpgroups, sliding window, ragged last tile.
  expect_persistent_same_bits<T<sm90::F16, 64, 64, 2, Win16_0, 3, false>,
                              T<sm90::F16, 64, 64, 2, Win16_0, 3, false, false, true, true>>(
      make_case(DType::F16, 64, window(16, 0), 300, 300, 2, 3, 3), {2});
  // Causal with seqlen_q > seqlen_k: tiles that load no K/V release Q without an S GEMM.
  expect_persistent_same_bits<T<sm90::F16, 64, 128, 2, MaskCausal>,
                              T<sm90::F16, 64, 128, 2, MaskCausal, 2, true, true, true, true>>(
      make_case(DType::F16, 64, causal(), 400, 100, 1, 2, 1), {3});
}

// ps3: a consumer issues the next tile's first S GEMM right after this tile's last P V (in the
// next tile's first ping-pong turn) and runs this tile's epilogue while it is in flight. The emulator
// checks that the epilogue touches no register of the S GEMM in flight and that the next Q has
// landed before that GEMM reads it — the same bits as one block per tile.
template <class E, int D, int BN, int S, class M, int WG = 2, bool PP = true, bool OV = true>
using NextS = T<E, D, BN, S, M, WG, PP, OV, true, true, false, false, false, true>;
TEST(PrefillSm90Emu, PersistentWithNextTileSDuringTheEpilogue) {
  // Causal, GQA, uneven: tiles with 0..5 key tiles (the last consumer's row block sees one key
  // tile where the next tile starts: ping-pong turns across the tile boundary).
  expect_persistent_same_bits<T<sm90::Bf16, 64, 64, 2, MaskCausal, 2, true, true>, NextS<sm90::Bf16, 64, 64, 2, MaskCausal>>(
      make_case(DType::BF16, 64, causal(), 260, 150, 2, 4, 2), {1, 3, 5});
  // One key tile per tile (each tile's only S is the one the previous tile issued), 3 stages.
  expect_persistent_same_bits<T<sm90::F16, 128, 64, 3, MaskNone, 2, true, true>, NextS<sm90::F16, 128, 64, 3, MaskNone>>(
      make_case(DType::F16, 128, {}, 300, 40, 2, 2, 1), {1, 2});
  // Ping-pong off, three consumer warpgroups, a sliding window with a ragged last tile.
  expect_persistent_same_bits<T<sm90::F16, 64, 64, 2, Win16_0, 3, false, true>,
                              NextS<sm90::F16, 64, 64, 2, Win16_0, 3, false>>(
      make_case(DType::F16, 64, window(16, 0), 300, 300, 2, 3, 3), {2});
  expect_persistent_same_bits<T<sm90::Bf16, 64, 64, 2, Win40_24, 2, false, true>,
                              NextS<sm90::Bf16, 64, 64, 2, Win40_24, 2, false>>(
      make_case(DType::BF16, 64, window(40, 24), 200, 260, 1, 2, 1), {1});
  // Causal with seqlen_q > seqlen_k: tiles that see no key lie between tiles that do, so a
  // next tile can be one without an S GEMM (nothing issued early) and the one after it is not.
  expect_persistent_same_bits<T<sm90::F16, 64, 128, 2, MaskCausal, 2, true, true>,
                              NextS<sm90::F16, 64, 128, 2, MaskCausal>>(make_case(DType::F16, 64, causal(), 400, 100, 1, 2, 1),
                                                                       {1, 3});
  // The main loop without the overlap (its last tile's P V then the next tile's first S): causal
  // GQA uneven; three consumers without a mask (head dim 64's short-sequence tile); 3 stages.
  expect_persistent_same_bits<T<sm90::Bf16, 64, 64, 2, MaskCausal, 2, true, false>,
                              NextS<sm90::Bf16, 64, 64, 2, MaskCausal, 2, true, false>>(
      make_case(DType::BF16, 64, causal(), 260, 150, 2, 4, 2), {1, 3, 5});
  expect_persistent_same_bits<T<sm90::F16, 64, 128, 2, MaskNone, 3, false, false>,
                              NextS<sm90::F16, 64, 128, 2, MaskNone, 3, false, false>>(
      make_case(DType::F16, 64, {}, 400, 300, 2, 3, 1), {1, 2});
  expect_persistent_same_bits<T<sm90::Bf16, 64, 128, 3, MaskCausal, 2, false, false>,
                              NextS<sm90::Bf16, 64, 128, 3, MaskCausal, 2, false, false>>(
      make_case(DType::BF16, 64, causal(), 400, 100, 1, 2, 1), {1, 3});
  // Many key tiles per tile, both rings around 2 stages several times: hd 128 block_n 128.
  expect_persistent_same_bits<T<sm90::Bf16, 128, 128, 2, MaskNone, 2, true, true>,
                              NextS<sm90::Bf16, 128, 128, 2, MaskNone>>(
      make_case(DType::BF16, 128, {}, 256, 600, 1, 3, 1), {1, 2});
}

// K and V rings released separately (k_empty once S has retired, v_empty once P V has) with the
// producer loading K(n+1) before V(n): 11 key tiles per row block take both rings around 2 and 3
// stages several times; every main loop (overlap, ping-pong, stages, three consumers, the
// persistent walk whose ring positions carry across tiles) gives the same bits.
template <class Traits>
void expect_same_bits(const PrefillCase& c, const EmuOut& want, unsigned blocks = 0) {
  const EmuOut r = run<Traits>(c, emu::Order::Forward, blocks);
  EXPECT_TRUE(r.report.ok) << c.name() << "\n" << r.report.message;
  EXPECT_EQ(want.o_img, r.o_img) << c.name() << " s" << Traits::kStages << " ov" << Traits::kOverlap << " pp"
                                 << Traits::kPingPong << " wg" << Traits::kConsumers << " ps" << Traits::kPersistent;
}
TEST(PrefillSm90Emu, SeparateKAndVRingsOverManyKeyTiles) {
  const PrefillCase c = make_case(DType::BF16, 64, {}, 100, 700, 1, 2, 1);
  const EmuOut base = run<T<sm90::Bf16, 64, 64, 2, MaskNone, 2, true, false>>(c);
  EXPECT_TRUE(base.report.ok) << base.report.message;
  expect_same_bits<T<sm90::Bf16, 64, 64, 3, MaskNone, 2, true, false>>(c, base);
  expect_same_bits<T<sm90::Bf16, 64, 64, 2, MaskNone, 2, true, true>>(c, base);
  expect_same_bits<T<sm90::Bf16, 64, 64, 3, MaskNone, 2, true, true>>(c, base);
  expect_same_bits<T<sm90::Bf16, 64, 64, 2, MaskNone, 2, false, true>>(c, base);
  expect_same_bits<T<sm90::Bf16, 64, 64, 3, MaskNone, 2, false, false>>(c, base);
  expect_same_bits<T<sm90::Bf16, 64, 64, 2, MaskNone, 3, true, true>>(c, base);
  // Persistent, 3 stages with the overlap (a config of scripts/sm90-compile-check.sh), causal:
  // tiles with 1..4 key tiles, so the rings start each tile at a different stage and phase.
  const PrefillCase d = make_case(DType::F16, 128, causal(), 250, 250, 2, 2, 1);
  expect_persistent_same_bits<T<sm90::F16, 128, 64, 3, MaskCausal, 2, true, true>,
                              T<sm90::F16, 128, 64, 3, MaskCausal, 2, true, true, true>>(d, {1, 3});
  expect_persistent_same_bits<T<sm90::F16, 128, 64, 3, MaskCausal, 2, false, true>,
                              T<sm90::F16, 128, 64, 3, MaskCausal, 2, false, true, true>>(d, {2});
}

// FlashAttention-3's non-causal hd 128 tile (block_n 176, 2 stages; 214 KB of shared memory),
// with a ragged last key tile; causal without the overlap (the register rule's legal one).
TEST(PrefillSm90Emu, Hd128BlockN176) {
  const PrefillCase c = make_case(DType::BF16, 128, {}, 130, 400, 1, 2, 1);
  const EmuOut base = run<T<sm90::Bf16, 128, 176, 2, MaskNone, 2, true, false>>(c);
  EXPECT_TRUE(base.report.ok) << base.report.message;
  expect_same_bits<T<sm90::Bf16, 128, 176, 2, MaskNone, 2, true, true>>(c, base);
  expect_ok<T<sm90::F16, 128, 176, 2, MaskCausal, 2, true, false>>(make_case(DType::F16, 128, causal(), 200, 380));
}

// Size-1 dimensions may carry any stride (PyTorch gives them arbitrary ones; the sm80 path's
// checks accept them): one sequence, one head, one query row, with strides TMA could not
// describe, still encode and give the reference's answer.
TEST(PrefillSm90Emu, SizeOneDimensionsTakeAnyStride) {
  PrefillCase c = make_case(DType::BF16, 64, causal(), 1, 150);  // batch 1, 1 head, 1 query row
  const EmuOut r = run<T<sm90::Bf16, 64, 64, 2, MaskCausal>>(c, emu::Order::Forward, 0, [](PrefillArgs& a) {
    a.q.batch_stride = a.o.batch_stride = 3;  // batch 1
    a.k.batch_stride = a.v.batch_stride = 5;
    a.q.head_stride = a.o.head_stride = 7;  // one head
    a.k.head_stride = a.v.head_stride = 9;
    a.q.seq_stride = a.o.seq_stride = 11;  // one query row
  });
  EXPECT_TRUE(r.report.ok) << r.report.message;
}

TEST(PrefillSm90Emu, WithoutAnEncoderTheMapsAreRefusedWithTheReason) {
  set_tensor_map_encoder(nullptr);
  PrefillParams p{};
  try {
    make_prefill_sm90_params(p, DType::BF16, 64, 128, 128);
    FAIL() << "expected SpecError";
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("cuTensorMapEncodeTiled"), std::string::npos) << e.what();
  }
}

// Config order 1 (kPassUnseen): a consumer computes only the key tiles its own 64 rows can see
// and passes through the rest (waits, releases, ping-pong turns). A tile a consumer cannot see
// adds exactly nothing to its rows, so the output has the same bits as without it; and the
// wgmma count falls by the tiles passed through (2 wgmma instructions per k16 step: head_dim / 16
// for S, block_n / 16 for P V, per consumer and tile).
template <class Base, int kPassed = -1>
void expect_pass_unseen(const PrefillCase& c, unsigned blocks = 0) {
  using Pass = PrefillSm90Traits<typename Base::Element, Base::kHeadDim, Base::kBlockN, Base::kStages,
                                 typename Base::Mask, Base::kConsumers, Base::kPingPong, Base::kOverlap,
                                 Base::kPersistent, Base::kSeparateO, true>;
  const EmuOut base = run<Base>(c, emu::Order::Forward, blocks);
  const EmuOut pass = run<Pass>(c, emu::Order::Forward, blocks);
  EXPECT_TRUE(base.report.ok) << c.name() << "\n" << base.report.message;
  EXPECT_TRUE(pass.report.ok) << c.name() << " (pass unseen)\n" << pass.report.message;
  EXPECT_EQ(base.o_img, pass.o_img) << c.name();
  const uint64_t per_tile = 128u * (Base::kHeadDim / 16 + Base::kBlockN / 16);
  const uint64_t saved = base.stats.wgmma_calls - pass.stats.wgmma_calls;
  EXPECT_EQ(saved % per_tile, 0u) << c.name();
  std::printf("[emu sm90] %s: %llu consumer tiles passed through\n", c.name().c_str(),
              static_cast<unsigned long long>(saved / per_tile));
  if (kPassed >= 0) EXPECT_EQ(saved / per_tile, static_cast<uint64_t>(kPassed)) << c.name();
}
// The consumer tiles a host model of the tiling says nobody computes: for each block of
// 64 * consumers rows and each block_n tile of its key range, the consumers whose rows' keys
// [lo(first row), hi(last row)) miss the tile.
int64_t unseen_tiles(const PrefillCase& c, int consumers, int block_n) {
  auto range = [&](int64_t i, int64_t& lo, int64_t& hi) {
    const int64_t p = i + c.seqlen_k - c.seqlen_q;
    auto clamp = [&](int64_t k) { return std::clamp<int64_t>(k, 0, c.seqlen_k); };
    lo = c.mask.kind == MaskKind::SlidingWindow ? clamp(p - c.mask.window_left) : 0;
    hi = c.mask.kind == MaskKind::Causal ? clamp(p + 1) : clamp(p + c.mask.window_right + 1);
  };
  const int bm = 64 * consumers;
  int64_t n = 0, unused;
  for (int64_t m0 = 0; m0 < c.seqlen_q; m0 += bm) {
    int64_t lo, hi;
    range(m0, lo, unused);
    range(std::min<int64_t>(m0 + bm, c.seqlen_q) - 1, unused, hi);
    for (int64_t t = lo / block_n; t < (hi + block_n - 1) / block_n; ++t)
      for (int k = 0; k < consumers; ++k) {
        int64_t c_lo, c_hi;
        range(m0 + 64 * k, c_lo, unused);
        range(m0 + 64 * k + 63, unused, c_hi);
        if (t * block_n + block_n <= c_lo || t * block_n >= c_hi) ++n;
      }
  }
  return n * c.batch * c.heads_q;
}

TEST(PrefillSm90Emu, PassUnseenTilesSameBitsFewerGemms) {
  // Head dim 256's 80-key tiles, causal: near the diagonal consumer 0 sees none of the last tile.
  const PrefillCase c256 = make_case(DType::BF16, 256, causal(), 300, 300);
  expect_pass_unseen<T<sm90::Bf16, 256, 80, 2, MaskCausal, 2, true, false>, -1>(c256);
  EXPECT_GT(unseen_tiles(c256, 2, 80), 0);
  // Three consumers (192-row tiles), causal, overlap and ping-pong; GQA, uneven, q > k.
  expect_pass_unseen<T<sm90::F16, 64, 128, 2, MaskCausal, 3, true, true>>(make_case(DType::F16, 64, causal(), 400, 350, 1, 4, 2));
  // A sliding window's lower edge: consumer 1 sees none of the first tile; overlap without ping-pong.
  expect_pass_unseen<T<sm90::Bf16, 128, 64, 2, Win16_0, 2, false, true>>(make_case(DType::BF16, 128, window(16, 0), 300, 300));
  // Left and right window, q < k; no overlap, ping-pong.
  expect_pass_unseen<T<sm90::F16, 64, 64, 3, Win40_24, 2, true, false>>(make_case(DType::F16, 64, window(40, 24), 150, 290, 2, 2, 1));
}

TEST(PrefillSm90Emu, PassUnseenTilesMatchTheModel) {
  const PrefillCase c1 = make_case(DType::BF16, 256, causal(), 300, 300);
  expect_pass_unseen<T<sm90::Bf16, 256, 80, 2, MaskCausal, 2, true, true>, -1>(c1);
  const PrefillCase c2 = make_case(DType::F16, 64, causal(), 400, 400, 1, 2, 1);
  const PrefillCase c3 = make_case(DType::BF16, 128, window(16, 0), 300, 300);
  const EmuOut b2 = run<T<sm90::F16, 64, 128, 2, MaskCausal, 3, true, true>>(c2);
  const EmuOut p2 = run<T<sm90::F16, 64, 128, 2, MaskCausal, 3, true, true, false, false, true>>(c2);
  EXPECT_EQ(b2.stats.wgmma_calls - p2.stats.wgmma_calls,
            static_cast<uint64_t>(unseen_tiles(c2, 3, 128)) * 128u * (64 / 16 + 128 / 16));
  const EmuOut b3 = run<T<sm90::Bf16, 128, 64, 2, Win16_0, 2, false, true>>(c3);
  const EmuOut p3 = run<T<sm90::Bf16, 128, 64, 2, Win16_0, 2, false, true, false, false, true>>(c3);
  EXPECT_EQ(b3.stats.wgmma_calls - p3.stats.wgmma_calls,
            static_cast<uint64_t>(unseen_tiles(c3, 2, 64)) * 128u * (128 / 16 + 64 / 16));
  EXPECT_GT(unseen_tiles(c2, 3, 128), 0);
  EXPECT_GT(unseen_tiles(c3, 2, 64), 0);
  const EmuOut b1 = run<T<sm90::Bf16, 256, 80, 2, MaskCausal, 2, true, true>>(c1);
  const EmuOut p1 = run<T<sm90::Bf16, 256, 80, 2, MaskCausal, 2, true, true, false, false, true>>(c1);
  EXPECT_EQ(b1.stats.wgmma_calls - p1.stats.wgmma_calls,
            static_cast<uint64_t>(unseen_tiles(c1, 2, 80)) * 128u * (256 / 16 + 80 / 16));
}

TEST(PrefillSm90Emu, PassUnseenTilesPersistent) {
  // The persistent walk (ring positions and Q releases carry across tiles), with and without a
  // separate O buffer (Q released after the last S GEMM, which a consumer may skip).
  expect_pass_unseen<T<sm90::Bf16, 256, 80, 2, MaskCausal, 2, true, false, true>>(
      make_case(DType::BF16, 256, causal(), 300, 300, 1, 2, 1), 2);
  expect_pass_unseen<T<sm90::F16, 64, 64, 2, MaskCausal, 2, true, true, true, true>>(
      make_case(DType::F16, 64, causal(), 260, 300, 2, 2, 1), 3);
  expect_pass_unseen<T<sm90::F16, 64, 64, 2, Win16_0, 3, false, false, true, true>>(
      make_case(DType::F16, 64, window(16, 0), 300, 300, 1, 3, 3), 2);
}

}  // namespace
}  // namespace attnjit
