// NVRTC compile checks of the GPU decode template (no GPU needed): every arch x dtype x head
// dim for the default config compiles with no spills, fits the shared memory, and its PTX has the
// 16-byte loads the design relies on (cp.async 16 for K/V, ld.global.nc.v4 for Q).
#include <gtest/gtest.h>

#include "codegen/kernel_template.h"
#include "codegen/registry.h"
#include "common/require_nvrtc.h"
#include "runtime/nvrtc_compiler.h"

namespace attnjit {
namespace {

void expect_compiles_clean(const ProblemSpec& spec, const TileConfig& cfg, const Target& target) {
  const KernelTemplate& t = select_template(spec, target);
  const std::string what = spec.key() + " " + cfg.key() + " " + target.key();
  ASSERT_FALSE(t.can_implement(spec, cfg, target)) << what;
  const NvrtcResult r = Nvrtc::get().compile(t.render(spec, cfg, target), true, true);
  EXPECT_FALSE(r.cubin.empty()) << what;
  EXPECT_GT(r.resources.registers, 0) << what;
  EXPECT_LE(r.resources.registers, 255) << what;
  EXPECT_EQ(r.resources.spill_store_bytes, 0) << what << "\n" << r.log;
  EXPECT_EQ(r.resources.spill_load_bytes, 0) << what;
  EXPECT_EQ(r.resources.stack_frame_bytes, 0) << what;
  const LaunchGeometry g = t.geometry(spec, cfg, target, RunShape{1, spec.group, 1, spec.seqlen_q, spec.seqlen_k});
  EXPECT_LE(int64_t(g.dynamic_smem) + r.resources.smem_static_bytes, target.smem_per_block) << what;
  // Wide loads: K/V through 16-byte cp.async (zero-fill form); the scalar kernel reads Q with one
  // 16-byte vector load, the tensor-core kernel runs on ldmatrix + mma.sync.
  EXPECT_NE(r.ptx.find("cp.async.cg.shared.global"), std::string::npos) << what;
  EXPECT_NE(r.ptx.find(", 16, "), std::string::npos) << what;
  if (cfg.block_m == 16) {
    EXPECT_NE(r.ptx.find("mma.sync.aligned.m16n8k16.row.col.f32"), std::string::npos) << what;
    EXPECT_NE(r.ptx.find("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16"), std::string::npos) << what;
  } else {
    EXPECT_NE(r.ptx.find("ld.global.nc.v4.u32"), std::string::npos) << what;
  }
  EXPECT_NE(r.ptx.find("atom.global.add"), std::string::npos) << what;  // the last-block combine
}

TEST(DecodeNvrtc, DefaultConfigEveryArchDtypeHeadDim) {
  REQUIRE_NVRTC();
  for (const auto& arch : Target::cuda_archs())
    for (DType dt : {DType::F16, DType::BF16})
      for (int d : {32, 64, 128, 256}) {
        const Target target = Target::cuda(arch);
        const ProblemSpec s = ProblemSpec::for_shape(Family::Decode, dt, d, {}, 32, 4, 1, 8192, 16);
        expect_compiles_clean(s, select_template(s, target).default_config(s, target), target);
      }
}

TEST(DecodeNvrtc, MasksPagesAndManyRowsCompileClean) {
  REQUIRE_NVRTC();
  const Target target = Target::cuda("sm_80");
  struct V {
    int group, qt, page;
    MaskSpec mask;
  };
  for (const V& v : {V{1, 1, 0, {}}, V{8, 4, 256, {MaskKind::Causal}}, V{4, 16, 16, {MaskKind::SlidingWindow, 4096, 0}},
                     V{3, 2, 0, {MaskKind::SlidingWindow, 100, 7}}}) {
    const ProblemSpec s =
        ProblemSpec::for_shape(Family::Decode, DType::BF16, 128, v.mask, 4 * v.group, 4, v.qt, 65536, v.page);
    expect_compiles_clean(s, select_template(s, target).default_config(s, target), target);
  }
}

// Soft-capping compiles clean on both kernels, and its tanh is in the PTX (and absent without).
TEST(DecodeNvrtc, SoftcapCompilesCleanOnBothKernels) {
  REQUIRE_NVRTC();
  const Target target = Target::cuda("sm_80");
  ProblemSpec s = ProblemSpec::for_shape(Family::Decode, DType::BF16, 128, {MaskKind::Causal}, 16, 2, 4, 8192, 16);
  s.softcap = 30.5;
  for (const char* cfg : {"bm16_bn16_w4_s3_v8", "bm8_bn16_w4_s4_v8"}) {
    expect_compiles_clean(s, TileConfig::parse(cfg), target);
    const KernelTemplate& t = select_template(s, target);
    const KernelSource src = t.render(s, TileConfig::parse(cfg), target);
    EXPECT_NE(src.text.find("kSoftcap = 0x1.e8p+4f"), std::string::npos) << src.text;  // 30.5, exact
  }
}

// The tensor-core kernel's tilings beyond the defaults (every block_n, 8 warps, head dim 256):
// no spills, mma.sync and ldmatrix in the PTX, on Ampere and Hopper.
TEST(DecodeNvrtc, TensorCoreTilingsCompileClean) {
  REQUIRE_NVRTC();
  for (const char* arch : {"sm_80", "sm_90a"}) {
    const Target target = Target::cuda(arch);
    const ProblemSpec gqa = ProblemSpec::for_shape(Family::Decode, DType::BF16, 128, {}, 32, 4, 1, 32768, 16);
    for (const char* cfg : {"bm16_bn32_w4_s2_v8", "bm16_bn64_w2_s2_v8", "bm16_bn16_w8_s2_v8"})
      expect_compiles_clean(gqa, TileConfig::parse(cfg), target);
    const ProblemSpec wide =
        ProblemSpec::for_shape(Family::Decode, DType::F16, 256, {MaskKind::Causal}, 16, 2, 2, 4096, 0);
    expect_compiles_clean(wide, TileConfig::parse("bm16_bn16_w2_s3_v8"), target);
  }
}

}  // namespace
}  // namespace attnjit
