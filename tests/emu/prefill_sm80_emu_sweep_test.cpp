// Every config of prefill_sm80's search space for one problem family (bf16, head dim 64, causal,
// uneven lengths) on the CPU emulator, each under two shapes that cut tiles and wrap the pipeline
// and under a shuffled schedule. Slow (minutes): labelled "sweep", not in the default run.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "codegen/registry.h"
#include "emu/prefill_emu_harness.h"

namespace attnjit::emu_test {
namespace {

template <int BM, int BN, int W, int S>
using C = PrefillSm80Traits<sm80::Bf16, 64, BM, BN, W, S, sm80::MaskCausal, false>;

#define EMU_STAGES(BM, BN, W) C<BM, BN, W, 1>, C<BM, BN, W, 2>, C<BM, BN, W, 3>
const PrefillKernels<EMU_STAGES(64, 32, 4), EMU_STAGES(64, 64, 4), EMU_STAGES(64, 128, 4),
                     EMU_STAGES(128, 32, 4), EMU_STAGES(128, 64, 4), EMU_STAGES(128, 32, 8),
                     EMU_STAGES(128, 64, 8), EMU_STAGES(128, 128, 8)>
    kKernels;
#undef EMU_STAGES

testing::PrefillCase make_case(int64_t sq, int64_t sk) {
  testing::PrefillCase c = testing::PrefillCase::make(DType::BF16, 64, {MaskKind::Causal, 0, 0}, sq, sk, 2, 2, 1);
  c.seed = static_cast<uint64_t>(sq * 7919 + sk);  // this sweep's own inputs, as before
  return c;
}

TEST(PrefillSm80EmuSweep, EveryConfigOfTheSearchSpace) {
  const testing::PrefillCase cases[] = {make_case(200, 333), make_case(333, 200)};
  const ProblemSpec spec = prefill_spec(cases[0].problem());
  const Target target = Target::cuda("sm_80");
  const auto space = select_template(spec, target).search_space(spec, target);
  ASSERT_EQ(space.size(), kernels().size()) << "search space changed: update the instantiations";
  for (const TileConfig& cfg : space)
    for (const testing::PrefillCase& c : cases)
      for (emu::Order order : {emu::Order::Forward, emu::Order::Shuffle}) {
        const EmuRun r = run_prefill(c, cfg, order);
        EXPECT_TRUE(r.report.ok) << c.name() << " " << cfg.key() << "\n" << r.report.message;
        std::printf("[emu] %-40s %-18s O err %.2e (tol %.2e)\n", c.name().c_str(),
                    cfg.key().c_str(), r.report.o_err, r.report.o_tol);
      }
}

}  // namespace
}  // namespace attnjit::emu_test
