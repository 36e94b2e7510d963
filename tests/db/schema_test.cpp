// Schema creation, the v1 -> v2 migration on a file written by hand, refusing newer files.
#include <sqlite3.h>

#include "db/database.h"
#include "db_test_util.h"

namespace attnjit {
namespace {

using testing::raw_exec;
using testing::raw_scalar;
using testing::ScratchDir;

TEST(Schema, NewFileGetsCurrentVersionInWalMode) {
  ScratchDir dir;
  const std::string path = dir.file("t.db");
  {
    Database db = Database::open(path);
    EXPECT_EQ(db.schema_version(), Database::current_schema_version());
    EXPECT_EQ(Database::current_schema_version(), 5);
  }
  EXPECT_EQ(raw_scalar(path, "PRAGMA user_version"), "5");
  EXPECT_EQ(raw_scalar(path, "PRAGMA journal_mode"), "wal");
  for (const char* table : {"devices", "templates", "problems", "results", "best", "jobs", "snippets"})
    EXPECT_EQ(raw_scalar(path, std::string("SELECT count(*) FROM sqlite_master WHERE name = '") +
                                   table + "'"),
              "1")
        << table;
  // Reopening an up-to-date file changes nothing.
  std::string before = testing::read_bytes(path);
  { Database db = Database::open(path); }
  EXPECT_EQ(testing::read_bytes(path), before);
}

// Version 1 written by hand with raw SQL — deliberately not using the library's DDL, so the
// test catches a migration that silently assumes a different v1.
constexpr const char* kHandWrittenV1 = R"sql(
CREATE TABLE devices (id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL UNIQUE,
  target TEXT NOT NULL, name TEXT NOT NULL, cc_major INTEGER NOT NULL, cc_minor INTEGER NOT NULL,
  sm_count INTEGER NOT NULL, memory_bytes INTEGER NOT NULL, driver_version TEXT NOT NULL,
  compiler_version TEXT NOT NULL, first_seen_ms INTEGER NOT NULL);
CREATE INDEX devices_by_target ON devices(target);
CREATE TABLE templates (id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
  family TEXT NOT NULL, generator_version TEXT NOT NULL);
CREATE TABLE problems (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, family TEXT NOT NULL,
  dtype TEXT NOT NULL, head_dim INTEGER NOT NULL, mask_kind TEXT NOT NULL,
  window_left INTEGER NOT NULL, window_right INTEGER NOT NULL, group_size INTEGER NOT NULL,
  seqlen_q INTEGER NOT NULL, seqlen_k INTEGER NOT NULL, page_size INTEGER NOT NULL,
  even INTEGER NOT NULL);
CREATE INDEX problems_by_bucket
  ON problems(family, dtype, head_dim, mask_kind, window_left, window_right, page_size);
CREATE TABLE results (id INTEGER PRIMARY KEY, device_id INTEGER NOT NULL REFERENCES devices(id),
  problem_id INTEGER NOT NULL REFERENCES problems(id),
  template_id INTEGER NOT NULL REFERENCES templates(id), config TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN
    ('ok', 'compile_error', 'launch_error', 'wrong_result', 'timeout')),
  error TEXT NOT NULL, median_ms REAL NOT NULL, min_ms REAL NOT NULL, max_ms REAL NOT NULL,
  runs INTEGER NOT NULL, tflops REAL NOT NULL, gbps REAL NOT NULL, max_error REAL NOT NULL,
  measured_at_ms INTEGER NOT NULL, tuner_version TEXT NOT NULL,
  UNIQUE (device_id, problem_id, template_id, config));
CREATE INDEX results_by_problem ON results(problem_id);
CREATE TABLE best (device_id INTEGER NOT NULL REFERENCES devices(id),
  problem_id INTEGER NOT NULL REFERENCES problems(id),
  template_id INTEGER NOT NULL REFERENCES templates(id),
  result_id INTEGER NOT NULL REFERENCES results(id), updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (device_id, problem_id, template_id)) WITHOUT ROWID;
CREATE INDEX best_by_problem ON best(problem_id);
PRAGMA user_version = 1;
)sql";

// The rows every hand-written file starts from: one device (`with_isa`: v2's extra column), the
// template and the problem.
std::string device_template_problem_rows(const DeviceInfo& dev, const std::string& problem, bool with_isa) {
  return "INSERT INTO devices VALUES (1, '" + dev.fingerprint() + "', 'sm_90a', 'NVIDIA H100 80GB HBM3', 9, 0, 132, " +
         std::to_string(dev.memory_bytes) + ", '580.65.06', 'nvrtc-13.0', 1" + (with_isa ? ", ''" : "") +
         ");"
         "INSERT INTO templates VALUES (1, '" + testing::kTemplateHash + "', 'prefill_sm80', 'prefill', '0.0.9');"
         "INSERT INTO problems VALUES (1, '" + problem +
         "', 'prefill', 'bf16', 128, 'causal', 0, 0, 4, 4096, 4096, 0, 0);";
}

