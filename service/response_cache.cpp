#include "service/response_cache.h"

#include <sys/stat.h>


namespace attnjit::service {

namespace {

void stat_into(const std::string& path, int64_t& size, int64_t& mtime_ns, uint64_t& ino) {
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0) {
    size = mtime_ns = -1;
    ino = 0;
    return;
  }
  size = st.st_size;
  mtime_ns = int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  ino = st.st_ino;
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
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(stat_mu_);
    if (now - last_stat_at_ >= opt_.stat_interval) {
      stat_into(db_path_, last_stat_.db_size, last_stat_.db_mtime_ns, last_stat_.db_ino);
      stat_into(wal_path_, last_stat_.wal_size, last_stat_.wal_mtime_ns, last_stat_.wal_ino);
      last_stat_at_ = now;
    }
    v = last_stat_;
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
