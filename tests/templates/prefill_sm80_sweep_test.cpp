// Every config of every prefill_sm80 search space compiles through NVRTC without spills, for
// all archs x dtypes x head dims x masks x even/uneven lengths. Long (thousands of kernels):
// labelled "sweep", outside the default run. One test per arch so a run can pick one:
//   ATTNJIT_COMPILE_THREADS=16 test_templates_sweep --gtest_filter='*sm_90a*'
#include "common/test_name.h"
#include "templates/prefill_sm80_compile_util.h"

namespace attnjit {
namespace {

using testing::CompileJob;

class PrefillSm80Sweep : public ::testing::TestWithParam<std::string> {};

TEST_P(PrefillSm80Sweep, EverySearchSpaceConfigCompilesWithoutSpills) {
  ATTNJIT_REQUIRE_NVRTC();
  const KernelTemplate& t = prefill_sm80_template();
  std::vector<CompileJob> jobs;
  for (DType dt : {DType::F16, DType::BF16})
    for (int hd : kHeadDims)
      for (int m = 0; m < testing::kCompileMaskCount; ++m)
        for (bool even : {false, true}) {
          CompileJob j;
          j.target = Target::cuda(GetParam());
          j.spec = testing::compile_spec(dt, hd, testing::compile_masks()[m], even);
          for (const TileConfig& c : t.search_space(j.spec, j.target)) {
            j.cfg = c;
            jobs.push_back(j);
          }
        }
  testing::run_compile_jobs(jobs, GetParam().c_str());
}

INSTANTIATE_TEST_SUITE_P(Archs, PrefillSm80Sweep, ::testing::ValuesIn(Target::cuda_archs()),
                         [](const ::testing::TestParamInfo<std::string>& i) { return testing::test_name({.detail = i.param}); });

}  // namespace
}  // namespace attnjit
