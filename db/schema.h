// The database schema and its migrations. The version lives in PRAGMA user_version (0 = empty
// file). Each migration step runs inside the caller's BEGIN IMMEDIATE transaction, so several
// processes opening an old file at once migrate it exactly once.
//   v1  devices, templates, problems (spec fields as columns), results, best
//   v2  devices.isa (CPU feature string); results.tolerance and resource usage
//       (registers, spill_bytes, smem_bytes); index on results(status)
//   v3  results.status 'pruned' (was compile_error + "pruned..." text), results.iqr_ms; jobs
//   v4  results.config keys name their template ("bm128_bn64_w4_s2" -> "sm80_bm128_bn64_w4_s2")
//   v5  snippets (hash, text): the user score_mod / mask_mod snippets problem keys name
#pragma once

#include "db/sqlite_conn.h"

namespace attnjit::schema {

inline constexpr int kVersion = 5;

// Reads the version and checks the file is an SQLite database without writing anything.
// Throws DbError for a non-SQLite / corrupt file, a version newer than kVersion, and an SQLite
// file with tables but no attnjit schema (user_version 0).
int inspect(sqlite::Connection& c);

// Brings the schema from `from` (as returned by inspect()) to kVersion. Must run inside a
// write transaction.
void migrate(sqlite::Connection& c, int from);

}  // namespace attnjit::schema
