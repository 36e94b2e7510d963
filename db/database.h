// Database: the SQLite tuning database — devices, kernel templates, problems, every measured
// candidate (results) and the chosen best config per (device, problem, template).
//
// Reliability: WAL journal, a busy timeout plus a retry loop on SQLITE_BUSY for BEGIN IMMEDIATE,
// one transaction per write call (rolled back unless committed), prepared statements only
// (cached per connection), every sqlite3_* return code checked -> DbError naming the operation,
// the SQLite error and the file. The schema is versioned (PRAGMA user_version) and migrated on
// open; a file written by a newer attnjit is refused and left untouched, and so is a file that is
// not an SQLite database.
//
// Thread safety: one Database is one SQLite connection; its calls are serialized by an internal
// mutex. For parallel readers open one Database per thread (WAL lets readers run beside a writer).
// Several processes may write the same file at once.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "codegen/problem_spec.h"
#include "codegen/types.h"
#include "db/db_error.h"
#include "db/device_info.h"
#include "db/job_record.h"
#include "db/lookup.h"
#include "db/tuning_result.h"

namespace attnjit {

enum class OpenMode { ReadWrite, ReadOnly };

// $ATTNJIT_DB when set and not empty, else "attnjit.db" (in the current directory).
std::string default_database_path();

// Filters for query_results / export; unset fields match everything.
struct ResultFilter {
  std::optional<std::string> device;         // fingerprint
  std::optional<std::string> target;         // device target key, e.g. "sm_90a"
  std::optional<std::string> problem;        // exact ProblemSpec::key()
  std::optional<std::string> template_hash;
  std::optional<std::string> template_name;
  std::optional<std::string> config;         // TileConfig::key()
  std::optional<ResultStatus> status;
  std::optional<Family> family;
  std::optional<DType> dtype;
  std::optional<int> head_dim;
  std::optional<MaskKind> mask;
  std::optional<int64_t> seqlen_q;           // bucket
  std::optional<int64_t> seqlen_k;           // bucket
};

// One page of results, ordered by row id. Pass next_cursor as `after` for the next page;
// nullopt when this was the last page. Rows updated in place keep their id, so paging is stable.
struct ResultPage {
  std::vector<TuningResult> rows;
  std::optional<int64_t> next_cursor;
};

struct DbStats {
  int schema_version = 0;
  int64_t devices = 0, templates = 0, problems = 0, results = 0, best = 0;
  std::map<std::string, int64_t> results_by_status;  // "ok" -> n, ...
  std::string path;
};

// Outcome of recording one result.
struct RecordOutcome {
  bool stored = false;       // false: an existing row for the same key was newer and was kept
  bool became_best = false;  // the best entry for (device, problem, template) now points at it
};

struct ImportStats {
  int64_t lines = 0;          // non-empty lines read
  int64_t stored = 0;         // result rows inserted or replaced by a newer measurement
  int64_t kept_existing = 0;  // lines whose key already held a newer (or equal) measurement
};

class Database {
 public:
  struct Options {
    OpenMode mode = OpenMode::ReadWrite;
    int busy_timeout_ms = 10000;  // SQLite busy handler wait per statement
    int busy_retry_ms = 30000;    // total time the BEGIN IMMEDIATE retry loop keeps trying
    // Best-config policy: a challenger replaces the incumbent only when its median time is
    // lower by more than this fraction (0.02 = 2%), so measurement noise does not flip picks.
    double best_margin = 0.02;
    // Lookup answers kept in memory (LRU). Cleared whenever this connection writes and whenever
    // another connection or process commits (PRAGMA data_version), so a cached answer is never
    // staler than the database. 0 disables the cache.
    size_t lookup_cache_entries = 4096;
  };

  // Opens (creating it when read-write) and migrates. ":memory:" is a private in-memory
  // database. Throws DbError: not an SQLite file, schema newer than this binary, missing file
  // in read-only mode, a read-only file that needs a migration, any SQLite failure.
  static Database open(const std::string& path, Options options);
  static Database open(const std::string& path, OpenMode mode = OpenMode::ReadWrite);

  Database(Database&&) noexcept;
  Database& operator=(Database&&) noexcept;
  ~Database();

