#include "service/response_cache.h"

#include <sys/stat.h>

#include <mutex>


namespace attnjit::service {

namespace {

uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h * 0xff51afd7ed558ccdull;
}

uint64_t hash_file(uint64_t h, const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return mix(h, 0xdeadull);
  h = mix(h, static_cast<uint64_t>(st.st_size));
  h = mix(h, static_cast<uint64_t>(st.st_mtim.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(st.st_mtim.tv_nsec));
  return mix(h, static_cast<uint64_t>(st.st_ino));
}

}  // namespace

ResponseCache::ResponseCache(std::string db_path, Options options) : opt_(options) {
  if (!db_path.empty() && db_path != ":memory:") {
    db_path_ = db_path;
    wal_path_ = db_path + "-wal";
  }
}

ResponseCache::Version ResponseCache::version() const {
  Version v;
  if (!db_path_.empty()) {
    const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::steady_clock::now().time_since_epoch()).count();
    int64_t at = files_at_ns_.load(std::memory_order_acquire);
    const int64_t interval = std::chrono::duration_cast<std::chrono::nanoseconds>(opt_.stat_interval).count();
    if ((at == INT64_MIN || now - at >= interval) &&
        files_at_ns_.compare_exchange_strong(at, now, std::memory_order_acq_rel)) {
      files_.store(hash_file(hash_file(1, db_path_), wal_path_), std::memory_order_release);
    }  // else: the hash of at most stat_interval ago (a version with files 0 matches nothing stored)
    v.files = files_.load(std::memory_order_acquire);
  }
  v.generation = generation_.load(std::memory_order_acquire);
  return v;
}

std::shared_ptr<const ResponseCache::Entry> ResponseCache::find(const std::string& key, const Version& now) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = slots_.find(key);
  if (it == slots_.end() || !(it->second.version == now) ||
      std::chrono::steady_clock::now() - it->second.stored > opt_.max_age)
    return nullptr;
  return it->second.entry;
}

void ResponseCache::put(const std::string& key, Entry entry, const Version& computed_at) {
  // Computed before a write this process made since: already stale, keep it out.
  if (computed_at.generation != generation_.load(std::memory_order_acquire)) return;
  const size_t cost = key.size() + entry.body.size() + entry.content_type.size();
  if (cost > opt_.max_bytes / 4) return;
  auto e = std::make_shared<const Entry>(std::move(entry));
  std::unique_lock<std::shared_mutex> lock(mu_);
  auto it = slots_.find(key);
  if (it != slots_.end()) {
    bytes_ -= key.size() + it->second.entry->body.size() + it->second.entry->content_type.size();
    slots_.erase(it);
  }
  // Full: start over. Hot keys come back within a request each; cold ones were the excess.
  if (slots_.size() + 1 > opt_.max_entries || bytes_ + cost > opt_.max_bytes) {
    slots_.clear();
    bytes_ = 0;
  }
  slots_.emplace(key, Slot{std::move(e), computed_at, std::chrono::steady_clock::now()});
  bytes_ += cost;
}

void ResponseCache::invalidate() {
  generation_.fetch_add(1, std::memory_order_acq_rel);
  std::unique_lock<std::shared_mutex> lock(mu_);
  slots_.clear();
  bytes_ = 0;
}

size_t ResponseCache::size() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return slots_.size();
}

}  // namespace attnjit::service
