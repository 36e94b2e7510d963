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
      DecodeCase c;
      c.dtype = mma ? DType::BF16 : DType::F16;
      c.head_dim = 128;
      c.heads_kv = 2;
      c.group = mma ? 8 : 4;
      c.seqlens = {0, 1, 300, 1000};
      c.alibi = c.sink = true;
      c.config = TileConfig::parse(mma ? "bm16_bn16_w2_s3_v8" : "bm4_bn32_w4_s3_v8");
      c.splits = splits;
      c.launches = splits % 7 == 0 ? 2 : 1;
      c.seed = uint64_t(splits + 100 * mma);
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
          DecodeCase c;
          c.dtype = DType::BF16;
          c.head_dim = 128;
          c.heads_kv = 2;
          c.group = group;
          c.q_tokens = qt;
          c.page_size = page;
          c.mask.kind = qt > 1 ? MaskKind::Causal : MaskKind::None;
          c.alibi = alibi;
          c.sink = sink;
          c.alibi_per_batch = qt > 1;
          c.seqlens = {1, 0, 4097, 33};
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
      DecodeCase c;
      c.dtype = DType::BF16;
      c.kv_dtype = kind;
      c.per_head_scale = true;
      c.head_dim = 128;
      c.heads_kv = 2;
      c.group = 8;
      c.page_size = 16;
      c.seqlens = {2000, 0, 77};
      c.alibi = kind == KvDType::E5M2;
      c.sink = true;
      c.splits = splits;
      expect_decode_matches(*dev, c);
    }
}

}  // namespace
}  // namespace attnjit::testing
