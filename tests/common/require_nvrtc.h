// Skips the calling test where NVRTC cannot be loaded (no CUDA toolkit on the machine): the
// compile tests need no GPU, only the library.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "runtime/nvrtc_compiler.h"

#define REQUIRE_NVRTC()                                                                  \
  do {                                                                                   \
    std::string nvrtc_why_;                                                              \
    if (!::attnjit::Nvrtc::available(&nvrtc_why_)) GTEST_SKIP() << "NVRTC unavailable: " << nvrtc_why_; \
  } while (0)
