// DbError: every failure of the tuning database. The message names the operation, the SQLite
// error (code and text) and the database file, e.g.
//   "record_result: step INSERT INTO results ...: database is locked (SQLITE_BUSY, 5) [tune.db]"
#pragma once

#include <stdexcept>
#include <string>

namespace attnjit {

struct DbError : std::runtime_error {
  DbError(std::string message, int sqlite_code = 0)
      : std::runtime_error(std::move(message)), code(sqlite_code) {}
  // The primary SQLite result code (SQLITE_BUSY, SQLITE_NOTADB, ...), 0 when the error did not
  // come from SQLite (bad input, schema newer than this binary, malformed import line).
  int code = 0;
};

}  // namespace attnjit
