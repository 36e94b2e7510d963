// Every config of the default search space runs once and is correct — for the most used
// problem (bf16, head dim 128, causal) at a shape that cuts tiles. The whole grid (every dtype,
// head dim, mask, and the even-length kernels) is prefill_configs_sweep_test, behind the
// "sweep" label.
#include <gtest/gtest.h>

#include <cstdio>

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

INSTANTIATE_TEST_SUITE_P(Backends, PrefillConfigsTest,
                         ::testing::Values(BackendKind::Cuda, BackendKind::Cpu),
                         testing::backend_param_name);

}  // namespace
}  // namespace attnjit
