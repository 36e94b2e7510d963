// One JIT-linked CPU kernel: an object file (fresh from the compiler or from the disk cache)
// linked into its own ORC LLJIT instance, so the code lives exactly as long as the kernel.
// Built only with ATTNJIT_WITH_LLVM.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace llvm::orc {
class LLJIT;
}

namespace attnjit {

// The calling convention of every CPU entry point: the launch params struct, and the range of
// work items to process (see codegen/prefill/cpu.cpp for what an item is).
using CpuEntry = void (*)(const void* params, long long item_begin, long long item_end);

class CpuJitModule {
 public:
  // Links `object` and resolves `entry`. Symbols the object imports (memset, memcpy) come from
  // the process. Throws BackendError naming `name` with LLVM's message on failure (including
  // an object file that does not parse).
  CpuJitModule(std::string_view object, const std::string& entry, const std::string& name);
  ~CpuJitModule();
  CpuJitModule(const CpuJitModule&) = delete;
  CpuJitModule& operator=(const CpuJitModule&) = delete;

  CpuEntry entry() const { return entry_; }

 private:
  std::unique_ptr<llvm::orc::LLJIT> jit_;
  CpuEntry entry_ = nullptr;
};

}  // namespace attnjit
