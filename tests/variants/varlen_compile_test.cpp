// Compile gate for the varlen / paged sm80 kernels: NVRTC builds the default config of varlen,
// paged and varlen + paged problems (head dims 64 / 128 / 256) for sm_80 and sm_90a with the
// tensor-core path intact, shared memory within the target and no spills (the checks of
// tests/templates). Skipped where NVRTC cannot be opened.
#include <gtest/gtest.h>

#include "codegen/registry.h"
#include "templates/prefill_sm80_compile_util.h"

namespace attnjit::testing {
namespace {

TEST(VarlenCompile, DefaultConfigsCompileWithoutSpills) {
  ATTNJIT_REQUIRE_NVRTC();
  std::vector<CompileJob> jobs;
  for (const char* key : {"prefill_bf16_hd64_causal_g4_q1024_k1024_varlen", "prefill_f16_hd128_sw256-0_g1_q512_k32768_p1",
                          "prefill_bf16_hd256_causal_g8_q1024_k8192_p16_varlen"})
    for (const char* arch : {"sm_80", "sm_90a"}) {
      const ProblemSpec spec = ProblemSpec::parse(key);
      const Target t = Target::cuda(arch);
      jobs.push_back({spec, select_template(spec, t).default_config(spec, t), t});
    }
  run_compile_jobs(jobs, "varlen");
}

}  // namespace
}  // namespace attnjit::testing
