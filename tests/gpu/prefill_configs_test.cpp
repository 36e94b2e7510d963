// Every config of the default search space runs once and is correct — for the most used
// problem (bf16, head dim 128, causal) at a shape that cuts tiles. The whole grid (every dtype,
// head dim, mask, and the even-length kernels) is prefill_configs_sweep_test, behind the
// "sweep" label.
#include <gtest/gtest.h>

#include <cstdio>

#include "codegen/registry.h"
#include "common/gpu_test_util.h"

namespace attnjit {
namespace {

class PrefillConfigsTest : public ::testing::TestWithParam<BackendKind> {};

TEST_P(PrefillConfigsTest, EveryConfigOfTheDefaultGridIsCorrect) {
  std::string why;
  auto rt = testing::try_runtime(GetParam(), &why);
  if (!rt) GTEST_SKIP() << to_string(GetParam()) << " backend unavailable: " << why;
  int ran = 0;
  testing::PrefillCase c;
  c.dtype = DType::BF16;
  c.head_dim = 128;
  c.mask = {MaskKind::Causal, 0, 0};
  c.heads_q = 2;
  c.heads_kv = 1;
  c.seqlen_q = 200;
  c.seqlen_k = 333;
  ran += testing::run_every_config(*rt, c);
  if (ran == 0) GTEST_SKIP() << "no supported dtype on " << rt->target().key();
  std::printf("[ configs  ] %d config runs on %s\n", ran, rt->target().key().c_str());
}

// The sm80 template's end-aligned key tilings (config orders 1 and 2) on the GPU, which the
// emulator has proven but no GPU has run: every such config of its space (named sm80, so sm_90a
// devices, whose default template is sm90, run them too) on a window with GQA and uneven lengths
// and on causal rows that see no key (seqlen_q > seqlen_k).
TEST_P(PrefillConfigsTest, Sm80EndAlignedOrdersAreCorrect) {
  if (GetParam() != BackendKind::Cuda) GTEST_SKIP() << "the sm80 template runs on CUDA only";
  std::string why;
  auto rt = testing::try_runtime(GetParam(), &why);
  if (!rt) GTEST_SKIP() << to_string(GetParam()) << " backend unavailable: " << why;
  int ran = 0;
  for (testing::PrefillCase c : {testing::PrefillCase::make(DType::BF16, 128, {MaskKind::SlidingWindow, 100, 0}, 200, 333, 1, 4, 2),
                                 testing::PrefillCase::make(DType::F16, 64, {MaskKind::Causal, 0, 0}, 300, 130, 2, 2, 1)}) {
    const PrefillProblem p = c.problem();
    const ProblemSpec spec = ProblemSpec::for_shape(Family::Prefill, p.dtype, p.head_dim, p.mask, p.heads_q,
                                                    p.heads_kv, p.seqlen_q, p.seqlen_k);
    TileConfig named;
    named.tmpl = "sm80";
    const KernelTemplate& sm80 = template_for(spec, rt->target(), named);
    for (const TileConfig& cfg : sm80.search_space(spec, rt->target())) {
      if (cfg.order == 0) continue;
      rt->set_config_provider(std::make_shared<testing::FixedConfigProvider>(cfg));
      SCOPED_TRACE(c.name(cfg));
      try {
        EXPECT_EQ(rt->prepare_prefill(p).config, cfg);
        const testing::CheckReport r = testing::run_and_check(*rt, c);
        EXPECT_TRUE(r.ok) << r.message;
        ++ran;
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
      }
    }
  }
  rt->set_config_provider(nullptr);
  EXPECT_GT(ran, 0) << "no order-1/2 config in the sm80 space";
  std::printf("[ configs  ] %d sm80 order-1/2 config runs on %s\n", ran, rt->target().key().c_str());
}

INSTANTIATE_TEST_SUITE_P(Backends, PrefillConfigsTest,
                         ::testing::Values(BackendKind::Cuda, BackendKind::Cpu),
                         testing::backend_param_name);

}  // namespace
}  // namespace attnjit
