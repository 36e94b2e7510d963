// The CPU backend (clang JIT, no disk cache) the decode suites share: one per test process.
#pragma once

#ifdef ATTNJIT_WITH_LLVM
#include <memory>

#include "runtime/backend.h"
#include "runtime/cpu/cpu_backend.h"

namespace attnjit::testing {

inline Backend& decode_cpu_backend() {
  static std::unique_ptr<Backend> b = [] {
    CpuBackendOptions o;
    o.use_disk_cache = false;
    return make_cpu_backend(o);
  }();
  return *b;
}

}  // namespace attnjit::testing
#endif
