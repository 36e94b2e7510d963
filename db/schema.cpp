#include "db/schema.h"

#include <string>

#include "db/config_key_upgrade.h"

namespace attnjit::schema {
namespace {

// Version 1 exactly as it was first released: migrations replay history, never rewrite it.
constexpr const char* kV1 = R"sql(
CREATE TABLE devices (
  id               INTEGER PRIMARY KEY,
  fingerprint      TEXT NOT NULL UNIQUE,
  target           TEXT NOT NULL,
  name             TEXT NOT NULL,
  cc_major         INTEGER NOT NULL,
  cc_minor         INTEGER NOT NULL,
  sm_count         INTEGER NOT NULL,
  memory_bytes     INTEGER NOT NULL,
  driver_version   TEXT NOT NULL,
  compiler_version TEXT NOT NULL,
  first_seen_ms    INTEGER NOT NULL
);
CREATE INDEX devices_by_target ON devices(target);

CREATE TABLE templates (
  id                INTEGER PRIMARY KEY,
  hash              TEXT NOT NULL UNIQUE,
  name              TEXT NOT NULL,
  family            TEXT NOT NULL,
  generator_version TEXT NOT NULL
);

CREATE TABLE problems (
  id           INTEGER PRIMARY KEY,
  key          TEXT NOT NULL UNIQUE,
  family       TEXT NOT NULL,
  dtype        TEXT NOT NULL,
  head_dim     INTEGER NOT NULL,
  mask_kind    TEXT NOT NULL,
  window_left  INTEGER NOT NULL,
  window_right INTEGER NOT NULL,
  group_size   INTEGER NOT NULL,
  seqlen_q     INTEGER NOT NULL,
  seqlen_k     INTEGER NOT NULL,
  page_size    INTEGER NOT NULL,
  even         INTEGER NOT NULL
);
-- The nearest-bucket lookup filters on exactly these columns.
CREATE INDEX problems_by_bucket
  ON problems(family, dtype, head_dim, mask_kind, window_left, window_right, page_size);

CREATE TABLE results (
  id             INTEGER PRIMARY KEY,
  device_id      INTEGER NOT NULL REFERENCES devices(id),
  problem_id     INTEGER NOT NULL REFERENCES problems(id),
  template_id    INTEGER NOT NULL REFERENCES templates(id),
  config         TEXT NOT NULL,
  status         TEXT NOT NULL CHECK (status IN
                   ('ok', 'compile_error', 'launch_error', 'wrong_result', 'timeout')),
  error          TEXT NOT NULL,
  median_ms      REAL NOT NULL,
  min_ms         REAL NOT NULL,
  max_ms         REAL NOT NULL,
  runs           INTEGER NOT NULL,
  tflops         REAL NOT NULL,
  gbps           REAL NOT NULL,
  max_error      REAL NOT NULL,
  measured_at_ms INTEGER NOT NULL,
  tuner_version  TEXT NOT NULL,
  UNIQUE (device_id, problem_id, template_id, config)
);
CREATE INDEX results_by_problem ON results(problem_id);

CREATE TABLE best (
  device_id     INTEGER NOT NULL REFERENCES devices(id),
  problem_id    INTEGER NOT NULL REFERENCES problems(id),
  template_id   INTEGER NOT NULL REFERENCES templates(id),
  result_id     INTEGER NOT NULL REFERENCES results(id),
  updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (device_id, problem_id, template_id)
) WITHOUT ROWID;
CREATE INDEX best_by_problem ON best(problem_id);
)sql";

// Version 2: provenance the tuner learned to report after v1 shipped.
constexpr const char* kV2 = R"sql(
ALTER TABLE devices ADD COLUMN isa TEXT NOT NULL DEFAULT '';
ALTER TABLE results ADD COLUMN tolerance REAL NOT NULL DEFAULT 0;
ALTER TABLE results ADD COLUMN registers INTEGER NOT NULL DEFAULT 0;
ALTER TABLE results ADD COLUMN spill_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE results ADD COLUMN smem_bytes INTEGER NOT NULL DEFAULT 0;
CREATE INDEX results_by_status ON results(status);
)sql";

// Version 3: a result's status is a column of its own for pruned candidates (v2 stored them as
// compile_error with an error text starting "pruned"), its IQR is stored, and tuning jobs live
// here so a restarted server can report a job it cut off. SQLite cannot change a CHECK
// constraint in place: the results table is rebuilt (same row ids, so cursors and best entries
// stay valid). Rows from before v3 carry no IQR; they get min(2 (median - min), max - min),
// exact for a symmetric spread and an upper bound otherwise, so an old result is never taken
// for quieter than it was.
constexpr const char* kV3 = R"sql(
CREATE TABLE results_v3 (
  id             INTEGER PRIMARY KEY,
  device_id      INTEGER NOT NULL REFERENCES devices(id),
  problem_id     INTEGER NOT NULL REFERENCES problems(id),
  template_id    INTEGER NOT NULL REFERENCES templates(id),
  config         TEXT NOT NULL,
  status         TEXT NOT NULL CHECK (status IN
                   ('ok', 'compile_error', 'launch_error', 'wrong_result', 'timeout', 'pruned')),
  error          TEXT NOT NULL,
  median_ms      REAL NOT NULL,
  min_ms         REAL NOT NULL,
  max_ms         REAL NOT NULL,
  runs           INTEGER NOT NULL,
  tflops         REAL NOT NULL,
  gbps           REAL NOT NULL,
  max_error      REAL NOT NULL,
  measured_at_ms INTEGER NOT NULL,
  tuner_version  TEXT NOT NULL,
  tolerance      REAL NOT NULL DEFAULT 0,
  registers      INTEGER NOT NULL DEFAULT 0,
  spill_bytes    INTEGER NOT NULL DEFAULT 0,
  smem_bytes     INTEGER NOT NULL DEFAULT 0,
  iqr_ms         REAL NOT NULL DEFAULT 0,
  UNIQUE (device_id, problem_id, template_id, config)
);
INSERT INTO results_v3 (id, device_id, problem_id, template_id, config, status, error, median_ms,
                        min_ms, max_ms, runs, tflops, gbps, max_error, measured_at_ms,
                        tuner_version, tolerance, registers, spill_bytes, smem_bytes, iqr_ms)
  SELECT id, device_id, problem_id, template_id, config,
         CASE WHEN status = 'compile_error' AND substr(error, 1, 6) = 'pruned' THEN 'pruned'
              ELSE status END,
         error, median_ms, min_ms, max_ms, runs, tflops, gbps, max_error, measured_at_ms,
         tuner_version, tolerance, registers, spill_bytes, smem_bytes,
         CASE WHEN status = 'ok' THEN min(2 * (median_ms - min_ms), max_ms - min_ms) ELSE 0 END
  FROM results;
