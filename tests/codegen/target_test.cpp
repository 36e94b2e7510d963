#include "codegen/target.h"

#include <gtest/gtest.h>

namespace attnjit {
namespace {

TEST(Target, KnownArchsCarryTheirLimits) {
  auto a100 = Target::cuda("sm_80");
  EXPECT_EQ(a100.key(), "sm_80");
  EXPECT_EQ(a100.smem_per_block, 163 * 1024);
  auto h100 = Target::cuda("sm_90");  // plain sm_90 means the arch-specific sm_90a
  EXPECT_EQ(h100.key(), "sm_90a");
  EXPECT_EQ(h100.cc_major, 9);
  EXPECT_EQ(h100.smem_per_block, 227 * 1024);
  EXPECT_EQ(Target::cuda("sm_89").smem_per_block, 99 * 1024);
  EXPECT_EQ(Target::cuda_archs().size(), 4u);
}

TEST(Target, UnknownArchListsTheAllowedOnes) {
  try {
    Target::cuda("sm_75");
    FAIL();
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("sm_80, sm_86, sm_89, sm_90a"), std::string::npos);
  }
}

TEST(Target, CpuKeyKeepsCpusApart) {
  EXPECT_EQ(Target::cpu("icelake-client").key(), "cpu-icelake-client");
  EXPECT_NE(Target::cpu("znver4").key(), Target::cpu("icelake-client").key());
  EXPECT_THROW(Target::cpu(""), SpecError);
}

TEST(Types, EnumsRoundTripAndRejectUnknown) {
  for (auto d : {DType::F16, DType::BF16, DType::F32}) EXPECT_EQ(parse_dtype(to_string(d)), d);
  for (auto f : {Family::Prefill, Family::Decode}) EXPECT_EQ(parse_family(to_string(f)), f);
  for (auto m : {MaskKind::None, MaskKind::Causal, MaskKind::SlidingWindow})
    EXPECT_EQ(parse_mask_kind(to_string(m)), m);
  EXPECT_EQ(parse_platform("gpu"), Platform::Cuda);
  EXPECT_THROW(parse_dtype("fp8"), SpecError);
  EXPECT_THROW(parse_mask_kind("alibi"), SpecError);
  EXPECT_EQ(dtype_bytes(DType::BF16), 2);
  EXPECT_EQ(dtype_bytes(DType::F32), 4);
}

}  // namespace
}  // namespace attnjit
