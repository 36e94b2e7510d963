// CubinCache: CUBINs compiled server-side with NVRTC, keyed by the KernelSource content hash
// (which covers the text, headers, options and arch), so a node without NVRTC can fetch a
// ready binary. Concurrent requests for the same kernel compile it once; the cache is bounded
// (least recently used entries go first).
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "codegen/kernel_source.h"
#include "runtime/backend.h"

namespace attnjit::service {

struct CompiledCubin {
  std::string cubin;          // raw bytes
  std::string lowered_name;   // the mangled entry symbol to look up in the module
  ResourceUsage resources;
  double compile_ms = 0;
  std::string compiler;       // "nvrtc-13.0"
};

class CubinCache {
 public:
  // `compile` does the work (NVRTC in production, a fake in tests); it may throw.
  using CompileFn = std::function<CompiledCubin(const KernelSource&)>;
  CubinCache(CompileFn compile, size_t max_entries = 256);

  // Called when this call would start a compile (a miss nobody is compiling yet): returns what
  // to hold while compiling, or throws to refuse (nothing is cached then).
  using Admit = std::function<std::shared_ptr<void>()>;

  // The cubin for `src`; `hit` says whether it came from the cache. A failed compile is not
  // cached (the next request retries) and its exception propagates to every waiter.
  std::shared_ptr<const CompiledCubin> get(const KernelSource& src, bool* hit = nullptr,
                                           const Admit& admit = {});
  size_t size() const;

  // The production compile function: attnjit::Nvrtc.
  static CompiledCubin compile_with_nvrtc(const KernelSource& src);

 private:
  using Future = std::shared_future<std::shared_ptr<const CompiledCubin>>;
  CompileFn compile_;
  size_t max_entries_;
  mutable std::mutex mu_;
  std::list<std::string> lru_;   // front = most recent
  struct Entry {
    Future value;
    std::list<std::string>::iterator pos;
    uint64_t generation;
  };
  uint64_t generation_ = 0;
  std::map<std::string, Entry> entries_;
};

}  // namespace attnjit::service
