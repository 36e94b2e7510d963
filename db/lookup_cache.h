// A small LRU of lookup answers keyed by (device fingerprint, problem key, template hash).
// Internal to db/. Correctness comes from invalidation, not expiry: the owner clears it when
// this connection writes and when PRAGMA data_version shows another connection committed.
#pragma once

#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>
#include <utility>

#include "db/lookup.h"

namespace attnjit {

class LookupCache {
 public:
  explicit LookupCache(size_t capacity) : capacity_(capacity) {}

  size_t capacity() const { return capacity_; }
  size_t size() const { return index_.size(); }

  static std::string key(std::string_view fp, std::string_view target, std::string_view problem,
                         std::string_view tmpl) {
    std::string k;
    k.reserve(fp.size() + target.size() + problem.size() + tmpl.size() + 3);
    k.append(fp).append(1, '\0').append(target).append(1, '\0').append(problem).append(1, '\0').append(tmpl);
    return k;
  }

  const LookupResult* find(const std::string& k) {
    auto it = index_.find(k);
    if (it == index_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second);  // most recently used first
    return &it->second->second;
  }

  void put(std::string k, const LookupResult& r) {
    if (capacity_ == 0) return;
    if (auto it = index_.find(k); it != index_.end()) {
      it->second->second = r;
      lru_.splice(lru_.begin(), lru_, it->second);
      return;
    }
    if (index_.size() >= capacity_) {
      index_.erase(lru_.back().first);
      lru_.pop_back();
    }
    lru_.emplace_front(std::move(k), r);
    index_.emplace(lru_.front().first, lru_.begin());
  }

  void clear() {
    index_.clear();
    lru_.clear();
  }

 private:
  size_t capacity_;
  std::list<std::pair<std::string, LookupResult>> lru_;
  std::unordered_map<std::string, std::list<std::pair<std::string, LookupResult>>::iterator> index_;
};

}  // namespace attnjit