DROP TABLE results;
ALTER TABLE results_v3 RENAME TO results;
CREATE INDEX results_by_problem ON results(problem_id);
CREATE INDEX results_by_status ON results(status);

CREATE TABLE jobs (
  id             TEXT PRIMARY KEY,
  state          TEXT NOT NULL CHECK (state IN
                   ('queued', 'running', 'succeeded', 'failed', 'interrupted')),
  request        TEXT NOT NULL,
  progress       TEXT NOT NULL,
  error          TEXT NOT NULL,
  exit_code      INTEGER,
  created_at_ms  INTEGER NOT NULL,
  started_at_ms  INTEGER NOT NULL,
  finished_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX jobs_by_state ON jobs(state);
)sql";

// Version 4: config keys name their template (issue #13). SQL alone cannot rewrite a key; the
// pass (db/config_key_upgrade.h) does, with the function that owns the key's grammar.
constexpr const char* kV4 = "-- config keys: C++ pass";
void v4_pass(sqlite::Connection& c) { upgrade_config_keys(c); }

// Version 5: user snippets (codegen/snippet.h), one row per hash of their normalised text.
constexpr const char* kV5 = R"sql(
CREATE TABLE IF NOT EXISTS snippets (
  hash TEXT PRIMARY KEY,
  text TEXT NOT NULL
) WITHOUT ROWID;
)sql";

// One step per version: kSteps[v] upgrades v -> v + 1. A step is SQL and, when SQL alone cannot
// express it (a key rewritten by the function that owns the key's grammar), a C++ pass after it.
// To add v6: write kV6 (and its pass if needed), append it here, bump kVersion, and add a test
// that migrates a hand-written v3 file.
struct Step {
  const char* sql;
  void (*pass)(sqlite::Connection&);  // may be null
};
constexpr Step kSteps[] = {{kV1, nullptr}, {kV2, nullptr}, {kV3, nullptr}, {kV4, v4_pass}, {kV5, nullptr}};
static_assert(std::size(kSteps) == kVersion);

}  // namespace

int inspect(sqlite::Connection& c) {
  int version = 0;
  int64_t tables = 0;
  try {
    // One statement, so one snapshot: a process creating the schema commits its tables and its
    // user_version together, and two separate reads could see the version before that commit
    // and the tables after it (a fresh file then looked foreign to the eighth of eight writers).
    // Reading the schema table also reads page 1: a file whose header is intact but whose first
    // page is not is caught before anything could be written to it.
    sqlite::Cursor cur = c.query(
        "SELECT (SELECT user_version FROM pragma_user_version), "
        "(SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%')",
        "open: read schema version");
    if (!cur.step()) throw DbError("open: read schema version: no row", SQLITE_ERROR);
    version = cur.i32(0);
    tables = cur.i64(1);
  } catch (const DbError& e) {
    if (e.code == SQLITE_NOTADB || e.code == SQLITE_CORRUPT)
      throw DbError("open: '" + c.path() +
                        "' is not an SQLite database or is corrupt; it was left untouched (" +
                        e.what() + ")",
                    e.code);
    throw;
  }
  if (version > kVersion)
    throw DbError("open: '" + c.path() + "' has schema version " + std::to_string(version) +
                  ", newer than this attnjit supports (" + std::to_string(kVersion) +
                  "); it was left untouched — use a newer attnjit");
  if (version < 0)
    throw DbError("open: '" + c.path() + "' has an invalid schema version " +
                  std::to_string(version));
  if (version == 0 && tables > 0)
    throw DbError("open: '" + c.path() +
                  "' is an SQLite database but not an attnjit tuning database (user_version 0 "
                  "with tables present); it was left untouched");
  return version;
}

void migrate(sqlite::Connection& c, int from) {
  for (int v = from; v < kVersion; ++v) {
    const std::string what = "migrate: schema v" + std::to_string(v) + " -> v" + std::to_string(v + 1);
    c.exec(kSteps[v].sql, what);
    if (kSteps[v].pass) kSteps[v].pass(c);
    c.exec("PRAGMA user_version = " + std::to_string(v + 1), "migrate: set user_version");
  }
}

}  // namespace attnjit::schema
