// Opening, migrating, and the device / template / problem tables.
#include "db/database.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <tuple>

#include "codegen/types.h"
#include "db/database_impl.h"
#include "db/schema.h"

namespace attnjit {
namespace {

bool is_memory_path(const std::string& path) {
  return path.empty() || path == ":memory:" || path.find("mode=memory") != std::string::npos;
}

// PRAGMA journal_mode=WAL needs a moment of exclusive access; several processes creating the
// same file at once can see SQLITE_BUSY here even with a busy handler installed.
void enable_wal(sqlite::Connection& c, int retry_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(retry_ms);
  while (true) {
    try {
      std::string mode = c.scalar_text("PRAGMA journal_mode=WAL", "open: enable WAL");
      if (mode != "wal")
        throw DbError("open: '" + c.path() + "' cannot use WAL journaling (got '" + mode +
                      "'); is it on a network file system?");
      return;
    } catch (const DbError& e) {
      if ((e.code != SQLITE_BUSY && e.code != SQLITE_LOCKED) ||
          std::chrono::steady_clock::now() >= deadline)
        throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
}

bool is_uri(const std::string& path) { return path.rfind("file:", 0) == 0; }

// "file:" URI of a plain path, with immutable=1: SQLite then takes no locks and needs no -shm
// file. For a WAL database in a directory this process cannot write (a read-only mount, another
// user's files), that is the only way to read it: a normal read-only open must create the -shm
// file beside it and fails with "readonly database" / "unable to open".
std::string immutable_uri(const std::string& path) {
  static const char* hex = "0123456789ABCDEF";
  std::string uri = "file:";
  for (unsigned char ch : path) {
    if (std::isalnum(ch) || std::strchr("/-._~", ch)) {
      uri += static_cast<char>(ch);
    } else {
      uri += '%';
      uri += hex[ch >> 4];
      uri += hex[ch & 15];
    }
  }
  return uri + "?immutable=1";
}

bool directory_writable(const std::string& path) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  return ::access(dir.c_str(), W_OK) == 0;
}

}  // namespace

std::string default_database_path() {
  const char* e = std::getenv("ATTNJIT_DB");
  return e && *e ? e : "attnjit.db";
}

Database::Database(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Database::Database(Database&&) noexcept = default;
Database& Database::operator=(Database&&) noexcept = default;
Database::~Database() = default;

Database Database::open(const std::string& path, OpenMode mode) {
  Options o;
  o.mode = mode;
  return open(path, o);
}

Database Database::open(const std::string& path, Options o) {
  if (!(o.best_margin >= 0 && o.best_margin < 1))
    throw SpecError("best_margin: must be in [0, 1), got " + std::to_string(o.best_margin));
  if (o.busy_timeout_ms < 0 || o.busy_retry_ms < 0)
    throw SpecError("busy_timeout_ms / busy_retry_ms: must be >= 0");
  const bool ro = o.mode == OpenMode::ReadOnly;
  const bool plain_file = !is_memory_path(path) && !is_uri(path);
  if (ro && plain_file) {
    // Say so plainly: SQLite's own word for a missing file in read-only mode is "unable to open".
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
      throw DbError("open: '" + path + "' " +
                        (errno == ENOENT ? std::string("does not exist")
                                         : std::string("cannot be read: ") + std::strerror(errno)),
                    SQLITE_CANTOPEN);
    if (S_ISDIR(st.st_mode))
      throw DbError("open: '" + path + "' is a directory, not a database file", SQLITE_CANTOPEN);
  }
  int flags = SQLITE_OPEN_URI | (ro ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  auto connect = [&](const std::string& p) {
    auto impl = std::make_unique<Impl>(p, o, flags, path);
    sqlite::Connection& c = impl->conn;
    c.check(sqlite3_busy_timeout(c.handle(), o.busy_timeout_ms), "open: set busy timeout");
    // Nothing is written before the file is known to be an SQLite database of a version we
    // understand: a foreign or newer file must stay byte-for-byte as it was.
    int v = schema::inspect(c);
    return std::pair{std::move(impl), v};
  };
  std::unique_ptr<Impl> impl;
  int v = 0;
  try {
    std::tie(impl, v) = connect(path);
  } catch (const DbError& e) {
    const int code = e.code & 0xff;
    if (!(ro && plain_file && (code == SQLITE_CANTOPEN || code == SQLITE_READONLY) &&
          !directory_writable(path)))
      throw;
    std::tie(impl, v) = connect(immutable_uri(path));
  }
  sqlite::Connection& c = impl->conn;
  if (ro) {
    if (v == 0)
      throw DbError("open: '" + path + "' is empty or not an attnjit tuning database (read-only)",
                    SQLITE_READONLY);
    if (v < schema::kVersion)
      throw DbError("open: '" + path + "' has schema version " + std::to_string(v) +
                        " and needs a migration to " + std::to_string(schema::kVersion) +
                        "; open it read-write once",
                    SQLITE_READONLY);
  } else {
    if (!is_memory_path(path)) enable_wal(c, o.busy_retry_ms);
    // WAL + NORMAL: a committed transaction survives a crash of the process (the OS has it);
    // only a power loss can drop the last transactions, never corrupt the file.
    c.exec("PRAGMA synchronous=NORMAL", "open: set synchronous");
    if (v < schema::kVersion) {
      sqlite::Transaction tx(c, o.busy_retry_ms, "open: migrate");
      int now = schema::inspect(c);  // another process may have migrated while we waited
      schema::migrate(c, now);
      tx.commit();
    }
  }
  c.exec("PRAGMA foreign_keys=ON", "open: enable foreign keys");
  impl->version = schema::kVersion;
  return Database(std::move(impl));
}

const std::string& Database::path() const { return impl_->conn.path(); }
int Database::schema_version() const { return impl_->version; }
int Database::current_schema_version() { return schema::kVersion; }

double Database::best_margin() const {
  std::lock_guard lk(impl_->mu);
  return impl_->options.best_margin;
}

void Database::set_best_margin(double margin) {
  if (!(margin >= 0 && margin < 1))
    throw SpecError("best_margin: must be in [0, 1), got " + std::to_string(margin));
  std::lock_guard lk(impl_->mu);
  impl_->options.best_margin = margin;
}

// ---- ids ----

std::optional<int64_t> Database::Impl::device_id(std::string_view fp) const {
  auto q = c().query("SELECT id FROM devices WHERE fingerprint = ?1", "find device");
  q.bind(1, fp);
  if (!q.step()) return std::nullopt;
  return q.i64(0);
}

std::optional<int64_t> Database::Impl::template_id(std::string_view hash) const {
  auto q = c().query("SELECT id FROM templates WHERE hash = ?1", "find template");
  q.bind(1, hash);
  if (!q.step()) return std::nullopt;
  return q.i64(0);
}

std::optional<int64_t> Database::Impl::problem_id(std::string_view key) const {
  auto q = c().query("SELECT id FROM problems WHERE key = ?1", "find problem");
  q.bind(1, key);
  if (!q.step()) return std::nullopt;
  return q.i64(0);
}

// ---- devices ----

void Database::Impl::upsert_device_locked(const DeviceInfo& d) {
  if (d.target.empty()) throw SpecError("target: a device needs its target key (e.g. sm_90a)");
  // The fingerprint hashes every other column, so an existing row already holds these values.
  auto q = c().query(
      "INSERT INTO devices (fingerprint, target, name, cc_major, cc_minor, sm_count, memory_bytes,"
      " driver_version, compiler_version, isa, first_seen_ms)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
      " ON CONFLICT (fingerprint) DO NOTHING",
      "upsert_device");
  q.bind(1, d.fingerprint()).bind(2, d.target).bind(3, d.name).bind(4, d.cc_major);
  q.bind(5, d.cc_minor).bind(6, d.sm_count).bind(7, d.memory_bytes).bind(8, d.driver_version);
  q.bind(9, d.compiler_version).bind(10, d.isa).bind(11, now_ms());
  q.run();
}

void Database::upsert_device(const DeviceInfo& d) {
  std::lock_guard lk(impl_->mu);
  impl_->require_writable("upsert_device");
  sqlite::Transaction tx(impl_->conn, impl_->options.busy_retry_ms, "upsert_device");
  impl_->upsert_device_locked(d);
  tx.commit();
  impl_->wrote();
}

namespace {
constexpr const char* kDeviceCols =
    "fingerprint, target, name, cc_major, cc_minor, sm_count, memory_bytes, driver_version,"
    " compiler_version, isa";

DeviceInfo read_device(const sqlite::Cursor& q) {
  return {.target = q.text(1), .name = q.text(2), .cc_major = q.i32(3), .cc_minor = q.i32(4), .sm_count = q.i32(5),
          .memory_bytes = q.i64(6), .driver_version = q.text(7), .compiler_version = q.text(8), .isa = q.text(9)};
}
}  // namespace

std::optional<DeviceInfo> Database::Impl::find_device_locked(std::string_view fp) const {
  auto q = c().query(std::string("SELECT ") + kDeviceCols + " FROM devices WHERE fingerprint = ?1",
                     "find_device");
  q.bind(1, fp);
  if (!q.step()) return std::nullopt;
  return read_device(q);
}

std::optional<DeviceInfo> Database::find_device(std::string_view fp) const {
  std::lock_guard lk(impl_->mu);
  return impl_->find_device_locked(fp);
}

std::vector<DeviceInfo> Database::list_devices() const {
  std::lock_guard lk(impl_->mu);
  auto q = impl_->c().query(
      std::string("SELECT ") + kDeviceCols + " FROM devices ORDER BY fingerprint", "list_devices");
  std::vector<DeviceInfo> out;
  while (q.step()) out.push_back(read_device(q));
  return out;
}

std::vector<DeviceInfo> Database::devices_for_target(std::string_view target) const {
  std::lock_guard lk(impl_->mu);
  auto q = impl_->c().query(std::string("SELECT ") + kDeviceCols +
                                " FROM devices WHERE target = ?1 ORDER BY fingerprint",
                            "devices_for_target");
  q.bind(1, target);
  std::vector<DeviceInfo> out;
  while (q.step()) out.push_back(read_device(q));
  return out;
}

// ---- templates ----

void Database::Impl::upsert_template_locked(const TemplateInfo& t) {
  if (t.hash.empty()) throw SpecError("template_hash: must not be empty");
  if (t.name.empty()) throw SpecError("template_name: must not be empty");
  // A row created implicitly by record_result may lack family / generator version: fill them.
  auto q = c().query(
      "INSERT INTO templates (hash, name, family, generator_version) VALUES (?1, ?2, ?3, ?4)"
      " ON CONFLICT (hash) DO UPDATE SET name = excluded.name,"
      "  family = CASE WHEN excluded.family <> '' THEN excluded.family ELSE family END,"
      "  generator_version = CASE WHEN excluded.generator_version <> ''"
      "    THEN excluded.generator_version ELSE generator_version END"
      " WHERE name <> excluded.name OR (excluded.family <> '' AND family <> excluded.family)"
      "  OR (excluded.generator_version <> '' AND generator_version <> excluded.generator_version)",
      "upsert_template");
  q.bind(1, t.hash).bind(2, t.name).bind(3, t.family).bind(4, t.generator_version);
  q.run();
}

void Database::upsert_template(const TemplateInfo& t) {
  std::lock_guard lk(impl_->mu);
  impl_->require_writable("upsert_template");
  sqlite::Transaction tx(impl_->conn, impl_->options.busy_retry_ms, "upsert_template");
  impl_->upsert_template_locked(t);
  tx.commit();
  impl_->wrote();
}

std::optional<TemplateInfo> Database::Impl::find_template_locked(std::string_view hash) const {
  auto q = c().query("SELECT hash, name, family, generator_version FROM templates WHERE hash = ?1",
                     "find_template");
  q.bind(1, hash);
  if (!q.step()) return std::nullopt;
  return TemplateInfo{q.text(0), q.text(1), q.text(2), q.text(3)};
}

std::optional<TemplateInfo> Database::find_template(std::string_view hash) const {
  std::lock_guard lk(impl_->mu);
  return impl_->find_template_locked(hash);
}

std::vector<TemplateInfo> Database::list_templates() const {
  std::lock_guard lk(impl_->mu);
  auto q = impl_->c().query(
      "SELECT hash, name, family, generator_version FROM templates ORDER BY name, hash",
      "list_templates");
  std::vector<TemplateInfo> out;
  while (q.step()) out.push_back({q.text(0), q.text(1), q.text(2), q.text(3)});
  return out;
}

// ---- problems ----

int64_t Database::Impl::upsert_problem_locked(const ProblemSpec& p) {
  p.validate();
  const std::string key = p.key();
  if (auto id = problem_id(key)) return *id;
  auto q = c().query(
      "INSERT INTO problems (key, family, dtype, head_dim, mask_kind, window_left, window_right,"
      " group_size, seqlen_q, seqlen_k, page_size, even)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
      "upsert_problem");
  q.bind(1, key).bind(2, to_string(p.family)).bind(3, to_string(p.dtype)).bind(4, p.head_dim);
  q.bind(5, to_string(p.mask.kind)).bind(6, p.mask.window_left).bind(7, p.mask.window_right);
  q.bind(8, p.group).bind(9, p.seqlen_q).bind(10, p.seqlen_k).bind(11, p.page_size);
  q.bind(12, p.even ? 1 : 0);
  q.run();
  return sqlite3_last_insert_rowid(conn.handle());
}

void Database::upsert_problem(const ProblemSpec& p) {
  std::lock_guard lk(impl_->mu);
  impl_->require_writable("upsert_problem");
  sqlite::Transaction tx(impl_->conn, impl_->options.busy_retry_ms, "upsert_problem");
  impl_->upsert_problem_locked(p);
  tx.commit();
  impl_->wrote();
}

// ---- stats ----

DbStats Database::stats() const {
  std::lock_guard lk(impl_->mu);
  auto& c = impl_->c();
  DbStats s;
  s.schema_version = impl_->version;
  s.path = c.path();
  // One statement, hence one snapshot: the counts agree with each other under concurrent writers.
  auto q = c.query(
      "SELECT (SELECT count(*) FROM devices), (SELECT count(*) FROM templates),"
      " (SELECT count(*) FROM problems), (SELECT count(*) FROM results),"
      " (SELECT count(*) FROM best)",
      "stats");
  if (q.step()) {
    s.devices = q.i64(0);
    s.templates = q.i64(1);
    s.problems = q.i64(2);
    s.results = q.i64(3);
    s.best = q.i64(4);
  }
  auto g = c.query("SELECT status, count(*) FROM results GROUP BY status ORDER BY status",
                   "stats: by status");
  while (g.step()) s.results_by_status[g.text(0)] = g.i64(1);
  return s;
}

}  // namespace attnjit
