// fp8 KV caches (e4m3, e5m2) with per-tensor and per-head f32 scales: the conversions every
// template uses against the host decoder written from the formats' definitions (all 256 codes),
// the encoder's rounding, and the CPU decode template end to end against the float64 reference
// on the dequantised values (f32 / f16 / bf16 queries, contiguous and paged, GQA, query tokens,
// masks, splits, an empty sequence); codegen refuses what it cannot run with a clear reason.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "codegen/registry.h"
#include "common/fp8.h"
#include "runtime/fp8.h"

#ifdef ATTNJIT_WITH_LLVM
#include "decode/decode_harness.h"
#include "decode/decode_cpu_backend.h"
#endif

namespace attnjit::testing {
namespace {

TEST(DecodeFp8, TemplateConversionIsExactForEveryFiniteCode) {
  int finite = 0;
  for (int b = 0; b < 256; ++b) {
    const auto u = static_cast<uint8_t>(b);
    if (fp8_is_finite(KvDType::E4M3, u)) {
      ++finite;
      EXPECT_EQ(double(fp8::to_float<fp8::kE4M3>(u)), fp8_to_double(KvDType::E4M3, u)) << b;
    }
    if (fp8_is_finite(KvDType::E5M2, u))
      EXPECT_EQ(double(fp8::to_float<fp8::kE5M2>(u)), fp8_to_double(KvDType::E5M2, u)) << b;
  }
  EXPECT_EQ(finite, 254);  // e4m3: only +-NaN are not finite
  // The formats' landmarks.
  EXPECT_EQ(fp8_to_double(KvDType::E4M3, 0x7e), 448.0);
  EXPECT_EQ(fp8_to_double(KvDType::E4M3, 0x01), std::ldexp(1.0, -9));  // smallest subnormal
  EXPECT_EQ(fp8_to_double(KvDType::E4M3, 0x08), std::ldexp(1.0, -6));  // smallest normal
  EXPECT_EQ(fp8_to_double(KvDType::E5M2, 0x7b), 57344.0);
  EXPECT_EQ(fp8_to_double(KvDType::E5M2, 0x01), std::ldexp(1.0, -16));
  EXPECT_TRUE(std::isinf(fp8_to_double(KvDType::E5M2, 0x7c)));
  EXPECT_TRUE(std::isnan(fp8_to_double(KvDType::E5M2, 0xfd)));
  EXPECT_TRUE(std::isnan(fp8_to_double(KvDType::E4M3, 0xff)));
  EXPECT_EQ(fp8_to_double(KvDType::E4M3, 0x80), 0.0);
  EXPECT_TRUE(std::signbit(fp8_to_double(KvDType::E4M3, 0x80)));
}

TEST(DecodeFp8, EncoderRoundsToNearestEvenAndSaturates) {
  for (KvDType k : {KvDType::E4M3, KvDType::E5M2})
    for (int b = 0; b < 256; ++b) {  // every finite code reads back to itself
      const auto u = static_cast<uint8_t>(b);
      if (!fp8_is_finite(k, u)) continue;
      EXPECT_EQ(fp8_from_float(k, float(fp8_to_double(k, u))), u == 0x80 ? 0x80 : u) << b;
    }
  // 1.0625 lies halfway between e4m3 1.0 (0x38, even) and 1.125 (0x39): ties to even.
  EXPECT_EQ(fp8_from_float(KvDType::E4M3, 1.0625f), 0x38);
  EXPECT_EQ(fp8_from_float(KvDType::E4M3, 1.1875f), 0x3a);  // between 0x39 and 0x3a: even 0x3a
  EXPECT_EQ(fp8_from_float(KvDType::E4M3, 1e6f), 0x7e);     // saturates to 448
  EXPECT_EQ(fp8_from_float(KvDType::E4M3, -1e6f), 0xfe);
  EXPECT_EQ(fp8_from_float(KvDType::E5M2, 1e9f), 0x7b);
  EXPECT_EQ(fp8_from_float(KvDType::E4M3, std::ldexp(1.f, -11)), 0x00);  // below half the smallest: 0
  EXPECT_EQ(fp8_from_float(KvDType::E4M3, std::ldexp(1.5f, -10)), 0x01);
  EXPECT_THROW(fp8_dequantize(KvDType::E4M3, 0x7f, 1.0, "k"), SpecError);
  EXPECT_THROW(fp8_dequantize(KvDType::E5M2, 0x7c, 1.0, "v"), SpecError);
  EXPECT_EQ(fp8_dequantize(KvDType::E4M3, 0x38, 0.5), 0.5);
}

TEST(DecodeFp8, GpuTemplateTakesTheTensorCoreKernelOrRefusesClearly) {
  const KernelTemplate& t = select_template(ProblemSpec::parse("decode_bf16_hd128_none_g1_q1_k4096_p16_kv-e4m3"),
                                            Target::cuda("sm_89"));
  const ProblemSpec mha = ProblemSpec::parse("decode_bf16_hd128_none_g1_q1_k4096_p16_kv-e4m3");
  const Target sm89 = Target::cuda("sm_89");
  EXPECT_EQ(t.default_config(mha, sm89).block_m, 16);  // even MHA: fp8 operands go to the MMAs
  for (const TileConfig& c : t.search_space(mha, sm89)) EXPECT_EQ(c.block_m, 16) << c.key();
  const auto why = t.can_implement(mha, TileConfig::parse("sm80_bm1_bn16_w4_s4_v8"), sm89);
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("tensor-core"), std::string::npos) << *why;
  EXPECT_FALSE(t.supports(ProblemSpec::parse("decode_bf16_hd32_none_g1_q1_k4096_p0_kv-e5m2"), sm89));
  const KernelSource src = t.render(mha, t.default_config(mha, sm89), sm89);
  EXPECT_NE(src.text.find("kKvFp8 = attnjit::fp8::kE4M3"), std::string::npos);
  // The fp8 ring is half the bytes and nothing comes on top (the lanes convert their operands
  // in registers): at 4 stages the rings are 2 x 4 x 16 keys x 128 dims x 4 warps x 2 or 1 bytes.
  const ProblemSpec bf16 = ProblemSpec::parse("decode_bf16_hd128_none_g8_q1_k4096_p16");
  const ProblemSpec e4 = ProblemSpec::parse("decode_bf16_hd128_none_g8_q1_k4096_p16_kv-e4m3");
  const RunShape shape{1, 32, 4, 1, 4096};
  auto smem = [&](const ProblemSpec& s, const char* cfg) {
    return t.geometry(s, TileConfig::parse(cfg), sm89, shape).dynamic_smem;
  };
  EXPECT_EQ(smem(bf16, "sm80_bm16_bn16_w4_s4_v8") - smem(e4, "sm80_bm16_bn16_w4_s4_v8"), 2 * 4 * 16 * 128 * 4);
}

#ifdef ATTNJIT_WITH_LLVM
Backend& cpu() { return decode_cpu_backend(); }

TEST(DecodeFp8, CpuEveryQueryDtypeBothKindsBothScaleShapes) {
  // Both kinds under f32 queries; e5m2 under f16 and e4m3 under bf16 (the lane orders of the
  // three query storages: blocked, blocked, even / odd).
  for (auto [dt, kv] : {std::pair{DType::F32, KvDType::E4M3}, {DType::F32, KvDType::E5M2},
                        {DType::F16, KvDType::E5M2}, {DType::BF16, KvDType::E4M3}})
      for (bool per_head : {false, true}) {
        DecodeCase c{.dtype = dt, .head_dim = 64, .heads_kv = 3, .group = 2, .seqlens = {1, 130, 0, 517},
                     .splits = per_head ? 3 : 1, .seed = uint64_t(int(dt) * 10 + int(kv) * 2 + per_head),
                     .kv_dtype = kv, .per_head_scale = per_head};
        expect_decode_matches(cpu(), c);
      }
}

TEST(DecodeFp8, CpuPagedGqaQueryTokensMasksAndVectorWidths) {
  DecodeCase c{.dtype = DType::BF16, .head_dim = 128, .mask = {.kind = MaskKind::Causal}, .heads_kv = 2,
               .group = 8, .q_tokens = 2, .seqlens = {300, 5, 64}, .page_size = 16, .kv_dtype = KvDType::E4M3,
               .per_head_scale = true};
  for (int splits : {0, 2}) {
    c.splits = splits;
    expect_decode_matches(cpu(), c);
  }
  c.mask = {MaskKind::SlidingWindow, 40, 0};
  c.kv_dtype = KvDType::E5M2;
  c.dtype = DType::F16;
  c.config = TileConfig::parse("cpu_bm16_bn32_w1_s1_v4_t1");  // narrow vectors, 32-key blocks
  expect_decode_matches(cpu(), c);
}

TEST(DecodeFp8, CpuRefusesBf16PairDotsOnAnFp8Cache) {
  const ProblemSpec s = ProblemSpec::parse("decode_bf16_hd128_none_g4_q1_k4096_p0_kv-e4m3");
  const KernelTemplate& t = select_template(s, cpu().target());
  TileConfig c = t.default_config(s, cpu().target());
  EXPECT_EQ(c.order, 0);
  c.order = 1;
  const auto why = t.can_implement(s, c, cpu().target());
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("order"), std::string::npos) << *why;
}
#endif

}  // namespace
}  // namespace attnjit::testing
