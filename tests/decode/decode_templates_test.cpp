// The decode KernelTemplates (GPU and CPU) as codegen: selection, search space legality,
// defaults, rejections that name the field, rendering and launch geometry.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "codegen/decode/plan.h"
#include "codegen/kernel_template.h"
#include "codegen/registry.h"

namespace attnjit {
namespace {

ProblemSpec decode_spec(DType dt, int d, int group, int qt, int page = 0, MaskSpec mask = {}) {
  return ProblemSpec::for_shape(Family::Decode, dt, d, mask, group * 4, 4, qt, 32768, page);
}

Target cpu_target() {
  Target t = Target::cpu("icelake-client", "+avx2,+fma", 512);
  t.sm_count = 4;
  return t;
}

TEST(DecodeTemplates, SelectedForDecodeProblemsOnEachPlatform) {
  const ProblemSpec s = decode_spec(DType::BF16, 128, 8, 1, 16);
  EXPECT_EQ(select_template(s, Target::cuda("sm_80")).name(), "decode_sm80");
  EXPECT_EQ(select_template(s, Target::cuda("sm_90a")).name(), "decode_sm80");
  EXPECT_EQ(select_template(s, cpu_target()).name(), "decode_cpu");
  ProblemSpec f32 = s;
  f32.dtype = DType::F32;
  EXPECT_EQ(select_template(f32, cpu_target()).name(), "decode_cpu");
  EXPECT_THROW(select_template(f32, Target::cuda("sm_80")), SpecError);  // no f32 on GPUs
  ProblemSpec hd96 = s;
  hd96.head_dim = 96;
  EXPECT_THROW(select_template(hd96, Target::cuda("sm_80")), SpecError);
  EXPECT_EQ(select_template(hd96, cpu_target()).name(), "decode_cpu");
}

TEST(DecodeTemplates, SearchSpacesAreLegalAndHoldTheDefault) {
  std::vector<std::pair<ProblemSpec, Target>> cases;
  for (const auto& arch : Target::cuda_archs())
    for (int d : {32, 64, 128, 256})
      for (auto [g, qt] : {std::pair{1, 1}, std::pair{8, 1}, std::pair{4, 4}, std::pair{3, 1}})
        cases.emplace_back(decode_spec(DType::F16, d, g, qt, 16), Target::cuda(arch));
  for (int d : kHeadDims) cases.emplace_back(decode_spec(DType::F32, d, 8, 2), cpu_target());
  for (const auto& [spec, target] : cases) {
    const KernelTemplate& t = select_template(spec, target);
    const auto space = t.search_space(spec, target);
    ASSERT_FALSE(space.empty()) << spec.key() << " " << target.key();
    std::set<std::string> keys;
    for (const TileConfig& c : space) {
      EXPECT_FALSE(t.can_implement(spec, c, target)) << spec.key() << " " << c.key() << ": "
                                                     << *t.can_implement(spec, c, target);
      EXPECT_TRUE(keys.insert(c.key()).second) << "duplicate " << c.key();
    }
    const TileConfig d = t.default_config(spec, target);
    EXPECT_NE(std::find(space.begin(), space.end(), d), space.end()) << spec.key() << " default " << d.key();
  }
}

TEST(DecodeTemplates, RejectionsNameTheField) {
  const ProblemSpec s = decode_spec(DType::BF16, 128, 8, 1);
  const Target sm80 = Target::cuda("sm_80");
  const KernelTemplate& t = select_template(s, sm80);
  const TileConfig good = t.default_config(s, sm80);
  auto why = [&](auto mutate) {
    TileConfig c = good;
    mutate(c);
    auto r = t.can_implement(s, c, sm80);
    return r ? *r : std::string();
  };
  EXPECT_EQ(good.block_m, 16);  // GQA 8: the tensor-core kernel
  EXPECT_NE(why([](TileConfig& c) { c.block_m = 32; }).find("block_m"), std::string::npos);
  EXPECT_NE(why([](TileConfig& c) { c.block_m = 3; }).find("block_m"), std::string::npos);
  EXPECT_NE(why([](TileConfig& c) { c.block_n = 12; }).find("block_n"), std::string::npos);
  EXPECT_NE(why([](TileConfig& c) { c.warps = 3; }).find("warps"), std::string::npos);
  EXPECT_NE(why([](TileConfig& c) { c.stages = 0; }).find("stages"), std::string::npos);
  EXPECT_NE(why([](TileConfig& c) { c.splits = 129; }).find("splits"), std::string::npos);
  EXPECT_NE(why([](TileConfig& c) { c.vec = 4; }).find("vec"), std::string::npos);
  EXPECT_NE(why([](TileConfig& c) { c.stages = 8, c.block_n = 64, c.warps = 8; }).find("shared memory"),
            std::string::npos);
  // The scalar kernel's own block_n rule (a multiple of its lane groups).
  EXPECT_NE(why([](TileConfig& c) { c.block_m = 8, c.block_n = 12, c.stages = 4; }).find("block_n"),
            std::string::npos);
  EXPECT_FALSE(why([](TileConfig& c) { c.block_m = 8, c.block_n = 32, c.stages = 4; }).size());
  // The tensor-core kernel's: head dims 64 / 128 / 256, 16 keys per warp at head dim 256.
  const ProblemSpec hd32 = decode_spec(DType::BF16, 32, 8, 1);
  EXPECT_NE(t.can_implement(hd32, good, sm80).value_or("").find("head_dim"), std::string::npos);
  const ProblemSpec hd256 = decode_spec(DType::BF16, 256, 8, 1);
  TileConfig wide = good;
  wide.block_n = 32;
  wide.warps = 2;
  wide.stages = 2;
  EXPECT_NE(t.can_implement(hd256, wide, sm80).value_or("").find("block_n"), std::string::npos);
  // Rows per CTA beyond the problem's rows (1 row: MHA, one token).
  const ProblemSpec mha = decode_spec(DType::BF16, 128, 1, 1);
  TileConfig c = t.default_config(mha, sm80);
  EXPECT_EQ(c.block_m, 1);
  c.block_m = 2;
  ASSERT_TRUE(t.can_implement(mha, c, sm80));
  EXPECT_NE(t.can_implement(mha, c, sm80)->find("block_m"), std::string::npos);
  EXPECT_THROW(t.render(mha, c, sm80), SpecError);
}

TEST(DecodeTemplates, GpuRenderIsAPreludeOverTheTemplate) {
  const ProblemSpec s = decode_spec(DType::BF16, 128, 8, 1, 16, {MaskKind::SlidingWindow, 1024, 0});
  const Target sm90 = Target::cuda("sm_90a");
  const KernelTemplate& t = select_template(s, sm90);
  TileConfig c = t.default_config(s, sm90);
  const KernelSource a = t.render(s, c, sm90);
  EXPECT_EQ(a.platform, Platform::Cuda);
  EXPECT_EQ(a.arch, "sm_90a");
  EXPECT_EQ(c.block_m, 16);
  EXPECT_EQ(a.entry, "attnjit::decode::decode_mma_kernel<attnjit_gen::DecodeConfig>");
  EXPECT_NE(a.text.find("#include \"decode/mma_sm80.cuh\""), std::string::npos);
  EXPECT_NE(a.text.find("kPageSize = 16"), std::string::npos);
  EXPECT_NE(a.text.find("kWindowLeft = 1024LL"), std::string::npos);
  EXPECT_NE(a.text.find("using Elem = attnjit::decode::Bf16"), std::string::npos);
  EXPECT_LT(a.text.size(), 1500u);  // a prelude, not a kernel body
  // mma_sm80 (+ its body _cta, its fp8 operands mma_fp8_sm80), sm80 (+ _cta), params, sm80_mma,
  // fp8, common variants, decode variants with common mask_policy / variants_alibi /
  // variants_sink / variants_user (+ the prefill params its aux block comes from)
  EXPECT_EQ(a.headers.size(), 15u);
  // Fewer rows take the scalar kernel.
  const ProblemSpec g2 = decode_spec(DType::BF16, 128, 2, 1);
  const KernelSource scalar = t.render(g2, t.default_config(g2, sm90), sm90);
  EXPECT_EQ(scalar.entry, "attnjit::decode::decode_kernel<attnjit_gen::DecodeConfig>");
  EXPECT_NE(scalar.text.find("#include \"decode/sm80.cuh\""), std::string::npos);
  // Deterministic, and the split count is a launch knob: it does not change the source.
  EXPECT_EQ(t.render(s, c, sm90).hash, a.hash);
  c.splits = 9;
  EXPECT_EQ(t.render(s, c, sm90).hash, a.hash);
  c.stages = 2;
  EXPECT_NE(t.render(s, c, sm90).hash, a.hash);
  EXPECT_EQ(t.version_hash().size(), 32u);
}

TEST(DecodeTemplates, GpuGeometryIsSplitsTimesChunksByHeadsByBatch) {
  const ProblemSpec s = decode_spec(DType::F16, 64, 8, 4);  // 32 rows per KV head
  Target sm80 = Target::cuda("sm_80");
  sm80.sm_count = 108;
  const KernelTemplate& t = select_template(s, sm80);
  TileConfig c = t.default_config(s, sm80);
  EXPECT_EQ(c.block_m, 16);  // tensor cores: 2 chunks of 16 rows
  c.splits = 5;
  LaunchGeometry g = t.geometry(s, c, sm80, RunShape{3, 32, 4, 4, 30000});
  EXPECT_EQ(g.grid[0], 5u * 2u);
  EXPECT_EQ(g.grid[1], 4u);
  EXPECT_EQ(g.grid[2], 3u);
  EXPECT_EQ(g.block[0], unsigned(c.warps * 32));
  // One K+V ring per warp, the merge scalars and the combine weights.
  EXPECT_EQ(g.dynamic_smem, unsigned(c.warps * 2 * c.stages * c.block_n * 64 * 2 +
                                     (2 * c.warps * 16 + 16 * kDecodeMaxSplits + 1) * 4 + 15) / 16 * 16);
  EXPECT_THROW(t.geometry(s, c, sm80, RunShape{0, 32, 4, 4, 100}), SpecError);
  // The scalar kernel at 8 rows: 4 chunks, no opt-in shared memory.
  c = TileConfig::parse("bm8_bn32_w4_s4_sp5_v8");
  ASSERT_FALSE(t.can_implement(s, c, sm80));
  g = t.geometry(s, c, sm80, RunShape{3, 32, 4, 4, 30000});
  EXPECT_EQ(g.grid[0], 5u * 4u);
  EXPECT_LE(g.dynamic_smem, 48u * 1024u);
}

TEST(DecodeTemplates, CpuRenderAndGeometry) {
  const ProblemSpec s = decode_spec(DType::BF16, 128, 4, 1, 256);
  const Target cpu = cpu_target();
  const KernelTemplate& t = select_template(s, cpu);
  TileConfig c = t.default_config(s, cpu);
  const KernelSource a = t.render(s, c, cpu);
  EXPECT_EQ(a.platform, Platform::Cpu);
  EXPECT_EQ(a.entry.rfind("attnjit_decode_cpu_", 0), 0u);
  EXPECT_NE(a.text.find("extern \"C\" void " + a.entry), std::string::npos);
  EXPECT_NE(a.text.find("kStorage = attnjit::cpu::kStoreBF16"), std::string::npos);
  // threads and splits are launch knobs: one object for all of them.
  TileConfig other = c;
  other.threads = 1;
  other.splits = 3;
  EXPECT_EQ(t.render(s, other, cpu).hash, a.hash);
  // Items = sequences x groups of KV heads x row chunks x splits; 4 heads x 4 rows x 128 dims
  // fit one group (decode_cpu_heads_per_item), 9 heads need two.
  ASSERT_GE(decode_cpu_heads_per_item(s, other), 4);
  const LaunchGeometry g = t.geometry(s, other, cpu, RunShape{2, 16, 4, 1, 5000});
  EXPECT_EQ(g.grid[0], 2u * 1u * 1u * 3u);
  const int64_t per = decode_cpu_heads_per_item(s, other);
  EXPECT_EQ(t.geometry(s, other, cpu, RunShape{2, 36, 9, 1, 5000}).grid[0], unsigned(2 * ((9 + per - 1) / per) * 3));
  EXPECT_EQ(g.block[0], 1u);
  TileConfig bad = c;
  bad.warps = 2;
  ASSERT_TRUE(t.can_implement(s, bad, cpu));
  EXPECT_NE(t.can_implement(s, bad, cpu)->find("warps"), std::string::npos);
}

TEST(DecodeTemplates, CpuLongRowPrefetchDistanceFollowsTheCoreVendor) {
  // 64 KiB ahead for long rows on Intel cores (measured on Emerald Rapids); the template's 4x
  // head-row rule on AMD cores (measured on Zen 4), which LLVM names znver*.
  const ProblemSpec s = decode_spec(DType::F32, 128, 1, 1);
  for (const char* arch : {"icelake-client", "sapphirerapids", "znver3", "znver4"}) {
    const Target cpu = Target::cpu(arch, "+avx2,+fma", 256);
    const KernelTemplate& t = select_template(s, cpu);
    const std::string text = t.render(s, t.default_config(s, cpu), cpu).text;
    const bool amd = std::string(arch).rfind("znver", 0) == 0;
    EXPECT_EQ(text.find("kLongRowAhead = 65536") != std::string::npos, !amd) << arch;
  }
}

}  // namespace
}  // namespace attnjit
