// Paged KV caches as serving engines lay them out, on the CPU backend: every page size from 1
// (SGLang) through 16 (vLLM) to 64, block tables in shuffled page order with spare pages left
// poisoned, ragged lengths that end mid-page, an empty sequence, one and several splits; page
// size 1 also with an fp8 cache. (The emulator runs the GPU kernels over the same sizes:
// decode_emu_variants_test.cpp; 128 and 256 are in decode_cpu_test.cpp.)
#ifdef ATTNJIT_WITH_LLVM

#include <gtest/gtest.h>

#include "decode/decode_harness.h"
#include "decode/decode_cpu_backend.h"

namespace attnjit::testing {
namespace {

Backend& cpu() { return decode_cpu_backend(); }

TEST(DecodeCpuPageSize, EveryPageSizeUpTo64) {
  for (int page : {1, 2, 4, 8, 16, 32, 64}) {
    DecodeCase c{.dtype = DType::BF16, .head_dim = 64, .mask = {MaskKind::Causal}, .heads_kv = 2, .group = 4,
                 .q_tokens = 2, .seqlens = {page + 1, 0, 3 * page - 1, 201}, .page_size = page,
                 .seed = uint64_t(page)};
    for (int splits : {1, 3}) {
      c.splits = splits;
      expect_decode_matches(cpu(), c);
    }
  }
}

TEST(DecodeCpuPageSize, OneTokenPagesWithAnFp8Cache) {
  expect_decode_matches(cpu(), {.dtype = DType::F32, .head_dim = 64, .heads_kv = 2, .group = 8, .seqlens = {1, 257, 64},
                                .page_size = 1, .splits = 2, .kv_dtype = KvDType::E4M3, .per_head_scale = true});
}

}  // namespace
}  // namespace attnjit::testing

#endif  // ATTNJIT_WITH_LLVM
