// Thin RAII layer over the SQLite C API used by the database: a connection with a cache of
// prepared statements, a statement cursor that resets itself, and a BEGIN IMMEDIATE transaction
// that rolls back unless committed. Every sqlite3_* return code is checked; a failure throws
// DbError naming the operation, the SQLite error and the file. Internal to db/.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "db/db_error.h"

namespace attnjit::sqlite {

class Connection;

// A cached prepared statement in use: bind, step, read columns; reset and cleared when the
// cursor goes out of scope so the cached statement is ready for the next caller.
class Cursor {
 public:
  Cursor(Connection& c, sqlite3_stmt* s, std::string_view op) : conn_(c), stmt_(s), op_(op) {}
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  ~Cursor();

  Cursor& bind(int i, int64_t v);
  Cursor& bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
  Cursor& bind(int i, double v);
  Cursor& bind(int i, std::string_view v);  // SQLITE_TRANSIENT: safe for temporaries
  Cursor& bind_null(int i);
  template <class T>
  Cursor& bind(int i, const std::optional<T>& v) {
    return v ? bind(i, *v) : bind_null(i);
  }

  // true: a row is available; false: done. Throws DbError on any other result.
  bool step();
  // Steps once and requires SQLITE_DONE (INSERT/UPDATE/DELETE).
  void run();

  int64_t i64(int col) const { return sqlite3_column_int64(stmt_, col); }
  int i32(int col) const { return sqlite3_column_int(stmt_, col); }
  double f64(int col) const { return sqlite3_column_double(stmt_, col); }
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string text(int col) const;

 private:
  Connection& conn_;
  sqlite3_stmt* stmt_;
  std::string_view op_;
};

class Connection {
 public:
  // Opens with sqlite3_open_v2 (flags are SQLITE_OPEN_*; SQLITE_OPEN_NOMUTEX is added because
  // Database serializes calls itself). Throws DbError naming the file.
  // `display`: the name errors and path() use when `path` is a URI built for the caller's
  // plain path (read-only fallbacks); "" = `path` itself.
  Connection(const std::string& path, int flags, std::string_view op, const std::string& display = "");
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // A cached prepared statement for `sql` (prepared once per connection).
  Cursor query(std::string_view sql, std::string_view op);
  // Runs SQL without a cache (schema changes, pragmas); rows are discarded.
  void exec(const std::string& sql, std::string_view op);
  // Runs a one-value PRAGMA/SELECT and returns the first column of the first row as text.
  std::string scalar_text(const std::string& sql, std::string_view op);
  int64_t scalar_int(const std::string& sql, std::string_view op);

  // Throws DbError "op: <sqlite message> (<code name>, <code>) [<path>]".
  [[noreturn]] void fail(std::string_view op, int rc) const;
  void check(int rc, std::string_view op) const {
    if (rc != SQLITE_OK) fail(op, rc);
  }

  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }
  int64_t changes() const { return sqlite3_changes64(db_); }

  // Drops every cached statement (before close or after a schema change).
  void clear_cache();

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

// BEGIN IMMEDIATE (takes the write lock up front so a transaction never fails half-way with
// SQLITE_BUSY_SNAPSHOT), retried with backoff on SQLITE_BUSY for up to `retry_ms` on top of the
// busy handler's own wait. Rolls back in the destructor unless commit() was called.
class Transaction {
 public:
  Transaction(Connection& c, int retry_ms, std::string_view op);
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();
  void commit();

 private:
  Connection& conn_;
  std::string op_;
  bool open_ = false;
};

}  // namespace attnjit::sqlite
