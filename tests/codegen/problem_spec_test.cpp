#include "codegen/problem_spec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <regex>

namespace attnjit {
namespace {

ProblemSpec random_spec(std::mt19937& rng) {
  auto pick = [&](auto... v) {
    const int64_t vals[] = {static_cast<int64_t>(v)...};
    return vals[std::uniform_int_distribution<size_t>(0, sizeof...(v) - 1)(rng)];
  };
  ProblemSpec s;
  s.family = pick(0, 1) ? Family::Decode : Family::Prefill;
  s.dtype = static_cast<DType>(pick(0, 1, 2));
  s.head_dim = static_cast<int>(pick(32, 64, 96, 128, 192, 256));
  s.mask.kind = static_cast<MaskKind>(pick(0, 1, 2));
  if (s.mask.kind == MaskKind::SlidingWindow) {
    s.mask.window_left = pick(0, 1, 255, 4096, 1 << 20);
    s.mask.window_right = pick(0, 3, 128);
  }
  s.group = static_cast<int>(pick(1, 2, 4, 8, 16));
  // Soft-cap: off, Gemma 2's values, or any positive double (tiny, huge, many digits).
  switch (pick(0, 1, 2, 3, 4)) {
    case 0: break;
    case 1: s.softcap = pick(50, 30) * 1.0; break;
    case 2: s.softcap = 30.5; break;
    case 3: s.softcap = std::uniform_real_distribution<double>(1e-3, 100)(rng); break;
    default: s.softcap = std::ldexp(std::uniform_real_distribution<double>(0.5, 1)(rng),
                                    static_cast<int>(pick(-1000, -20, 20, 1000)));
  }
  s.seqlen_k = int64_t{1} << pick(4, 9, 12, 17);
  if (s.family == Family::Prefill) {
    s.seqlen_q = int64_t{1} << pick(4, 7, 13, 14);
    s.even = pick(0, 1);
  } else {
    s.seqlen_q = pick(1, 2, 4, 16);
    s.page_size = static_cast<int>(pick(0, 16, 64, 256));
  }
  return s;
}

TEST(ProblemSpec, KeyExamplesFromTheDesign) {
  ProblemSpec s;
  s.dtype = DType::BF16;
  s.head_dim = 128;
  s.mask.kind = MaskKind::Causal;
  s.group = 4;
  s.seqlen_q = s.seqlen_k = 4096;
  EXPECT_EQ(s.key(), "prefill_bf16_hd128_causal_g4_q4096_k4096");
  s.mask = {MaskKind::SlidingWindow, 1024, 0};
  s.even = true;
  EXPECT_EQ(s.key(), "prefill_bf16_hd128_sw1024-0_g4_q4096_k4096_even");
  const ProblemSpec d{.family = Family::Decode, .head_dim = 128, .group = 8, .seqlen_q = 1, .seqlen_k = 32768,
                      .page_size = 16};
  EXPECT_EQ(d.key(), "decode_bf16_hd128_none_g8_q1_k32768_p16");
}

TEST(ProblemSpec, RoundTripsManyRandomSpecs) {
  std::mt19937 rng(42);
  const std::regex url_safe("^[A-Za-z0-9_.-]+$");
  for (int i = 0; i < 5000; ++i) {
    ProblemSpec s = random_spec(rng);
    ASSERT_NO_THROW(s.validate()) << s.key();
    const std::string k = s.key();
    EXPECT_TRUE(std::regex_match(k, url_safe)) << k;
    ProblemSpec back = ProblemSpec::parse(k);
    EXPECT_EQ(back, s) << k;
    EXPECT_EQ(back.key(), k);
  }
}

void expect_error(std::string_view key, const std::string& field) {
  try {
    ProblemSpec::parse(key);
    ADD_FAILURE() << "no error for " << key;
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find(field), std::string::npos)
        << "error for '" << key << "' should name " << field << ": " << e.what();
  }
}

TEST(ProblemSpec, SoftcapKeysAreShortestAndAfterTheMask) {
  ProblemSpec s;
  s.mask.kind = MaskKind::Causal;
  s.seqlen_q = s.seqlen_k = 4096;
  s.softcap = 50;
  EXPECT_EQ(s.key(), "prefill_bf16_hd128_causal_sc50_g1_q4096_k4096");
  s.softcap = 30.5;
  EXPECT_EQ(s.key(), "prefill_bf16_hd128_causal_sc30.5_g1_q4096_k4096");
  s.softcap = 0.1;  // not exact in binary: the shortest decimal that reads back to the double
  EXPECT_EQ(s.key(), "prefill_bf16_hd128_causal_sc0.1_g1_q4096_k4096");
  EXPECT_EQ(ProblemSpec::parse(s.key()).softcap, 0.1);
  s.softcap = 1e300;  // exponent without '+' (keys allow only [A-Za-z0-9_.-])
  EXPECT_EQ(ProblemSpec::parse(s.key()), s) << s.key();
  s.softcap = 0;
  EXPECT_EQ(s.key(), "prefill_bf16_hd128_causal_g1_q4096_k4096");  // off: keys unchanged
  EXPECT_EQ(ProblemSpec::parse("decode_f16_hd64_sw8-0_sc5_g4_q1_k1024_p16").softcap, 5.0);
}

TEST(ProblemSpec, BadSoftcapsNameTheField) {
  expect_error("prefill_bf16_hd64_none_sc-5_g1_q16_k16", "softcap");
  expect_error("prefill_bf16_hd64_none_sc0_g1_q16_k16", "softcap");  // off is spelled by absence
  expect_error("prefill_bf16_hd64_none_scx_g1_q16_k16", "softcap");
  expect_error("prefill_bf16_hd64_none_sc50.0_g1_q16_k16", "softcap");  // not the shortest form
  expect_error("prefill_bf16_hd64_none_sc_g1_q16_k16", "softcap");
  expect_error("prefill_bf16_hd64_none_scinf_g1_q16_k16", "softcap");
  expect_error("prefill_bf16_hd64_none_scnan_g1_q16_k16", "softcap");
  expect_error("prefill_bf16_hd64_none_sc5_g1_q16", "problem key");
  for (double bad : {-1.0, std::numeric_limits<double>::infinity(),
                     -std::numeric_limits<double>::infinity(), std::nan("")}) {
    ProblemSpec s;
    s.softcap = bad;
    try {
      s.validate();
      ADD_FAILURE() << "no error for softcap " << bad;
    } catch (const SpecError& e) {
      EXPECT_NE(std::string(e.what()).find("softcap"), std::string::npos) << e.what();
    }
  }
}

TEST(ProblemSpec, InvalidKeysNameTheField) {
  expect_error("prefill_bf16_hd48_none_g1_q16_k16", "head_dim");
  expect_error("prefill_bf16_hd0_none_g1_q16_k16", "head_dim");
  expect_error("prefill_fp64_hd64_none_g1_q16_k16", "dtype");
  expect_error("prefill_bf16_hd64_diagonal_g1_q16_k16", "mask");
  expect_error("prefill_bf16_hd64_sw-5-0_g1_q16_k16", "sliding window");
  expect_error("prefill_bf16_hd64_swx-0_g1_q16_k16", "window_left");
  expect_error("prefill_bf16_hd64_sw5-x_g1_q16_k16", "window_right");
  expect_error("prefill_bf16_hd64_none_g0_q16_k16", "group");
  expect_error("prefill_bf16_hd64_none_g1_q100_k16", "seqlen_q");
  expect_error("prefill_bf16_hd64_none_g1_q16_k8", "seqlen_k");
  expect_error("training_bf16_hd64_none_g1_q16_k16", "family");
  expect_error("decode_bf16_hd64_none_g1_q32_k16_p0", "seqlen_q");
  expect_error("decode_bf16_hd64_none_g1_q1_k16_p24", "page_size");
  expect_error("decode_bf16_hd64_none_g1_q1_k16", "page_size");
  expect_error("prefill_bf16_hd64_none_g1_q16_k16_p16_p16", "unexpected field");  // prefill _p: tests/variants
  expect_error("prefill_bf16_hd64_none_g1_q16_k16_p24", "page_size");
  expect_error("prefill_bf16_hd64", "problem key");
  expect_error("", "problem key");
  // Every allowed value is listed in an unknown-enum error.
  try {
    ProblemSpec::parse("prefill_f8_hd64_none_g1_q16_k16");
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("allowed: f16, bf16, f32"), std::string::npos) << e.what();
  }
}

