// Every (CUDA template, problem, config in its search space, arch) through every compile gate.
// Label sweep: minutes to hours on 2 cores, never in the default run. One template's part:
// ATTNJIT_GATES_ONLY="^prefill_sm90/" (gate_jobs.h).
#include "gates/gate_jobs.h"

namespace attnjit {
namespace {

TEST(GatesSweep, EveryConfigOfEveryTemplatePassesEveryGate) {
  std::string why;
  if (!Nvrtc::available(&why)) GTEST_SKIP() << "NVRTC unavailable: " << why;
  gates::run_gates(gates::gate_jobs(/*full=*/true, 0), "sweep", /*progress=*/true);
}

}  // namespace
}  // namespace attnjit
