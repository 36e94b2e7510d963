// The sm_80 decode kernels on the emulator (decode_emu_backend.h) for the cache layouts engines
// use: fp8 KV caches (e4m3, e5m2; per-tensor and per-head scales; the tensor-core kernel's
// lanes converting their own operand bytes, the sm_80 integer conversion) and every page size from 1 to
// 64 with shuffled block tables and ragged lengths, for the scalar and the tensor-core kernel.
#include "decode/decode_emu_backend.h"

namespace attnjit::testing {
namespace {

using decode::Bf16;
using decode::F16;
template <int P>
using ScalarMha = Cfg<Bf16, 64, 1, 1, 1, 4, 32, 4, P, 0, 0, 0>;  // codegen's MHA default, hd 64
template <int P>
using MmaGqa = Cfg<F16, 64, 8, 1, 16, 4, 16, 3, P, 1, 0, 0>;     // GQA 8, causal, tensor cores

const std::map<std::string, Body>& registry() {
  static const auto r = kernels<
      // fp8: codegen's defaults (tensor cores, also for MHA; 32 keys per warp up to head dim
      // 128) and a 64-key tiling
      Fp8<Cfg<Bf16, 128, 1, 1, 16, 4, 32, 3, 0, 0, 0, 0>, fp8::kE4M3>,   // MHA, contiguous
      Fp8<Cfg<F16, 64, 4, 2, 16, 4, 32, 3, 16, 1, 0, 0>, fp8::kE5M2>,    // GQA 4 x 2 tokens, paged, causal
      Fp8<Cfg<Bf16, 256, 8, 1, 16, 2, 16, 3, 8, 0, 0, 0>, fp8::kE4M3>,   // hd 256, paged 8
      Fp8<Cfg<Bf16, 128, 8, 1, 16, 2, 64, 2, 0, 2, 40, 3>, fp8::kE5M2>,  // window, 64 keys per warp
      Fp8<Capped<Cfg<Bf16, 128, 1, 1, 16, 4, 32, 3, 0, 0, 0, 0>, 10>, fp8::kE4M3>,  // soft-capped at 5
      Fp8<Cfg<F16, 64, 4, 2, 16, 4, 16, 3, 16, 1, 0, 0>, fp8::kE5M2>,    // ... at 16 keys per warp
      Fp8<Cfg<F16, 64, 8, 1, 16, 2, 32, 4, 4, 2, 5, 0>, fp8::kE4M3>,   // hd 64, 32 keys per warp, window, paged 4
      Fp8<Cfg<Bf16, 256, 2, 2, 16, 2, 16, 2, 0, 1, 0, 0>, fp8::kE5M2>,  // hd 256 x 2 query tokens, causal
      // page sizes 1..64
      ScalarMha<1>, ScalarMha<2>, ScalarMha<4>, ScalarMha<8>, ScalarMha<16>, ScalarMha<32>, ScalarMha<64>,
      MmaGqa<1>, MmaGqa<2>, MmaGqa<4>, MmaGqa<8>, MmaGqa<16>, MmaGqa<32>, MmaGqa<64>>();
  return r;
}

TEST(DecodeEmuFp8, MhaBothScaleShapesSplitsAndRelaunch) {
  EmuBackend be(emu::Order::Shuffle, registry());
  DecodeCase c{.dtype = DType::BF16, .head_dim = 128, .heads_kv = 2, .seqlens = {1, 7, 300, 0},
               .kv_dtype = KvDType::E4M3};
  for (bool per_head : {false, true})
    for (int splits : {1, 3}) {
      c.per_head_scale = per_head;
      c.splits = splits;
      c.launches = 2;
      const DecodeResult r = expect_decode_matches(be, c);
      for (size_t i = size_t(3 * 2 * 128); i < size_t(4 * 2 * 128); ++i) EXPECT_EQ(r.o[i], 0.f);  // empty
    }
}

// bf16 queries beyond f16's range (|q| up to 3e5 > 65504; soft-capping at 5 keeps the scores and
// LSE comparable) and far below its normal range (1e-6): the f16 MMAs of an fp8 cache see Q
// scaled by a power of two into [2^14, 2^15), folded back into the score scale.
TEST(DecodeEmuFp8, Bf16QueriesOutsideF16Range) {
  EmuBackend be(emu::Order::Shuffle, registry());
  DecodeCase c{.dtype = DType::BF16, .head_dim = 128, .heads_kv = 2, .seqlens = {300, 5}, .splits = 2,
               .softcap = 5.0, .q_gain = 3e5f, .kv_dtype = KvDType::E4M3};
  expect_decode_matches(be, c);
  c.q_gain = 1e-6f;
  c.softcap = 0;
  expect_decode_matches(be, c);
}

TEST(DecodeEmuFp8, E5m2GqaPagedCausalQueryTokens) {
  EmuBackend be(emu::Order::Reverse, registry());
  DecodeCase c{.dtype = DType::F16, .head_dim = 64, .mask = {.kind = MaskKind::Causal}, .heads_kv = 2,
               .group = 4, .q_tokens = 2, .seqlens = {50, 2, 200}, .page_size = 16, .kv_dtype = KvDType::E5M2,
               .per_head_scale = true};
  for (int splits : {1, 4}) {
    c.splits = splits;
    expect_decode_matches(be, c);
  }
  c.config = TileConfig::parse("bm16_bn16_w4_s3_v8");  // one n8 pair per block (the default's half)
  expect_decode_matches(be, c);
}

TEST(DecodeEmuFp8, HeadDim256SmallPagesAndWideTiles) {
  EmuBackend be(emu::Order::Forward, registry());
  DecodeCase c{.dtype = DType::BF16, .head_dim = 256, .heads_kv = 1, .group = 8, .seqlens = {333},
               .page_size = 8, .splits = 2, .kv_dtype = KvDType::E4M3};
  expect_decode_matches(be, c);

  DecodeCase w;  // 64 keys per warp (four P V k-steps per block), a window, e5m2
  w.dtype = DType::BF16;
  w.kv_dtype = KvDType::E5M2;
  w.head_dim = 128;
  w.heads_kv = 1;
  w.group = 8;
  w.mask = {MaskKind::SlidingWindow, 40, 3};
  w.seqlens = {400, 9};
  w.config = TileConfig::parse("bm16_bn64_w2_s2_v8");
  for (int splits : {1, 2}) {
    w.splits = splits;
    expect_decode_matches(be, w);
  }
}

// The lanes' own operand bytes (mma_fp8_sm80.cuh) beyond the 16-key defaults: two P V k-steps
// per block at head dim 64 (8-byte V reads), head dim 256 (four K and two V chunks per key)
// with two query tokens, pages smaller than a block, uneven lengths, an empty sequence, a window that leaves
// most splits without a visible key (their partials are empty), up to 9 splits, bf16 Q.
TEST(DecodeEmuFp8, WideBlocksEveryHeadDimWindowsAndManySplits) {
  EmuBackend be(emu::Order::Shuffle, registry());
  DecodeCase c{.dtype = DType::F16, .head_dim = 64, .mask = {MaskKind::SlidingWindow, 5, 0}, .heads_kv = 2,
               .group = 8, .seqlens = {0, 1, 77, 300}, .page_size = 4,
               .config = TileConfig::parse("bm16_bn32_w2_s4_v8"), .kv_dtype = KvDType::E4M3};
  for (int splits : {1, 9}) {
    c.splits = splits;
    c.per_head_scale = splits > 1;
    const DecodeResult r = expect_decode_matches(be, c);
    for (size_t i = 0; i < size_t(2 * 8 * 64); ++i) EXPECT_EQ(r.o[i], 0.f);  // the empty sequence
  }

  DecodeCase w{.dtype = DType::BF16, .head_dim = 256, .mask = {.kind = MaskKind::Causal}, .heads_kv = 1,
               .group = 2, .q_tokens = 2, .seqlens = {2, 129, 31},
               .config = TileConfig::parse("bm16_bn16_w2_s2_v8"), .kv_dtype = KvDType::E5M2};
  for (int splits : {1, 3}) {
    w.splits = splits;
    expect_decode_matches(be, w);
  }
}

// Every page size 1..64, both kernels, shuffled page order (the harness deals pages out in a
// random permutation and leaves spare pages poisoned), ragged lengths including page-crossing
// ends, an empty sequence, one and several splits.
TEST(DecodeEmuPageSize, EveryPageSizeBothKernels) {
  EmuBackend be(emu::Order::Shuffle, registry());
  for (int page : {1, 2, 4, 8, 16, 32, 64})
    for (bool mma : {false, true}) {
      DecodeCase c{.dtype = mma ? DType::F16 : DType::BF16, .head_dim = 64,
                   .mask = {.kind = mma ? MaskKind::Causal : MaskKind::None}, .heads_kv = mma ? 1 : 2,
                   .group = mma ? 8 : 1, .seqlens = {page + 1, 0, 3 * page - 1, 97}, .page_size = page,
                   .splits = page % 2 ? 1 : 3, .seed = uint64_t(page * 2 + mma)};
      expect_decode_matches(be, c);
    }
}

}  // namespace
}  // namespace attnjit::testing