TEST(ProblemSpec, ForShapeBucketsAndValidates) {
  auto s = ProblemSpec::for_shape(Family::Prefill, DType::F16, 64, {MaskKind::Causal, 0, 0}, 32, 8,
                                  1000, 4097);
  EXPECT_EQ(s.key(), "prefill_f16_hd64_causal_g4_q1024_k8192");
  EXPECT_FALSE(s.even);
  auto e = ProblemSpec::for_shape(Family::Prefill, DType::F16, 64, {}, 8, 8, 2048, 1024);
  EXPECT_TRUE(e.even);
  EXPECT_EQ(e.key(), "prefill_f16_hd64_none_g1_q2048_k1024_even");
  EXPECT_EQ(ProblemSpec::for_shape(Family::Prefill, DType::F16, 64, {}, 1, 1, 1, 1).seqlen_q, 16);
  EXPECT_THROW(ProblemSpec::for_shape(Family::Prefill, DType::F16, 64, {}, 12, 5, 16, 16), SpecError);
  EXPECT_THROW(ProblemSpec::for_shape(Family::Prefill, DType::F16, 64, {}, 0, 1, 16, 16), SpecError);
  EXPECT_THROW(ProblemSpec::for_shape(Family::Prefill, DType::F16, 64, {}, 1, 1, -1, 16), SpecError);
  EXPECT_THROW(ProblemSpec::for_shape(Family::Prefill, DType::F16, 64, {}, 1, 1, 16, -3), SpecError);
  EXPECT_THROW(ProblemSpec::for_shape(Family::Prefill, DType::F16, 0, {}, 1, 1, 16, 16), SpecError);
  EXPECT_THROW(ProblemSpec::for_shape(Family::Prefill, DType::F16, 64,
                                      {MaskKind::SlidingWindow, -1, 0}, 1, 1, 16, 16),
               SpecError);
  try {
    ProblemSpec::for_shape(Family::Prefill, DType::F16, 64, {}, 12, 5, 16, 16);
  } catch (const SpecError& ex) {
    EXPECT_NE(std::string(ex.what()).find("heads_q"), std::string::npos);
  }
  // Decode keeps the exact query-token count and accepts an empty cache.
  auto d = ProblemSpec::for_shape(Family::Decode, DType::BF16, 128, {}, 32, 4, 4, 0, 16);
  EXPECT_EQ(d.key(), "decode_bf16_hd128_none_g8_q4_k16_p16");
}

TEST(ProblemSpec, LengthBucketIsNextPowerOfTwoAtLeast16) {
  EXPECT_EQ(length_bucket(0), 16);
  EXPECT_EQ(length_bucket(1), 16);
  EXPECT_EQ(length_bucket(16), 16);
  EXPECT_EQ(length_bucket(17), 32);
  EXPECT_EQ(length_bucket(4096), 4096);
  EXPECT_EQ(length_bucket(4097), 8192);
  EXPECT_EQ(length_bucket(100000), 131072);
}

}  // namespace
}  // namespace attnjit
