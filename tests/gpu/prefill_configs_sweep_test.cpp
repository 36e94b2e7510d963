// The whole default grid: every config of every (dtype, head dim, mask) search space, each at an
// uneven and an even shape. Hundreds of compiles: run with `ctest -L sweep`.
#include <gtest/gtest.h>

#include <cstdio>

#include "common/gpu_test_util.h"

namespace attnjit {
namespace {

class PrefillConfigsSweepTest : public ::testing::TestWithParam<BackendKind> {};

TEST_P(PrefillConfigsSweepTest, EveryConfigOfEveryProblemIsCorrect) {
  std::string why;
  auto rt = testing::try_runtime(GetParam(), &why);
  if (!rt) GTEST_SKIP() << to_string(GetParam()) << " backend unavailable: " << why;
  int ran = 0;
  uint64_t seed = 1;
  for (DType dt : {DType::BF16, DType::F16, DType::F32})
    for (int d : kHeadDims)
      for (MaskSpec m : {MaskSpec{}, MaskSpec{MaskKind::Causal, 0, 0},
                         MaskSpec{MaskKind::SlidingWindow, 128, 0}})
        for (auto [sq, sk] : {std::pair<int64_t, int64_t>{200, 333}, {256, 384}}) {
          ran += testing::run_every_config(*rt, {.dtype = dt, .head_dim = d, .mask = m, .heads_q = 2, .heads_kv = 1,
                                                 .seqlen_q = sq, .seqlen_k = sk, .seed = seed++});
        }
  if (ran == 0) GTEST_SKIP() << "no supported dtype on " << rt->target().key();
  std::printf("[ configs  ] %d config runs on %s\n", ran, rt->target().key().c_str());
}

INSTANTIATE_TEST_SUITE_P(Backends, PrefillConfigsSweepTest,
                         ::testing::Values(BackendKind::Cuda, BackendKind::Cpu),
                         testing::backend_param_name);

}  // namespace
}  // namespace attnjit
