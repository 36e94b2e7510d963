// Integers in keys are range-checked, never narrowed (issue 14, failure 10: hd4294967424 was
// read as head dim 128 and g4294967297 as group 1).
#include "codegen/parse_util.h"

#include <gtest/gtest.h>

#include "codegen/problem_spec.h"
#include "codegen/tile_config.h"

namespace attnjit {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const SpecError& e) {
    return e.what();
  }
  return "";
}

TEST(ParseInt, RangeChecked) {
  EXPECT_EQ(detail::parse_int("x", "42"), 42);
  EXPECT_EQ(detail::parse_int("x", "-7", -10, 10), -7);
  EXPECT_EQ(detail::parse_int("x", "2147483647", detail::kIntMin, detail::kIntMax), 2147483647);
  EXPECT_NE(error_of([] { detail::parse_int("x", "2147483648", detail::kIntMin, detail::kIntMax); }).find("out of range"),
            std::string::npos);
  EXPECT_NE(error_of([] { detail::parse_int("x", "99999999999999999999"); }).find("out of range"), std::string::npos);
  EXPECT_NE(error_of([] { detail::parse_int("x", "12a"); }).find("expected an integer"), std::string::npos);
  // A long bad value is quoted only in part.
  EXPECT_LT(error_of([] { detail::parse_int("x", std::string(100000, 'z')); }).size(), 100u);
}

TEST(ParseInt, ProblemKeysDoNotWrap) {
  for (const auto& [key, field] : std::vector<std::pair<std::string, std::string>>{
           {"prefill_bf16_hd4294967424_causal_g1_q1024_k1024", "head_dim"},
           {"prefill_bf16_hd128_causal_g4294967297_q1024_k1024", "group"},
           {"prefill_bf16_hd128_causal_g1_q4611686018427387904_k1024", "seqlen_q"},
           {"prefill_bf16_hd128_causal_g1_q1024_k4294967296", "seqlen_k"},
           {"decode_bf16_hd128_none_g8_q1_k32768_p4294967312", "page_size"}}) {
    std::string e = error_of([&] { ProblemSpec::parse(key); });
    EXPECT_EQ(e.rfind(field + ":", 0), 0u) << key << ": " << e;
  }
  EXPECT_NO_THROW(ProblemSpec::parse("prefill_bf16_hd128_causal_g1_q2147483648_k2147483648"));
}

TEST(ParseInt, ConfigKeysDoNotWrap) {
  EXPECT_EQ(error_of([] { TileConfig::parse("bm4294967360_bn64_w4_s2"); }).rfind("block_m:", 0), 0u);
  EXPECT_EQ(error_of([] { TileConfig::parse("bm64_bn64_w4_s2_sp4294967297"); }).rfind("splits:", 0), 0u);
}

}  // namespace
}  // namespace attnjit
