#include "db/schema.h"

#include <string>

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

constexpr const char* kSteps[] = {kV1, kV2};  // kSteps[v] upgrades v -> v + 1
static_assert(std::size(kSteps) == kVersion);

}  // namespace

int inspect(sqlite::Connection& c) {
  int version = 0;
  try {
    version = static_cast<int>(c.scalar_int("PRAGMA user_version", "open: read schema version"));
    // Reads page 1 (the schema table): catches a file whose header is intact but whose first
    // page is not, before anything could be written to it.
    c.scalar_int("SELECT count(*) FROM sqlite_master", "open: read schema");
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
  if (version == 0 &&
      c.scalar_int("SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'",
                   "open: inspect tables") > 0)
    throw DbError("open: '" + c.path() +
                  "' is an SQLite database but not an attnjit tuning database (user_version 0 "
                  "with tables present); it was left untouched");
  return version;
}

void migrate(sqlite::Connection& c, int from) {
  for (int v = from; v < kVersion; ++v) {
    c.exec(kSteps[v], "migrate: schema v" + std::to_string(v) + " -> v" + std::to_string(v + 1));
    c.exec("PRAGMA user_version = " + std::to_string(v + 1), "migrate: set user_version");
  }
}

}  // namespace attnjit::schema
