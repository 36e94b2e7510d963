// prefill_sm80 kernels compile through NVRTC for every arch we generate for: the default config
// of every (arch, dtype, head dim, mask) with no spills, plus a fixed-seed sample of the rest of
// the search space (even and uneven lengths). The full grid is prefill_sm80_sweep_test.
#include <random>

#include "templates/prefill_sm80_compile_util.h"

namespace attnjit {
namespace {

using testing::CompileJob;

TEST(PrefillSm80Compile, DefaultConfigsCompileWithoutSpillsOnEveryArch) {
  ATTNJIT_REQUIRE_NVRTC();
  const KernelTemplate& t = prefill_sm80_template();
  std::vector<CompileJob> jobs;
  for (const auto& arch : Target::cuda_archs())
    for (DType dt : {DType::F16, DType::BF16})
      for (int hd : kHeadDims)
        for (int m = 0; m < testing::kCompileMaskCount; ++m) {
          CompileJob j;
          j.target = Target::cuda(arch);
          j.spec = testing::compile_spec(dt, hd, testing::compile_masks()[m], false);
          j.cfg = t.default_config(j.spec, j.target);
          jobs.push_back(j);
        }
  testing::run_compile_jobs(jobs, "defaults");
}

TEST(PrefillSm80Compile, SampledSearchSpaceConfigsCompile) {
  ATTNJIT_REQUIRE_NVRTC();
  const KernelTemplate& t = prefill_sm80_template();
  std::vector<CompileJob> all;
  for (const auto& arch : Target::cuda_archs())
    for (DType dt : {DType::F16, DType::BF16})
      for (int hd : kHeadDims)
        for (int m = 0; m < testing::kCompileMaskCount; ++m)
          for (bool even : {false, true}) {
            CompileJob j;
            j.target = Target::cuda(arch);
            j.spec = testing::compile_spec(dt, hd, testing::compile_masks()[m], even);
            const TileConfig d = t.default_config(j.spec, j.target);
            for (const TileConfig& c : t.search_space(j.spec, j.target)) {
              if (c == d) continue;
              j.cfg = c;
              all.push_back(j);
            }
          }
  // A fixed seed keeps the sample (and so the test) the same on every run.
  std::mt19937 rng(20261123);
  std::shuffle(all.begin(), all.end(), rng);
  all.resize(std::min<size_t>(all.size(), 16));
  testing::run_compile_jobs(all, "sample");
}

// Soft-capping: the default configs of each mask and head dims 64 / 128 / 256 compile without
// spills on sm_80 and sm_90a.
TEST(PrefillSm80Compile, SoftcapDefaultsCompileWithoutSpills) {
  ATTNJIT_REQUIRE_NVRTC();
  const KernelTemplate& t = prefill_sm80_template();
  std::vector<CompileJob> jobs;
  for (const char* arch : {"sm_80", "sm_90a"})
    for (int hd : {64, 128, 256})
      for (int m = 0; m < testing::kCompileMaskCount; ++m) {
        CompileJob j;
        j.target = Target::cuda(arch);
        j.spec = testing::compile_spec(hd == 128 ? DType::F16 : DType::BF16, hd, testing::compile_masks()[m], false);
        j.spec.softcap = hd == 64 ? 30.5 : 50;
        j.cfg = t.default_config(j.spec, j.target);
        jobs.push_back(j);
      }
  testing::run_compile_jobs(jobs, "softcap");
}

}  // namespace
}  // namespace attnjit
