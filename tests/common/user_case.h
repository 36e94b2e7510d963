// The user-variant part of a test case (tests/common/gpu_test_util.h): snippet texts for the
// kernel, independent C++ lambdas computing the same thing for the float64 reference and the
// baseline, the aux tensors (aux[0] int32, aux[1] f32) and the block-mask tile.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace attnjit::testing {

struct UserCase {
  std::string score_mod, mask_mod;  // snippet bodies ("" = none)
  std::function<double(double, int64_t, int64_t, int64_t, int64_t)> score_ref;
  std::function<bool(int64_t, int64_t, int64_t, int64_t)> mask_ref;
  std::vector<int32_t> aux_i32;  // aux<int>(0)
  std::vector<float> aux_f32;    // aux<float>(1)
  int block_sparse = 0;          // > 0: build_block_mask at this tile and run block-sparse
  std::string name;              // for test names / messages
};

}  // namespace attnjit::testing
