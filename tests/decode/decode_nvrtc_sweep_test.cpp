// Exhaustive NVRTC sweep (label "sweep"): every config of the GPU decode search space, for a
// few representative problems, compiles and fits the shared memory — so the tuner never meets a
// candidate that cannot build. Spills are bounded, not banned: ptxas spills a few bytes for
// some register-hungry corners (seen: 4 bytes for hd64 g8 bm2_bn16_w2_s2), which the tuner
// measures like any other candidate; the default configs must be spill-free
// (decode_nvrtc_test.cpp).
#include <gtest/gtest.h>

#include "codegen/kernel_template.h"
#include "codegen/registry.h"
#include "runtime/nvrtc_compiler.h"

namespace attnjit {
namespace {

TEST(DecodeNvrtcSweep, WholeSearchSpaceCompilesWithoutSpills) {
  std::string why;
  if (!Nvrtc::available(&why)) GTEST_SKIP() << "NVRTC unavailable: " << why;
  const Target target = Target::cuda("sm_80");
  for (int d : {64, 128, 256})
    for (auto [g, qt] : {std::pair{1, 1}, std::pair{8, 1}, std::pair{4, 4}}) {
      const ProblemSpec s = ProblemSpec::for_shape(Family::Decode, DType::BF16, d, {MaskKind::Causal}, 8 * g, 8,
                                                   qt, 32768, 16);
      const KernelTemplate& t = select_template(s, target);
      for (const TileConfig& c : t.search_space(s, target)) {
        const NvrtcResult r = Nvrtc::get().compile(t.render(s, c, target));
        EXPECT_FALSE(r.cubin.empty()) << s.key() << " " << c.key();
        EXPECT_LE(r.resources.spill_store_bytes, 64) << s.key() << " " << c.key();
        const LaunchGeometry geo = t.geometry(s, c, target, RunShape{1, 8 * g, 8, qt, 32768});
        EXPECT_LE(int64_t(geo.dynamic_smem) + r.resources.smem_static_bytes, target.smem_per_block)
            << s.key() << " " << c.key();
      }
    }
}

}  // namespace
}  // namespace attnjit