// Opens a hand-written file (its version checked by the caller), which must migrate all the way.
Database open_migrated(const std::string& path) {
  Database db = Database::open(path);
  EXPECT_EQ(db.schema_version(), 5);
  EXPECT_EQ(raw_scalar(path, "PRAGMA user_version"), "5");
  return db;
}

TEST(Schema, MigratesHandWrittenV1FileAndKeepsItsData) {
  ScratchDir dir;
  const std::string path = dir.file("v1.db");
  DeviceInfo dev = testing::gpu();  // no ISA: a v1 device's fingerprint is unchanged by v2
  const std::string problem = "prefill_bf16_hd128_causal_g4_q4096_k4096";
  raw_exec(path, kHandWrittenV1);
  raw_exec(path, device_template_problem_rows(dev, problem, /*with_isa=*/false) +
                     "INSERT INTO results VALUES (1, 1, 1, 1, 'bm128_bn64_w4_s2', 'ok', '', 0.5, 0.49,"
                     " 0.55, 30, 400.0, 0, 0.001, 1600000000000, '0.0.9');"
                     "INSERT INTO results VALUES (2, 1, 1, 1, 'bm64_bn64_w4_s2', 'timeout', 'slow', 0,"
                     " 0, 0, 0, 0, 0, 0, 1600000000000, '0.0.9');"
                     "INSERT INTO best VALUES (1, 1, 1, 1, 1600000000000);");
  ASSERT_EQ(raw_scalar(path, "PRAGMA user_version"), "1");

  Database db = open_migrated(path);
  // The v2 columns exist with their defaults on old rows.
  EXPECT_EQ(raw_scalar(path, "SELECT registers || '/' || spill_bytes || '/' || smem_bytes || '/' "
                             "|| tolerance FROM results WHERE id = 1"),
            "0/0/0/0.0");
  EXPECT_EQ(raw_scalar(path, "SELECT isa FROM devices WHERE id = 1"), "");

  // Every old row is still there and reachable through the API.
  DbStats s = db.stats();
  EXPECT_EQ(s.devices, 1);
  EXPECT_EQ(s.results, 2);
  EXPECT_EQ(s.best, 1);
  EXPECT_EQ(s.results_by_status["timeout"], 1);
  auto dev_back = db.find_device(dev.fingerprint());
  ASSERT_TRUE(dev_back);
  EXPECT_EQ(*dev_back, dev);
  LookupResult l = db.lookup(dev, ProblemSpec::parse(problem), testing::kTemplateHash);
  EXPECT_EQ(l.reason, LookupReason::Exact);
  ASSERT_TRUE(l.entry);
  EXPECT_EQ(l.entry->config, "sm80_bm128_bn64_w4_s2");  // v4: keys name their template
  EXPECT_DOUBLE_EQ(l.entry->median_ms, 0.5);

  // And the migrated file takes v2 writes.
  TuningResult r = testing::ok_result(dev, problem, "bm128_bn128_w8_s2", 0.3);
  r.registers = 200;
  EXPECT_TRUE(db.record_result(r).became_best);
  auto page = db.query_results({.config = "bm128_bn128_w8_s2"});
  ASSERT_EQ(page.rows.size(), 1u);
  EXPECT_EQ(page.rows[0].registers, 200);
}

