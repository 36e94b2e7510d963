// The sm90 prefill template with varlen (packed) batches and paged K/V, run on the sm90 emulator against the
// float64 varlen reference (check_ragged: per sequence, the dense checker's rules; every packed
// output finite). Launched exactly as the runtime launches it: codegen's geometry (one CTA per
// varlen tile number, or the persistent grid) and build_arguments (the maps over the packed rows
// through the emulator's encoder, the tile order), with render()'s entry checked against the
// instantiation that runs. Covers empty and one-token sequences, head dims 64, 96 and 128, lengths that cut the 128- and
// 192-row tiles and the key tiles, q != k per sequence (rows that see no key), GQA, the
// overlap, order 1, the persistent kernel with and without O in its own buffer (idle tile
// numbers interleaved with real ones), ALiBi with sinks, and the rows past a sequence that its
// last tile reads (the next sequence's, never written by the direct O stores); and paged K/V (pages of
// 8..256 rows in shuffled block tables, with dense and varlen queries).
#include <gtest/gtest.h>

#include "emu/prefill_sm90_emu_run.h"
#include "variants/ragged_harness.h"

namespace attnjit::variants_test {
namespace {

using emu90::T;
using sm80::MaskCausal;
using sm80::MaskNone;
using Win24_0 = sm80::MaskSlidingWindow<24, 0>;

RaggedCase mk(DType dt, int hd, MaskSpec m, int64_t hq, int64_t hkv, std::vector<int64_t> sq, std::vector<int64_t> sk,
              bool varlen = true, int page = 0) {
  return ragged_case(dt, hd, m, hq, hkv, std::move(sq), std::move(sk), varlen, page);
}

// Runs `c` with the sm90 config `cfg` on Traits (whose name render() must give) and checks it.
template <class Traits>
void run_emu(RaggedCase c, const char* cfg, bool alibi = false, bool sink = false) {
  SCOPED_TRACE(c.name() + " " + cfg);
  RaggedData x = make_ragged(c);
  // ALiBi slopes and sinks (host memory is the emulator's device memory), the reference's too.
  std::vector<float> slopes, sinks;
  x.args.problem.alibi = alibi;
  x.args.problem.sink = sink;
  for (int64_t h = 0; h < c.heads_q; ++h) {
    slopes.push_back(1.f / static_cast<float>(4 + 3 * h));
    sinks.push_back(0.5f * static_cast<float>(h) - 0.7f);
  }
  if (alibi) x.args.alibi_slopes = slopes.data();
  if (sink) x.args.sinks = sinks.data();
  const ProblemSpec spec = prefill_spec(x.args.problem);
  const Target target = Target::cuda("sm_90a");
  const TileConfig config = TileConfig::parse(cfg);
  const KernelTemplate& tmpl = template_for(spec, target, config);
  ASSERT_EQ(tmpl.name(), "prefill_sm90");
  ASSERT_FALSE(tmpl.can_implement(spec, config, target));
  const std::string entry = tmpl.render(spec, config, target).entry;
  // kVarlen, kPaged and kNextS are the traits' last arguments, up to the last one set.
  std::string tail = std::string(", ") + (c.varlen ? "true" : "false");
  if (c.page_size || config.persistent == 3) tail += c.page_size ? ", true" : ", false";
  if (config.persistent == 3) tail += ", true";
  ASSERT_EQ(entry.substr(entry.size() - tail.size() - 2), tail + ">>") << entry;
  ASSERT_EQ(Traits::kVarlen, c.varlen);
  ASSERT_EQ(Traits::kPaged, c.page_size != 0);
  ASSERT_EQ(Traits::kBlockN, config.block_n);
  ASSERT_EQ(Traits::kConsumers, config.warpgroups);
  ASSERT_EQ(Traits::kPersistent, config.persistent != 0);
  ASSERT_EQ(Traits::kSeparateO, config.persistent >= 2);
  ASSERT_EQ(Traits::kNextS, config.persistent == 3);
  ASSERT_EQ(Traits::kOverlap, config.overlap != 0);
  ASSERT_EQ(Traits::kPassUnseen, config.order == 1);
  Target h100 = target;
  h100.sm_count = 3;  // a small persistent grid: every block walks several tile numbers
  const LaunchGeometry geo = tmpl.geometry(spec, config, h100, prefill_shape(x.args.problem));
  ASSERT_EQ(geo.dynamic_smem, Traits::kSmemBytes);
  set_tensor_map_encoder(&emu::sm90::encode_tiled);
  LaunchArgs la;
  la.prefill = &x.args;
  const std::vector<unsigned char> bytes = tmpl.build_arguments(spec, config, h100, la, Workspace{});
  ASSERT_EQ(bytes.size(), sizeof(PrefillSm90Params));
  alignas(64) static PrefillSm90Params params;
  std::memcpy(static_cast<void*>(&params), bytes.data(), sizeof params);
  emu::LaunchConfig lc;
  lc.grid = {geo.grid[0], geo.grid[1], geo.grid[2]};
  lc.block = {geo.block[0], geo.block[1], geo.block[2]};
  lc.dynamic_smem = geo.dynamic_smem;
  lc.seed = c.seed;
  try {
    emu::launch(lc, attnjit::sm90_smem, [&] { prefill_sm90_kernel<Traits>(params); });
  } catch (const emu::EmuError& e) {
    FAIL() << "emulator: " << e.what();
  }
  if (alibi || sink) {
    // The varlen oracle has no score variants: each sequence against the dense float64 reference,
    // given the same slopes and sinks.
    const CheckReport r = check_sequences(x, [&](int64_t, int64_t, SequenceView v) {
      v.data.c.alibi = alibi;
      v.data.c.sink = sink;
      if (alibi) v.data.slopes = slopes;
      if (sink) v.data.sinks = sinks;
      return testing::check_outputs(v.data, testing::reference_outputs(v.data), testing::baseline_outputs(v.data), v.o,
                                    v.lse);
    });
    EXPECT_TRUE(r.ok) << r.message;
    return;
  }
  const CheckReport r = check_ragged(x);
  EXPECT_TRUE(r.ok) << r.message;
}

const MaskSpec kCausal{MaskKind::Causal, 0, 0};

TEST(VarlenEmuSm90, MixedLengths) {
  // Empty sequences, a one-token one, lengths that cut the 128-row and 128-key tiles, GQA.
  run_emu<T<sm90::Bf16, 64, 128, 2, MaskCausal, 2, true, false, false, false, false, true>>(
      mk(DType::BF16, 64, kCausal, 4, 2, {130, 0, 1, 45, 200}, {130, 0, 1, 45, 200}), "sm90_bm128_bn128_w4_s2_wg2_pp1");
  // Head dim 96: rows of 12 16-byte chunks over two column blocks, the padding never stored.
  run_emu<T<sm90::Bf16, 96, 128, 2, MaskCausal, 2, true, false, false, false, false, true>>(
      mk(DType::BF16, 96, kCausal, 2, 1, {70, 129, 1}, {100, 129, 65}), "sm90_bm128_bn128_w4_s2_wg2_pp1");
  // q != k per sequence: causal rows before the keys see nothing; no keys masks every row.
  run_emu<T<sm90::F16, 64, 64, 2, MaskNone, 2, true, false, false, false, false, true>>(
      mk(DType::F16, 64, {}, 2, 1, {20, 70, 129}, {0, 90, 64}), "sm90_bm128_bn64_w4_s2_wg2_pp1");
}

TEST(VarlenEmuSm90, OverlapThreeConsumersAndOrderOne) {
  run_emu<T<sm90::Bf16, 128, 64, 3, Win24_0, 2, true, true, false, false, false, true>>(
      mk(DType::BF16, 128, {MaskKind::SlidingWindow, 24, 0}, 2, 2, {33, 0, 170}, {100, 9, 170}),
      "sm90_bm128_bn64_w4_s3_wg2_pp1_ov1");
  run_emu<T<sm90::F16, 64, 128, 2, MaskCausal, 3, true, false, false, false, true, true>>(
      mk(DType::F16, 64, kCausal, 2, 1, {250, 7, 193}, {260, 7, 193}), "sm90_bm192_bn128_w4_s2_o1_wg3_pp1");
}

TEST(VarlenEmuSm90, PersistentWithIdleTileNumbers) {
  // Several sequences per block of the 3-block grid, idle numbers (a sequence of 128 rows owns two).
  run_emu<T<sm90::Bf16, 64, 128, 2, MaskCausal, 2, true, false, true, false, false, true>>(
      mk(DType::BF16, 64, kCausal, 2, 1, {128, 3, 0, 300, 64}, {128, 40, 5, 300, 64}), "sm90_bm128_bn128_w4_s2_wg2_pp1_ps1");
  run_emu<T<sm90::F16, 64, 64, 2, MaskNone, 2, true, true, true, true, false, true>>(
      mk(DType::F16, 64, {}, 2, 2, {128, 1, 77, 256}, {60, 200, 77, 256}), "sm90_bm128_bn64_w4_s2_wg2_pp1_ov1_ps2");
  // ps3: the next tile's first S GEMM issued during this tile's epilogue, past the idle numbers
  // between them (and not for a next tile whose rows see no key: the empty sequence, causal).
  // (With varlen or a mask ps3 runs without ping-pong: with it the consumer spills, codegen
  // refuses it.) The overlap loop, then the plain one.
  run_emu<T<sm90::F16, 64, 64, 2, MaskNone, 2, false, true, true, true, false, true, false, true>>(
      mk(DType::F16, 64, {}, 2, 2, {128, 1, 77, 256}, {60, 200, 77, 256}), "sm90_bm128_bn64_w4_s2_wg2_ov1_ps3");
  run_emu<T<sm90::F16, 64, 64, 2, MaskNone, 2, false, false, true, true, false, true, false, true>>(
      mk(DType::F16, 64, {}, 2, 2, {128, 1, 77, 256}, {60, 200, 77, 256}), "sm90_bm128_bn64_w4_s2_wg2_ps3");
  run_emu<T<sm90::Bf16, 64, 128, 2, MaskCausal, 2, false, true, true, true, false, true, false, true>>(
      mk(DType::BF16, 64, kCausal, 2, 1, {128, 3, 0, 300, 64}, {128, 40, 5, 300, 64}), "sm90_bm128_bn128_w4_s2_wg2_ov1_ps3");
}

template <class E, int D, int BN, int S, class M, bool Varlen, int WG = 2, bool PS = false, bool SO = false>
using Paged = T<E, D, BN, S, M, WG, true, false, PS, SO, false, Varlen, true>;

TEST(VarlenEmuSm90, PagedKvShuffledTables) {
  // Chunked prefill: 24 new tokens per sequence against caches of 24..150 keys; pages of 8..64 rows
  // (several per 128-key tile), then 256 (several tiles per page), in shuffled block tables.
  for (int page : {8, 16, 64})
    run_emu<Paged<sm90::Bf16, 64, 128, 2, MaskCausal, false>>(
        mk(DType::BF16, 64, kCausal, 2, 1, {24, 24}, {150, 24}, false, page), "sm90_bm128_bn128_w4_s2_wg2_pp1");
  run_emu<Paged<sm90::F16, 128, 64, 2, MaskCausal, false>>(
      mk(DType::F16, 128, kCausal, 2, 2, {200, 200}, {300, 201}, false, 256), "sm90_bm128_bn64_w4_s2_wg2_pp1");
  // Head dim 256's 80-key tiles hold five pages of 16.
  run_emu<Paged<sm90::Bf16, 256, 80, 2, MaskNone, false>>(
      mk(DType::BF16, 256, {}, 2, 1, {40, 40}, {170, 9}, false, 16), "sm90_bm128_bn80_w4_s2_wg2_pp1");
}

TEST(VarlenEmuSm90, VarlenQueriesAgainstPagedCache) {
  run_emu<Paged<sm90::F16, 64, 128, 2, Win24_0, true>>(
      mk(DType::F16, 64, {MaskKind::SlidingWindow, 24, 0}, 2, 2, {33, 0, 170}, {100, 9, 170}, true, 16),
      "sm90_bm128_bn128_w4_s2_wg2_pp1");
  // The persistent kernel with O in its own buffer and three consumers.
  run_emu<Paged<sm90::Bf16, 64, 128, 2, MaskCausal, true, 3, true, true>>(
      mk(DType::BF16, 64, kCausal, 2, 1, {250, 1, 100}, {300, 64, 100}, true, 32), "sm90_bm192_bn128_w4_s2_wg3_pp1_ps2");
  // ps3 (the overlap loop, the next tile's first S during the epilogue) over pages of 16.
  run_emu<T<sm90::F16, 64, 64, 2, MaskCausal, 2, false, true, true, true, false, true, true, true>>(
      mk(DType::F16, 64, kCausal, 2, 2, {150, 7, 130}, {200, 64, 130}, true, 16), "sm90_bm128_bn64_w4_s2_wg2_ov1_ps3");
}

TEST(VarlenEmuSm90, AlibiAndSinks) {
  run_emu<T<sm90::Bf16, 64, 128, 2, variants::WithSink<variants::WithAlibi<MaskCausal>>, 2, true, false, false, false,
            false, true>>(mk(DType::BF16, 64, kCausal, 2, 1, {100, 0, 150}, {60, 20, 150}),
                          "sm90_bm128_bn128_w4_s2_wg2_pp1", /*alibi=*/true, /*sink=*/true);
}

}  // namespace
}  // namespace attnjit::variants_test