  const std::string& path() const;
  int schema_version() const;             // of the open file (always current after open)
  static int current_schema_version();    // the version this binary writes
  double best_margin() const;
  void set_best_margin(double margin);    // 0 <= margin < 1, else SpecError

  // ---- writes (each one transaction) ----
  void upsert_device(const DeviceInfo& d);
  void upsert_template(const TemplateInfo& t);
  // Parses and validates the key (SpecError if malformed) and stores its fields as columns.
  void upsert_problem(const ProblemSpec& p);

  // Stores one measurement (problem and template rows are created when missing; the device must
  // have been upserted: DbError otherwise) and re-picks the best entry for its
  // (device, problem, template): the fastest Ok result, with the margin policy above.
  // Same key again: the newer measurement (measured_at_ms) replaces the older one.
  RecordOutcome record_result(const TuningResult& r);
  // The same for many results in ONE transaction (all or nothing).
  std::vector<RecordOutcome> record_results(std::span<const TuningResult> rs);
  // Forces the best entry to an existing Ok result; DbError if there is none for that key.
  void set_best(std::string_view device, std::string_view problem, std::string_view template_hash,
                std::string_view config);

  // ---- reads ----
  std::optional<DeviceInfo> find_device(std::string_view fingerprint) const;
  std::vector<DeviceInfo> list_devices() const;                // ordered by fingerprint
  std::vector<DeviceInfo> devices_for_target(std::string_view target) const;
  std::optional<TemplateInfo> find_template(std::string_view hash) const;
  std::vector<TemplateInfo> list_templates() const;
  std::optional<BestEntry> best(std::string_view device, std::string_view problem,
                                std::string_view template_hash) const;
  // Every best entry matching the filter's device/target/problem/template/family/dtype/... fields
  // (status/config are ignored), ordered by (device, problem, template hash).
  std::vector<BestEntry> list_best(const ResultFilter& f = {}) const;
  // Results with id > after, at most `limit` (1..10000, else SpecError).
  ResultPage query_results(const ResultFilter& f = {}, int64_t after = 0, int limit = 100) const;
  DbStats stats() const;

  // See db/lookup.h for the order and tie-breaking. template_hash "" = any template version.
  LookupResult lookup(const DeviceInfo& device, const ProblemSpec& problem,
                      std::string_view template_hash) const;
  // By fingerprint or target key (CLI, service): a known fingerprint behaves like lookup()
  // with that device; a target key ("sm_90a") behaves like an unknown device of that arch.
  LookupResult lookup(std::string_view device_or_target, const ProblemSpec& problem,
                      std::string_view template_hash) const;

  // ---- tuning jobs (schema v3) ----
  // Inserts or replaces the job with this id. SpecError for an empty id or an unknown state.
  void save_job(const JobRecord& job);
  std::optional<JobRecord> find_job(std::string_view id) const;
  // Marks every queued or running job interrupted with `reason` (a server starting: whatever
  // ran them is gone). Returns how many.
  int64_t interrupt_unfinished_jobs(std::string_view reason);
  // Deletes the oldest finished jobs beyond `keep` (by finish time). Returns how many.
  int64_t prune_finished_jobs(int64_t keep);

  // ---- JSON Lines (one object per result row, with its device and template) ----
  // Writes every matching result; returns the number of lines.
  int64_t export_jsonl(std::ostream& out, const ResultFilter& f = {}) const;

  // User snippets (db/snippets.cpp): the text of every _sm<hash> / _mm<hash> of a problem key.
  // put_snippet normalises and stores `text` and returns its hash; get_snippet also puts the
  // text into the process's snippet store, so codegen can render the problem.
  std::string put_snippet(std::string_view text);
  std::optional<std::string> get_snippet(std::string_view hash) const;
  // Reads all lines in ONE transaction: a malformed line throws DbError naming `source` and the
  // line number and nothing is imported. Re-importing a file changes nothing; best entries are
  // re-picked with margin 0 (the faster verified result wins, whichever file it came from).
  ImportStats import_jsonl(std::istream& in, std::string_view source = "<stream>");

  struct Impl;

 private:
  explicit Database(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace attnjit
