// Bounded LRU of encoded tensor maps: see sm90_tensor_map_cache.h.
#include "codegen/prefill/sm90_tensor_map_cache.h"

#include "attnjit/types.h"

namespace attnjit {

TensorMapCache::TensorMapCache(size_t capacity) : capacity_(capacity) {
  if (capacity == 0) throw SpecError("tensor map cache: capacity must be >= 1");
}

size_t TensorMapCache::Hash::operator()(const TensorMapKey& k) const {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the words, then a final mix
  for (uint64_t w : k) h = (h ^ w) * 1099511628211ull;
  return static_cast<size_t>(h ^ (h >> 29));
}

bool TensorMapCache::find(const TensorMapKey& key, TensorMapBytes& out) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = index_.find(key);
  if (it == index_.end()) {
    ++misses_;
    return false;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  out = it->second->second;
  ++hits_;
  return true;
}

void TensorMapCache::insert(const TensorMapKey& key, const TensorMapBytes& map) {
  std::lock_guard<std::mutex> lock(mu_);
  if (const auto it = index_.find(key); it != index_.end()) {
    it->second->second = map;
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.emplace_front(key, map);
  index_[key] = lru_.begin();
  while (lru_.size() > capacity_) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

size_t TensorMapCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lru_.size();
}
size_t TensorMapCache::capacity() const {
  std::lock_guard<std::mutex> lock(mu_);
  return capacity_;
}
void TensorMapCache::reset(size_t capacity) {
  if (capacity == 0) throw SpecError("tensor map cache: capacity must be >= 1");
  std::lock_guard<std::mutex> lock(mu_);
  lru_.clear();
  index_.clear();
  capacity_ = capacity;
  hits_ = misses_ = 0;
}
uint64_t TensorMapCache::hits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return hits_;
}
uint64_t TensorMapCache::misses() const {
  std::lock_guard<std::mutex> lock(mu_);
  return misses_;
}

TensorMapCache& tensor_map_cache() {
  static TensorMapCache cache(1024);
  return cache;
}

}  // namespace attnjit
