// ALiBi and sinks in the sm_80 decode kernels on a CUDA device against the float64 reference:
// the matrix of the emulator suite (decode_emu_alibi_sink_test.cpp) at real sizes — both
// kernels (scalar and tensor-core) through their variant entries, split counts 1..40, GQA
// 1/4/8, ragged lengths with empty sequences, pages 1/16/256, 4 query tokens causal with
// per-batch slopes, fp8 caches with sinks. Skips with the reason when no device is usable (this
// CI machine has none).
#include <gtest/gtest.h>

#include "decode/decode_gpu_backend.h"
#include "decode/decode_harness.h"

namespace attnjit::testing {
namespace {

// 1000 keys: 32 blocks of 32 (scalar, bn32), so splits 1..40 are every count the scalar kernel
// takes (capped beyond 32); 63 blocks of 16 for the tensor-core kernel.
TEST(DecodeGpuAlibiSink, EverySplitCountBothKernels) {
  REQUIRE_GPU();
  for (bool mma : {false, true})
    for (int splits = 1; splits <= 40; ++splits) {
      const DecodeCase c{.dtype = mma ? DType::BF16 : DType::F16, .head_dim = 128, .heads_kv = 2,
                         .group = mma ? 8 : 4, .seqlens = {0, 1, 300, 1000}, .splits = splits,
                         .config = TileConfig::parse(mma ? "bm16_bn16_w2_s3_v8" : "bm4_bn32_w4_s3_v8"),
                         .seed = uint64_t(splits + 100 * mma), .launches = splits % 7 == 0 ? 2 : 1,
                         .alibi = true, .sink = true};
      const DecodeResult r = expect_decode_matches(*dev, c);
      for (size_t i = 0; i < size_t(2 * c.group * 128); ++i) ASSERT_EQ(r.o[i], 0.f) << c.describe();
    }
}

TEST(DecodeGpuAlibiSink, DefaultsPagesGqaTokensEach) {
  REQUIRE_GPU();
  for (auto [alibi, sink] : {std::pair{true, true}, {true, false}, {false, true}})
    for (int page : {0, 1, 16, 256})
      for (int group : {1, 4, 8})
        for (int qt : {1, 4}) {
          DecodeCase c{.dtype = DType::BF16, .head_dim = 128, .mask = {qt > 1 ? MaskKind::Causal : MaskKind::None},
                       .heads_kv = 2, .group = group, .q_tokens = qt, .seqlens = {1, 0, 4097, 33},
                       .page_size = page, .alibi = alibi, .alibi_per_batch = qt > 1, .sink = sink};
          for (int splits : {0, 1, 5}) {
            c.splits = splits;
            expect_decode_matches(*dev, c);
          }
        }
}

TEST(DecodeGpuAlibiSink, Fp8CacheWithSinks) {
  REQUIRE_GPU();
  for (KvDType kind : {KvDType::E4M3, KvDType::E5M2})
    for (int splits : {1, 3, 9}) {
      expect_decode_matches(*dev, {.dtype = DType::BF16, .head_dim = 128, .heads_kv = 2, .group = 8,
                                   .seqlens = {2000, 0, 77}, .page_size = 16, .splits = splits, .kv_dtype = kind,
                                   .per_head_scale = true, .alibi = kind == KvDType::E5M2, .sink = true});
    }
}

}  // namespace
}  // namespace attnjit::testing
