// The CUDA backend the decode GPU suites share (no disk cache): one per test process, or null
// with the reason when no device is usable; REQUIRE_GPU() skips the test then.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "runtime/backend.h"
#include "runtime/cuda_backend.h"
#include "runtime/cuda_driver.h"

namespace attnjit::testing {

inline Backend* decode_gpu_backend(std::string* why) {
  static std::string reason;
  static std::unique_ptr<Backend> b = []() -> std::unique_ptr<Backend> {
    if (!cuda::cuda_available(&reason)) return nullptr;
    try {
      CudaBackendOptions o;
      o.disk_cache = false;
      return make_cuda_backend(o);
    } catch (const BackendError& e) {
      reason = e.what();
      return nullptr;
    }
  }();
  *why = reason;
  return b.get();
}

}  // namespace attnjit::testing

#define REQUIRE_GPU()                                                       \
  std::string why_;                                                         \
  ::attnjit::Backend* dev = ::attnjit::testing::decode_gpu_backend(&why_); \
  if (!dev) GTEST_SKIP() << "no usable CUDA device: " << why_
