// Compile gates for the fp8 KV-cache decode kernels (label `gates`): the tensor-core kernel
// reading e4m3 (bf16 queries) and e5m2 (f16 queries) compiles on every CUDA arch with no spill
// and no stack frame, and its
// dequantisation takes the hardware conversion where there is one: sm_89 and sm_90a PTX holds
// cvt.rn.f16x2.e4m3x2 / .e5m2x2, sm_80 / sm_86 PTX has no fp8 instruction (integer operations).
#include "codegen/registry.h"
#include "gates/gate_jobs.h"

namespace attnjit {
namespace {

TEST(GatesDecodeFp8, EveryArchPassesAndConvertsInHardwareFromSm89) {
  std::string why;
  if (!Nvrtc::available(&why)) GTEST_SKIP() << "NVRTC unavailable: " << why;
  for (const std::string& arch : Target::cuda_archs()) {
    const Target target = Target::cuda(arch);
    for (auto [kv, dt] : {std::pair{KvDType::E4M3, DType::BF16}, {KvDType::E5M2, DType::F16}}) {
        ProblemSpec s = ProblemSpec::for_shape(Family::Decode, dt, 128, {}, 32, 4, 1, 32768, 16);
        s.kv_dtype = kv;
        const KernelTemplate& t = select_template(s, target);
        const TileConfig cfg = t.default_config(s, target);
        const NvrtcResult r = Nvrtc::get().compile(t.render(s, cfg, target), true, true);
        // The gates of gate_checks.h that ptxas's report answers: no spill, no stack frame.
        EXPECT_EQ(r.resources.spill_store_bytes + r.resources.spill_load_bytes, 0) << arch << "\n" << r.log;
        EXPECT_EQ(r.resources.stack_frame_bytes, 0) << arch;
        EXPECT_GT(r.resources.registers, 0) << arch;
        const std::string cvt = kv == KvDType::E4M3 ? "cvt.rn.f16x2.e4m3x2" : "cvt.rn.f16x2.e5m2x2";
        const bool hw = target.cc_major * 10 + target.cc_minor >= 89;
        EXPECT_EQ(r.ptx.find(cvt) != std::string::npos, hw) << arch << " " << s.key();
        if (!hw) EXPECT_EQ(r.ptx.find("e4m3"), std::string::npos) << arch;
        EXPECT_EQ(r.ptx.find(kv == KvDType::E4M3 ? "e5m2" : "e4m3"), std::string::npos) << arch;
        EXPECT_NE(r.ptx.find("mma.sync.aligned.m16n8k16"), std::string::npos) << arch;
    }
  }
}

}  // namespace
}  // namespace attnjit
