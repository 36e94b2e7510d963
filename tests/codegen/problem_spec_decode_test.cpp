// Decode-only key fields: every page size 0 or a power of two in 1..256, and the fp8 KV cache
// (_kv-e4m3 / _kv-e5m2) after the page size, read back exactly and refused where unsupported.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "codegen/problem_spec.h"

namespace attnjit {
namespace {

std::string error_of(std::string_view key) {
  try {
    ProblemSpec::parse(key);
  } catch (const SpecError& e) {
    return e.what();
  }
  return "";
}

TEST(ProblemSpecDecode, EveryPowerOfTwoPageSizeRoundTrips) {
  for (int p = 0; p <= 512; ++p) {
    ProblemSpec s = ProblemSpec::parse("decode_bf16_hd128_none_g8_q1_k4096_p0");
    s.page_size = p;
    const bool ok = p == 0 || ((p & (p - 1)) == 0 && p <= 256);
    if (!ok) {
      EXPECT_THROW(s.validate(), SpecError) << p;
      EXPECT_NE(error_of(s.key()).find("page_size"), std::string::npos) << s.key();
      continue;
    }
    EXPECT_EQ(ProblemSpec::parse(s.key()), s) << s.key();
  }
  EXPECT_EQ(ProblemSpec::parse("decode_f16_hd64_none_g1_q1_k16_p1").page_size, 1);
  EXPECT_NE(error_of("decode_f16_hd64_none_g1_q1_k16_p512").find("1..256"), std::string::npos);
  EXPECT_NO_THROW(validate_page_size(1));
  EXPECT_THROW(validate_page_size(-4), SpecError);
  EXPECT_THROW(validate_page_size(3), SpecError);
}

TEST(ProblemSpecDecode, Fp8KvCacheKeysRoundTripInTheirPlace) {
  ProblemSpec s = ProblemSpec::parse("decode_bf16_hd128_causal_sc50_g8_q2_k32768_p16");
  s.kv_dtype = KvDType::E4M3;
  EXPECT_EQ(s.key(), "decode_bf16_hd128_causal_sc50_g8_q2_k32768_p16_kv-e4m3");
  EXPECT_EQ(ProblemSpec::parse(s.key()), s);
  s.kv_dtype = KvDType::E5M2;
  s.page_size = 0;
  EXPECT_EQ(s.key(), "decode_bf16_hd128_causal_sc50_g8_q2_k32768_p0_kv-e5m2");
  EXPECT_EQ(ProblemSpec::parse(s.key()), s);
  // Random decode specs (every page size, both fp8 kinds, f32 queries too) read back exactly.
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    ProblemSpec r;
    r.family = Family::Decode;
    r.dtype = static_cast<DType>(rng() % 3);
    r.head_dim = kHeadDims[rng() % 6];
    r.group = 1 << (rng() % 4);
    r.seqlen_q = 1 + rng() % 16;
    r.seqlen_k = int64_t{16} << (rng() % 14);
    r.page_size = rng() % 4 == 0 ? 0 : 1 << (rng() % 9);
    r.kv_dtype = static_cast<KvDType>(rng() % 3);
    ASSERT_EQ(ProblemSpec::parse(r.key()), r) << r.key();
  }
}

TEST(ProblemSpecDecode, Fp8KeysAreRefusedWhereUnsupported) {
  // Prefill has no fp8 KV cache: the field is named both from a struct and from a key.
  ProblemSpec s;
  s.kv_dtype = KvDType::E4M3;
  try {
    s.validate();
    ADD_FAILURE() << "prefill with an fp8 KV cache validated";
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("kv_dtype"), std::string::npos) << e.what();
  }
  EXPECT_NE(error_of("prefill_bf16_hd64_none_g1_q16_k16_kv-e4m3").find("unexpected field"), std::string::npos);
  EXPECT_NE(error_of("decode_bf16_hd64_none_g1_q1_k16_p0_kv-e3m4").find("kv_dtype"), std::string::npos);
  EXPECT_NE(error_of("decode_bf16_hd64_none_g1_q1_k16_p0_kv-e3m4").find("allowed: same, e4m3, e5m2"),
            std::string::npos);
  EXPECT_NE(error_of("decode_bf16_hd64_none_g1_q1_k16_p0_kv-same").find("kv_dtype"), std::string::npos);
  // Misplaced: before the page size, or repeated.
  EXPECT_FALSE(error_of("decode_bf16_hd64_none_g1_q1_k16_kv-e4m3_p0").empty());
  EXPECT_NE(error_of("decode_bf16_hd64_none_g1_q1_k16_p0_kv-e4m3_kv-e4m3").find("unexpected field"),
            std::string::npos);
  EXPECT_EQ(kv_dtype_bytes(DType::BF16, KvDType::E4M3), 1);
  EXPECT_EQ(kv_dtype_bytes(DType::F32, KvDType::Same), 4);
}

}  // namespace
}  // namespace attnjit