// Version 2 as released (v1 above plus the v2 columns), written by hand, with a pruned
// candidate in v2's form: compile_error and an error text starting "pruned".
TEST(Schema, MigratesHandWrittenV2FileToV3) {
  ScratchDir dir;
  const std::string path = dir.file("v2.db");
  DeviceInfo dev = testing::gpu();
  const std::string problem = "prefill_bf16_hd128_causal_g4_q4096_k4096";
  raw_exec(path, kHandWrittenV1);
  raw_exec(path,
           "ALTER TABLE devices ADD COLUMN isa TEXT NOT NULL DEFAULT '';"
           "ALTER TABLE results ADD COLUMN tolerance REAL NOT NULL DEFAULT 0;"
           "ALTER TABLE results ADD COLUMN registers INTEGER NOT NULL DEFAULT 0;"
           "ALTER TABLE results ADD COLUMN spill_bytes INTEGER NOT NULL DEFAULT 0;"
           "ALTER TABLE results ADD COLUMN smem_bytes INTEGER NOT NULL DEFAULT 0;"
           "CREATE INDEX results_by_status ON results(status);"
           "PRAGMA user_version = 2;");
  raw_exec(path, device_template_problem_rows(dev, problem, /*with_isa=*/true) +
                     // ok: median 0.5, min 0.49, max 0.55 -> legacy IQR min(2 * 0.01, 0.06) = 0.02
               "INSERT INTO results VALUES (7, 1, 1, 1, 'bm128_bn64_w4_s2', 'ok', '', 0.5, 0.49,"
               " 0.55, 30, 400.0, 0, 0.001, 1600000000000, '0.0.9', 0.004, 168, 0, 49152);"
               "INSERT INTO results VALUES (8, 1, 1, 1, 'bm256_bn64_w8_s2', 'compile_error',"
               " 'pruned: 96 bytes of spills', 0, 0, 0, 0, 0, 0, 0, 1600000000000, '0.0.9', 0, 255, 96, 0);"
               "INSERT INTO results VALUES (9, 1, 1, 1, 'bm64_bn64_w4_s2', 'compile_error',"
               " 'nvrtc: error: expected a ;', 0, 0, 0, 0, 0, 0, 0, 1600000000000, '0.0.9', 0, 0, 0, 0);"
               "INSERT INTO best VALUES (1, 1, 1, 7, 1600000000000);");
  ASSERT_EQ(raw_scalar(path, "PRAGMA user_version"), "2");

  Database db = open_migrated(path);
  // The pruned candidate has a status of its own; a real compile error stays one.
  EXPECT_EQ(raw_scalar(path, "SELECT status FROM results WHERE id = 8"), "pruned");
  EXPECT_EQ(raw_scalar(path, "SELECT status FROM results WHERE id = 9"), "compile_error");
  DbStats s = db.stats();
  EXPECT_EQ(s.results, 3);
  EXPECT_EQ(s.results_by_status["pruned"], 1);
  EXPECT_EQ(s.results_by_status["compile_error"], 1);
  auto pruned = db.query_results({.status = ResultStatus::Pruned});
  ASSERT_EQ(pruned.rows.size(), 1u);
  EXPECT_EQ(pruned.rows[0].config, "sm80_bm256_bn64_w8_s2");
  EXPECT_EQ(pruned.rows[0].spill_bytes, 96);
  // Row ids survive the table rebuild: the best entry still points at its result.
  auto ok = db.query_results({.status = ResultStatus::Ok});
  ASSERT_EQ(ok.rows.size(), 1u);
  EXPECT_EQ(ok.rows[0].id, 7);
  EXPECT_NEAR(ok.rows[0].iqr_ms, 0.02, 1e-12);  // the legacy estimate, stored once
  EXPECT_DOUBLE_EQ(ok.rows[0].tolerance, 0.004);
  LookupResult l = db.lookup(dev, ProblemSpec::parse(problem), testing::kTemplateHash);
  ASSERT_TRUE(l.entry);
  EXPECT_EQ(l.entry->result_id, 7);
  EXPECT_EQ(raw_scalar(path, "PRAGMA foreign_key_check"), "");
  EXPECT_EQ(raw_scalar(path, "PRAGMA integrity_check"), "ok");

  // v3 writes: a pruned status and a measured IQR go in and come back as they were.
  TuningResult r = testing::ok_result(dev, problem, "bm128_bn128_w8_s2", 0.3);
  r.iqr_ms = 0.005;
  db.record_result(r);
  TuningResult p = testing::failed_result(dev, problem, "bm256_bn128_w8_s2", ResultStatus::Pruned);
  db.record_result(p);
  auto back = db.query_results({.config = "bm128_bn128_w8_s2"});
  ASSERT_EQ(back.rows.size(), 1u);
  EXPECT_DOUBLE_EQ(back.rows[0].iqr_ms, 0.005);
  EXPECT_EQ(db.query_results({.status = ResultStatus::Pruned}).rows.size(), 2u);
  // The jobs table came with v3.
  EXPECT_EQ(raw_scalar(path, "SELECT count(*) FROM sqlite_master WHERE name = 'jobs'"), "1");
}

TEST(Schema, NewerFileIsRefusedAndLeftByteForByteUntouched) {
  ScratchDir dir;
  const std::string path = dir.file("future.db");
  raw_exec(path, "CREATE TABLE devices (id INTEGER PRIMARY KEY, whatever TEXT);"
                 "INSERT INTO devices VALUES (1, 'from the future');"
                 "PRAGMA user_version = 99;");
  const std::string before = testing::read_bytes(path);
  ASSERT_FALSE(before.empty());
  for (OpenMode mode : {OpenMode::ReadWrite, OpenMode::ReadOnly}) {
    try {
      Database::open(path, mode);
      FAIL() << "a schema newer than this binary must be refused";
    } catch (const DbError& e) {
      EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("99"), std::string::npos) << e.what();
    }
    EXPECT_EQ(testing::read_bytes(path), before);
  }
  EXPECT_FALSE(std::filesystem::exists(path + "-wal"));
}

TEST(Schema, ForeignSqliteDatabaseIsRefused) {
  ScratchDir dir;
  const std::string path = dir.file("other.db");
  raw_exec(path, "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);");
  const std::string before = testing::read_bytes(path);
  try {
    Database::open(path);
    FAIL() << "a database without an attnjit schema must be refused";
  } catch (const DbError& e) {
    EXPECT_NE(std::string(e.what()).find("not an attnjit"), std::string::npos) << e.what();
  }
  EXPECT_EQ(testing::read_bytes(path), before);
}

}  // namespace
}  // namespace attnjit
