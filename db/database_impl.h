// Database::Impl — shared by the database_*.cpp / lookup.cpp / import_export.cpp sources.
// Internal to db/. Methods named *_locked expect the caller to hold `mu` (and, for writes, an
// open Transaction).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "db/database.h"
#include "db/lookup_cache.h"
#include "db/sqlite_conn.h"

namespace attnjit {

struct Database::Impl {
  Impl(const std::string& path, const Options& o, int flags, const std::string& display = "")
      : options(o), conn(path, flags, "open", display), cache(o.lookup_cache_entries) {}

  Options options;
  sqlite::Connection conn;
  int version = 0;
  mutable std::mutex mu;
  // Lookup answers; see Options::lookup_cache_entries. cache_data_version is the last
  // PRAGMA data_version seen (changes when another connection commits).
  mutable LookupCache cache;
  mutable int64_t cache_data_version = -1;

  // Every write path calls this after its commit: our own commits do not change data_version.
  void wrote() { cache.clear(); }
  // Drops the cache if another connection committed since the last check.
  void revalidate_cache() const;

  // Connection is logically const for reads: the statement cache is an implementation detail.
  sqlite::Connection& c() const { return const_cast<sqlite::Connection&>(conn); }

  void require_writable(std::string_view op) const {
    if (options.mode == OpenMode::ReadOnly)
      throw DbError(std::string(op) + ": database '" + conn.path() + "' is open read-only",
                    SQLITE_READONLY);
  }

  // Row ids; nullopt when absent.
  std::optional<int64_t> device_id(std::string_view fingerprint) const;
  std::optional<int64_t> template_id(std::string_view hash) const;
  std::optional<int64_t> problem_id(std::string_view key) const;

  void upsert_device_locked(const DeviceInfo& d);
  void upsert_template_locked(const TemplateInfo& t);
  int64_t upsert_problem_locked(const ProblemSpec& p);
  std::optional<DeviceInfo> find_device_locked(std::string_view fingerprint) const;
  std::optional<TemplateInfo> find_template_locked(std::string_view hash) const;
  RecordOutcome record_locked(const TuningResult& r, double margin);
  // Re-picks the best entry of (device, problem, template); returns its result id (0 if none).
  int64_t repick_best_locked(int64_t dev, int64_t prob, int64_t tmpl, double margin);
  int64_t change_jobs_locked(const std::string& sql, std::string_view op,
                             const std::function<void(sqlite::Cursor&)>& bind);
  ResultPage query_locked(const ResultFilter& f, int64_t after, int limit) const;
  // db/snippets.cpp: the (hash, text) of each snippet a problem key names (throws DbError for
  // one missing from the table); storing one checks that `text` hashes to `hash`.
  std::vector<std::pair<std::string, std::string>> snippets_of_locked(const std::string& problem_key) const;
  void store_snippet_locked(const std::string& hash, const std::string& text);
  LookupResult lookup_locked(const std::string& fingerprint, const DeviceInfo& device,
                             const ProblemSpec& problem, std::string_view template_hash) const;
  // lookup_locked through the cache. `fingerprint` is "" for a device unknown to the database.
  LookupResult cached_lookup_locked(const std::string& fingerprint, const DeviceInfo& device,
                                    const ProblemSpec& problem,
                                    std::string_view template_hash) const;
};

// Columns read by read_best(); callers append " AND ..." conditions.
inline constexpr const char* kBestSelect =
    "SELECT d.fingerprint, d.target, p.key, t.name, t.hash, r.config, r.median_ms, r.tflops,"
    " r.gbps, r.id, b.updated_at_ms FROM best b"
    " JOIN devices d ON d.id = b.device_id JOIN problems p ON p.id = b.problem_id"
    " JOIN templates t ON t.id = b.template_id JOIN results r ON r.id = b.result_id"
    " WHERE r.status = 'ok'";

inline BestEntry read_best(const sqlite::Cursor& q) {
  return {.device = q.text(0), .target = q.text(1), .problem = q.text(2), .template_name = q.text(3),
          .template_hash = q.text(4), .config = q.text(5), .median_ms = q.f64(6), .tflops = q.f64(7),
          .gbps = q.f64(8), .result_id = q.i64(9), .updated_at_ms = q.i64(10)};
}

inline int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace attnjit
