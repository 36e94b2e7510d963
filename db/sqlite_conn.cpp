#include "db/sqlite_conn.h"

#include <chrono>
#include <thread>

namespace attnjit::sqlite {
namespace {

const char* code_name(int rc) {
  switch (rc & 0xff) {
    case SQLITE_ERROR: return "SQLITE_ERROR";
    case SQLITE_INTERNAL: return "SQLITE_INTERNAL";
    case SQLITE_PERM: return "SQLITE_PERM";
    case SQLITE_ABORT: return "SQLITE_ABORT";
    case SQLITE_BUSY: return "SQLITE_BUSY";
    case SQLITE_LOCKED: return "SQLITE_LOCKED";
    case SQLITE_NOMEM: return "SQLITE_NOMEM";
    case SQLITE_READONLY: return "SQLITE_READONLY";
    case SQLITE_INTERRUPT: return "SQLITE_INTERRUPT";
    case SQLITE_IOERR: return "SQLITE_IOERR";
    case SQLITE_CORRUPT: return "SQLITE_CORRUPT";
    case SQLITE_FULL: return "SQLITE_FULL";
    case SQLITE_CANTOPEN: return "SQLITE_CANTOPEN";
    case SQLITE_PROTOCOL: return "SQLITE_PROTOCOL";
    case SQLITE_SCHEMA: return "SQLITE_SCHEMA";
    case SQLITE_TOOBIG: return "SQLITE_TOOBIG";
    case SQLITE_CONSTRAINT: return "SQLITE_CONSTRAINT";
    case SQLITE_MISMATCH: return "SQLITE_MISMATCH";
    case SQLITE_MISUSE: return "SQLITE_MISUSE";
    case SQLITE_RANGE: return "SQLITE_RANGE";
    case SQLITE_NOTADB: return "SQLITE_NOTADB";
    default: return "SQLITE_?";
  }
}

bool is_busy(int rc) { return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED; }

}  // namespace

// ---- Cursor ----

Cursor::~Cursor() {
  // reset() repeats the last step's error code; that error was already reported by step().
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

Cursor& Cursor::bind(int i, int64_t v) {
  conn_.check(sqlite3_bind_int64(stmt_, i, v), op_);
  return *this;
}
Cursor& Cursor::bind(int i, double v) {
  conn_.check(sqlite3_bind_double(stmt_, i, v), op_);
  return *this;
}
Cursor& Cursor::bind(int i, std::string_view v) {
  conn_.check(sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8), op_);
  return *this;
}
Cursor& Cursor::bind_null(int i) {
  conn_.check(sqlite3_bind_null(stmt_, i), op_);
  return *this;
}

bool Cursor::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  conn_.fail(op_, rc);
}

void Cursor::run() {
  if (step()) conn_.fail(op_, SQLITE_MISUSE);  // a write statement must not return rows
}

std::string Cursor::text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  if (!p) return {};
  return std::string(reinterpret_cast<const char*>(p),
                     static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

// ---- Connection ----

Connection::Connection(const std::string& path, int flags, std::string_view op, const std::string& display)
    : path_(display.empty() ? path : display) {
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw DbError(std::string(op) + ": cannot open: " + msg + " (" + code_name(rc) + ", " +
                      std::to_string(rc) + ") [" + path + "]",
                  rc & 0xff);
  }
  rc = sqlite3_extended_result_codes(db_, 1);
  if (rc != SQLITE_OK) {
    sqlite3_close_v2(db_);  // the constructor throws, so the destructor will not close it
    db_ = nullptr;
    throw DbError(std::string(op) + ": enable extended result codes: " + sqlite3_errstr(rc) +
                      " [" + path + "]",
                  rc & 0xff);
  }
}

Connection::~Connection() {
  clear_cache();
  // close_v2 cannot fail with statements outstanding; they were finalized above.
  sqlite3_close_v2(db_);
}

void Connection::clear_cache() {
  // finalize() only repeats the statement's last step error, already reported by Cursor::step.
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  cache_.clear();
}

void Connection::fail(std::string_view op, int rc) const {
  std::string msg = sqlite3_errmsg(db_);
  // errmsg can describe a later call than rc; prefer the code's own text when they disagree.
  if ((sqlite3_errcode(db_) & 0xff) != (rc & 0xff)) msg = sqlite3_errstr(rc);
  throw DbError(std::string(op) + ": " + msg + " (" + code_name(rc) + ", " + std::to_string(rc) +
                    ") [" + path_ + "]",
                rc & 0xff);
}

Cursor Connection::query(std::string_view sql, std::string_view op) {
  auto it = cache_.find(std::string(sql));
  if (it == cache_.end()) {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &s, nullptr);
    if (rc != SQLITE_OK) fail(std::string(op) + ": prepare", rc);
    it = cache_.emplace(std::string(sql), s).first;
  }
  return Cursor(*this, it->second, op);
}

void Connection::exec(const std::string& sql, std::string_view op) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (err) sqlite3_free(err);  // the same text is available from sqlite3_errmsg
  if (rc != SQLITE_OK) fail(op, rc);
}

std::string Connection::scalar_text(const std::string& sql, std::string_view op) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr);
  if (rc != SQLITE_OK) fail(op, rc);
  rc = sqlite3_step(s);
  std::string out;
  if (rc == SQLITE_ROW) {
    if (auto* p = sqlite3_column_text(s, 0)) out = reinterpret_cast<const char*>(p);
  } else if (rc != SQLITE_DONE) {
    sqlite3_finalize(s);
    fail(op, rc);
  }
  sqlite3_finalize(s);
  return out;
}

int64_t Connection::scalar_int(const std::string& sql, std::string_view op) {
  std::string t = scalar_text(sql, op);
  return t.empty() ? 0 : std::stoll(t);
}

// ---- Transaction ----

Transaction::Transaction(Connection& c, int retry_ms, std::string_view op) : conn_(c), op_(op) {
  // The busy handler already waits busy_timeout per attempt; this loop covers the cases where
  // SQLite returns SQLITE_BUSY without calling it (e.g. a WAL restart racing with a checkpoint).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(retry_ms);
  int sleep_us = 200;
  while (true) {
    int rc = sqlite3_exec(conn_.handle(), "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK) break;
    if (!is_busy(rc) || std::chrono::steady_clock::now() >= deadline)
      conn_.fail(op_ + ": BEGIN IMMEDIATE", rc);
    std::this_thread::sleep_for(std::chrono::microseconds(sleep_us));
    sleep_us = std::min(sleep_us * 2, 50000);
  }
  open_ = true;
}

void Transaction::commit() {
  int sleep_us = 200;
  for (int attempt = 0;; ++attempt) {
    int rc = sqlite3_exec(conn_.handle(), "COMMIT", nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK) break;
    // In rollback-journal mode COMMIT can wait for readers to leave; the transaction stays open.
    if (!is_busy(rc) || attempt >= 50) conn_.fail(op_ + ": COMMIT", rc);
    std::this_thread::sleep_for(std::chrono::microseconds(sleep_us));
    sleep_us = std::min(sleep_us * 2, 50000);
  }
  open_ = false;
}

Transaction::~Transaction() {
  // The transaction may already be gone if SQLite rolled it back itself (I/O error, full disk);
  // ROLLBACK then fails harmlessly, and a destructor must not throw.
  if (open_ && !sqlite3_get_autocommit(conn_.handle()))
    sqlite3_exec(conn_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

}  // namespace attnjit::sqlite
