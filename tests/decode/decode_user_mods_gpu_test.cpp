// User score_mod / mask_mod in the sm_80 decode kernels on a CUDA device against the float64
// reference with independent lambdas (decode_user_cases.h): the emulator suite's matrix
// (decode_emu_user_mods_test.cpp) at real sizes, with the snippets compiled by NVRTC through
// codegen's prelude — both kernels (scalar and tensor-core) over split counts 1..13, a document
// mask read from aux<int>(0) plus a bias table aux<float>(1), GQA 1/4/8, ragged lengths with an
// empty sequence, pages 1/16, four query tokens (causal), the built-in defaults, and whole rows
// masked with and without sinks. Skips with the reason when no device is usable (CI has none).
#include <gtest/gtest.h>

#include <limits>

#include "decode/decode_gpu_backend.h"
#include "decode/decode_harness.h"
#include "decode/decode_user_cases.h"

namespace attnjit::testing {
namespace {

TEST(DecodeGpuUserMods, DocumentsAndBiasBothKernelsEverySplitCount) {
  REQUIRE_GPU();
  for (bool mma : {false, true})
    for (int splits : {1, 2, 3, 5, 8, 13}) {
      DecodeCase c{.dtype = mma ? DType::BF16 : DType::F16, .head_dim = 128, .heads_kv = 2,
                   .group = mma ? 8 : 4, .seqlens = {0, 1, 300, 1000}, .splits = splits,
                   .config = TileConfig::parse(mma ? "bm16_bn16_w2_s3_v8" : "bm4_bn32_w4_s3_v8"),
                   .seed = uint64_t(splits + 100 * mma)};
      c.user = decode_documents(c.seqlens, 1, 1000, 96);
      add_bias_table(c.user, c.heads_kv * c.group);
      const DecodeResult r = expect_decode_matches(*dev, c);
      for (size_t i = 0; i < size_t(2 * c.group * 128); ++i) ASSERT_EQ(r.o[i], 0.f) << c.describe();  // empty
    }
}

TEST(DecodeGpuUserMods, DefaultsPagesGqaTokens) {
  REQUIRE_GPU();
  for (int page : {0, 1, 16})
    for (int group : {1, 8})
      for (int qt : {1, 4}) {
        DecodeCase c{.dtype = DType::BF16, .head_dim = 128, .mask = {qt > 1 ? MaskKind::Causal : MaskKind::None},
                     .heads_kv = 2, .group = group, .q_tokens = qt, .seqlens = {70, 3, 0, 4097},
                     .page_size = page, .seed = uint64_t(page + 10 * group + qt)};
        c.user = decode_documents(c.seqlens, qt, 4097, 512);
        add_bias_table(c.user, c.heads_kv * group);
        for (int splits : {0, 1, 5}) {  // 0: the decode module's own choice
          c.splits = splits;
          expect_decode_matches(*dev, c);
        }
      }
}

TEST(DecodeGpuUserMods, WholeRowsMaskedWithAndWithoutSinks) {
  REQUIRE_GPU();
  for (bool mma : {false, true})
    for (bool sink : {false, true}) {
      DecodeCase c{.dtype = mma ? DType::F16 : DType::BF16, .head_dim = 64, .heads_kv = 2, .group = mma ? 8 : 4,
                   .seqlens = {40, 900}, .splits = 3,
                   .config = TileConfig::parse(mma ? "bm16_bn16_w2_s2_v8" : "bm4_bn16_w2_s3_v8"), .sink = sink};
      c.user = masked_rows();
      const DecodeResult r = expect_decode_matches(*dev, c);
      // Sequence 1, query head 1: every key hidden, so O = 0; LSE -inf without sinks.
      for (int64_t d = 0; d < 64; ++d) ASSERT_EQ(r.o[size_t((1 * c.group * 2 + 1) * 64 + d)], 0.f) << c.describe();
      if (!sink) ASSERT_EQ(r.lse[size_t(1 * c.group * 2 + 1)], -std::numeric_limits<float>::infinity()) << c.describe();
    }
}

}  // namespace
}  // namespace attnjit::testing
