#include "service/cubin_cache.h"

#include <algorithm>

#include "runtime/nvrtc_compiler.h"

namespace attnjit::service {

CubinCache::CubinCache(CompileFn compile, size_t max_entries)
    : compile_(std::move(compile)), max_entries_(std::max<size_t>(1, max_entries)) {}

size_t CubinCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

std::shared_ptr<const CompiledCubin> CubinCache::get(const KernelSource& src, bool* hit, const Admit& admit) {
  std::promise<std::shared_ptr<const CompiledCubin>> promise;
  Future fut;
  bool owner = false;
  uint64_t gen = 0;
  std::shared_ptr<void> slot;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(src.hash);
    if (it != entries_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.pos);
      fut = it->second.value;
    } else {
      if (admit) slot = admit();  // may throw: nothing inserted yet
      owner = true;
      fut = promise.get_future().share();
      gen = ++generation_;
      lru_.push_front(src.hash);
      entries_.emplace(src.hash, Entry{fut, lru_.begin(), gen});
      while (entries_.size() > max_entries_) {
        entries_.erase(lru_.back());
        lru_.pop_back();
      }
    }
  }
  if (hit) *hit = !owner;
  if (owner) {
    // Compile outside the lock; waiters on the same hash block on the future meanwhile.
    try {
      promise.set_value(std::make_shared<const CompiledCubin>(compile_(src)));
    } catch (...) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = entries_.find(src.hash);
        // Only our own entry: it may have been evicted and replaced meanwhile.
        if (it != entries_.end() && it->second.generation == gen) {
          lru_.erase(it->second.pos);
          entries_.erase(it);
        }
      }
      promise.set_exception(std::current_exception());
    }
    slot.reset();
  }
  return fut.get();
}

CompiledCubin CubinCache::compile_with_nvrtc(const KernelSource& src) {
  Nvrtc& nvrtc = Nvrtc::get();  // throws BackendError naming every path tried
  NvrtcResult r = nvrtc.compile(src, /*want_cubin=*/true, /*want_ptx=*/false);
  CompiledCubin c;
  c.cubin = std::move(r.cubin);
  c.lowered_name = std::move(r.lowered_name);
  c.resources = r.resources;
  c.compile_ms = r.compile_ms;
  c.compiler = "nvrtc-" + nvrtc.version();
  return c;
}

}  // namespace attnjit::service
