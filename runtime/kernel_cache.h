// KernelCache: the in-memory half of the compiled-kernel cache. Maps a key (KernelSource::hash)
// to a loaded kernel. Thread-safe; when many threads ask for the same missing key at once, one
// runs the factory (compile + load) and the others wait for its result — each kernel is
// compiled once. A factory that throws is not cached: every waiter gets the exception and the
// next request tries again (a transient failure such as a full disk must not stick).
//
// A hit is a shared-lock map lookup plus a shared_ptr copy (tests/runtime/kernel_cache_test
// prints the measured cost; the goal is well under 1 us). Backends own one each (kernels are
// loaded into one device context) and put the disk cache (runtime/disk_cache.h) inside the
// factory.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "runtime/backend.h"

namespace attnjit {

class KernelCache {
 public:
  using Kernel = std::shared_ptr<const CompiledKernel>;
  using Factory = std::function<Kernel()>;

  // The kernel under `key`, created with `make` if absent. `make` runs without any cache lock
  // held, so different keys compile in parallel. Rethrows what `make` threw.
  Kernel get_or_create(const std::string& key, const Factory& make);

  // The kernel under `key` if it is ready, else nullptr (never waits, never compiles).
  Kernel find(const std::string& key) const;

  size_t size() const;
  // Drops every entry; kernels in use stay alive through their shared_ptrs.
  void clear();

  struct Stats {
    uint64_t hits = 0;      // found ready
    uint64_t misses = 0;    // ran the factory
    uint64_t waits = 0;     // found a compile in flight and waited for it
    uint64_t failures = 0;  // factory threw
  };
  Stats stats() const;

 private:
  mutable std::shared_mutex mu_;
  // One entry per key; the shared_ptr's identity tells a failed compile's cleanup whether the
  // entry is still its own.
  struct Entry {
    std::shared_future<Kernel> result;
    // Set once the factory succeeded (release after `value` is written): the hit path reads
    // `value` without touching the future.
    std::atomic<bool> ready{false};
    Kernel value;
  };
  std::unordered_map<std::string, std::shared_ptr<Entry>> map_;
  std::atomic<uint64_t> hits_{0}, misses_{0}, waits_{0}, failures_{0};
};

}  // namespace attnjit
