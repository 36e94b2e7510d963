#include "runtime/kernel_cache.h"

#include <mutex>

namespace attnjit {
KernelCache::Kernel KernelCache::get_or_create(const std::string& key, const Factory& make) {
  std::shared_future<Kernel> fut;
  {
    std::shared_lock lock(mu_);
    auto it = map_.find(key);
    if (it != map_.end()) {
      const Entry& e = *it->second;
      if (e.ready.load(std::memory_order_acquire)) {
        hits_.fetch_add(1, std::memory_order_relaxed);
        return e.value;
      }
      fut = e.result;
    }
  }
  if (fut.valid()) {
    waits_.fetch_add(1, std::memory_order_relaxed);
    return fut.get();
  }

  std::promise<Kernel> promise;
  std::shared_ptr<Entry> entry;
  {
    std::unique_lock lock(mu_);
    auto [it, inserted] = map_.try_emplace(key, nullptr);
    if (!inserted) {
      // Another thread got here between our two locks: wait for its result.
      fut = it->second->result;
      lock.unlock();
      waits_.fetch_add(1, std::memory_order_relaxed);
      return fut.get();
    }
    fut = promise.get_future().share();
    entry = std::make_shared<Entry>();
    entry->result = fut;
    it->second = entry;
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  try {
    Kernel k = make();
    if (!k) throw BackendError("kernel cache: factory for " + key + " returned no kernel");
    entry->value = k;
    entry->ready.store(true, std::memory_order_release);
    promise.set_value(std::move(k));
  } catch (...) {
    failures_.fetch_add(1, std::memory_order_relaxed);
    promise.set_exception(std::current_exception());
    std::unique_lock lock(mu_);
    auto it = map_.find(key);
    // Only our own entry: clear() may have dropped it and a new request may have replaced it.
    if (it != map_.end() && it->second == entry) map_.erase(it);
  }
  return fut.get();
}

KernelCache::Kernel KernelCache::find(const std::string& key) const {
  std::shared_lock lock(mu_);
  auto it = map_.find(key);
  if (it == map_.end() || !it->second->ready.load(std::memory_order_acquire)) return nullptr;
  return it->second->value;
}

size_t KernelCache::size() const {
  std::shared_lock lock(mu_);
  return map_.size();
}

void KernelCache::clear() {
  std::unique_lock lock(mu_);
  map_.clear();
}

KernelCache::Stats KernelCache::stats() const {
  Stats s;
  s.hits = hits_.load(std::memory_order_relaxed);
  s.misses = misses_.load(std::memory_order_relaxed);
  s.waits = waits_.load(std::memory_order_relaxed);
  s.failures = failures_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace attnjit
