// Compile gates for the decode kernels with ALiBi and sinks (label `gates`): the scalar and the
// tensor-core kernel's variant entries (and an fp8 cache with sinks) compile on sm_80 and sm_90a
// with no spill and no stack frame; their PTX entry is the variant kernel taking
// DecodeVariantParams (the plain kernels keep their entry and parameter block).
#include "codegen/registry.h"
#include "gates/gate_jobs.h"
#include "templates/decode/params.h"

namespace attnjit {
namespace {

TEST(GatesDecodeAlibiSink, BothKernelsPassOnSm80AndSm90) {
  std::string why;
  if (!Nvrtc::available(&why)) GTEST_SKIP() << "NVRTC unavailable: " << why;
  for (const char* arch : {"sm_80", "sm_90a"}) {
    const Target target = Target::cuda(arch);
    for (const char* key : {"decode_bf16_hd128_none_alibi_sink_g8_q1_k32768_p16",      // tensor cores
                            "decode_f16_hd128_causal_alibi_sink_g1_q1_k4096_p0",        // scalar
                            "decode_bf16_hd64_causal_sink_g4_q4_k4096_p1",              // tensor cores, sink only
                            "decode_f16_hd128_none_alibi_g2_q1_k4096_p16",              // scalar, ALiBi only
                            "decode_bf16_hd128_none_sink_g8_q1_k32768_p16_kv-e4m3"}) {  // fp8 with sinks
      const ProblemSpec s = ProblemSpec::parse(key);
      const KernelTemplate& t = select_template(s, target);
      const TileConfig cfg = t.default_config(s, target);
      const KernelSource src = t.render(s, cfg, target);
      EXPECT_NE(src.entry.find("_variant_kernel<"), std::string::npos) << key;
      const NvrtcResult r = Nvrtc::get().compile(src, true, true);
      EXPECT_EQ(r.resources.spill_store_bytes + r.resources.spill_load_bytes, 0) << arch << " " << key << "\n" << r.log;
      EXPECT_EQ(r.resources.stack_frame_bytes, 0) << arch << " " << key;
      EXPECT_GT(r.resources.registers, 0) << arch << " " << key;
      EXPECT_NE(r.ptx.find("variant_kernel"), std::string::npos) << key;
      // The parameter block: DecodeVariantParams, bigger than DecodeParams.
      EXPECT_NE(r.ptx.find("_param_0[" + std::to_string(sizeof(DecodeVariantParams)) + "]"), std::string::npos)
          << key;
    }
  }
}

}  // namespace
}  // namespace attnjit
