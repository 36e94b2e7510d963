// ResponseCache: answers to the hot GETs (/v1/best, /v1/results pages, /v1/devices) kept
// serialised, so a repeated request costs a hash lookup and a copy instead of a query, a JSON
// build and a dump. An entry is served only while the database is unchanged:
//  - this process's writes call invalidate();
//  - other processes (a tuning job's child, `attnjit db import` on the same file) change the
//    database file or its WAL, whose size / mtime / inode are compared on every lookup;
//  - and no entry lives longer than `max_age`, which bounds the one case the file check can
//    miss (two commits of equal WAL size within one file-timestamp tick).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <climits>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>

namespace attnjit::service {

class ResponseCache {
 public:
  struct Options {
    size_t max_entries = 8192;
    size_t max_bytes = 64u << 20;
    std::chrono::milliseconds max_age{1000};
    // The file is looked at no more often than this (two stat calls per request cost more than
    // the rest of a cached answer); changes by other processes show within it.
    std::chrono::microseconds stat_interval{2000};
  };
  struct Entry {
    int status = 200;
    std::string content_type;
    std::string body;
  };
  // The database's state at one moment: capture it before computing an answer.
  struct Version {
    uint64_t generation = 0;
    uint64_t files = 0;  // hash of size, mtime and inode of the database file and its WAL
    bool operator==(const Version&) const = default;
  };

  // `db_path` ":memory:" (or "") has no file to watch: only invalidate() and max_age apply.
  ResponseCache(std::string db_path, Options options);

  Version version() const;
  // The entry for `key` if it was stored at the current version and is young enough.
  std::shared_ptr<const Entry> find(const std::string& key, const Version& now) const;
  void put(const std::string& key, Entry entry, const Version& computed_at);
  void invalidate();
  size_t size() const;

 private:
  struct Slot {
    std::shared_ptr<const Entry> entry;
    Version version;
    std::chrono::steady_clock::time_point stored;
  };
  std::string db_path_, wal_path_;
  Options opt_;
  std::atomic<uint64_t> generation_{0};
  // Lock-free: one thread refreshes the file hash per interval while the others read the last
  // one (a lock here, held across two stat calls, put every request behind a preempted thread).
  mutable std::atomic<uint64_t> files_{0};
  mutable std::atomic<int64_t> files_at_ns_{INT64_MIN};
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, Slot> slots_;
  size_t bytes_ = 0;
};

}  // namespace attnjit::service
