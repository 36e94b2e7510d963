// db/config_key_upgrade: old config keys (before keys named their template) get the canonical key
// of their device's platform — in a database opened at schema v3 (the v4 migration) and in an old
// export being imported — and a config stored under both spellings ends up as one row.
#include <sstream>

#include "db/config_key_upgrade.h"
#include "db/database.h"
#include "db_test_util.h"

namespace attnjit {
namespace {

using testing::raw_exec;
using testing::raw_scalar;
using testing::ScratchDir;

const char* kProblem = "prefill_bf16_hd128_causal_g4_q4096_k4096";

DeviceInfo cpu_device() {
  DeviceInfo d = testing::gpu("AMD EPYC 7B13", "cpu-znver3", 2, "");
  d.cc_major = d.cc_minor = 0;
  d.isa = "+avx2,+fma";
  return d;
}

TEST(ConfigKeyUpgrade, OldKeysGetTheirPlatformsTemplate) {
  EXPECT_EQ(upgrade_config_key("bm128_bn64_w4_s2", "sm_80"), "sm80_bm128_bn64_w4_s2");
  EXPECT_EQ(upgrade_config_key("bm64_bn64_w4_s2_sp8", "sm_90a"), "sm80_bm64_bn64_w4_s2_sp8");
  EXPECT_EQ(upgrade_config_key("bm32_bn64_w1_s1_v16_t2", "cpu-znver3"), "cpu_bm32_bn64_w1_s1_v16_t2");
  // Named keys are already canonical, whatever the device.
  EXPECT_EQ(upgrade_config_key("sm90_bm128_bn128_w4_s2_wg2", "sm_90a"), "sm90_bm128_bn128_w4_s2_wg2");
  EXPECT_EQ(upgrade_config_key("cpu_bm32_bn64_w1_s1", "cpu-znver3"), "cpu_bm32_bn64_w1_s1");
  // Malformed: the grammar's own error, naming the field.
  EXPECT_THROW(upgrade_config_key("bm128_bnX", "sm_80"), SpecError);
  EXPECT_THROW(upgrade_config_key("bm128_bn64_w4_s2_sp0", "sm_80"), SpecError);
}

// A database as schema v3 left it: old keys on a GPU and a CPU device, one config stored under
// both spellings (the old one newer and best), and a key that was already named.
TEST(ConfigKeyUpgrade, MigrationFromV3RewritesStoredKeysAndMergesDuplicates) {
  ScratchDir dir;
  const std::string path = dir.file("v3.db");
  const DeviceInfo gpu = testing::gpu(), cpu = cpu_device();
  {
    Database db = Database::open(path);
    db.upsert_device(gpu);
    db.upsert_device(cpu);
    db.record_result(testing::ok_result(gpu, kProblem, "bm128_bn64_w4_s2", 0.5, 1'700'000'000'200));
    db.record_result(testing::ok_result(gpu, kProblem, "sm80_bm128_bn64_w4_s2", 0.7, 1'700'000'000'100));
    db.record_result(testing::failed_result(gpu, kProblem, "bm64_bn64_w4_s2", ResultStatus::Timeout));
    db.record_result(testing::ok_result(gpu, kProblem, "sm80_bm64_bn128_w4_s2", 0.9));
    TuningResult c = testing::ok_result(cpu, kProblem, "bm32_bn64_w1_s1_v16_t2", 3.0);
    c.template_name = "prefill_cpu";
    db.record_result(c);
  }
  // Before: 5 rows; the old spelling of bm128_bn64 is the GPU's best (faster, newer).
  ASSERT_EQ(raw_scalar(path, "SELECT count(*) FROM results"), "5");
  ASSERT_EQ(raw_scalar(path, "SELECT r.config FROM best b JOIN results r ON r.id = b.result_id "
                             "JOIN devices d ON d.id = b.device_id WHERE d.target = 'sm_90a'"),
            "bm128_bn64_w4_s2");
  const std::string best_id = raw_scalar(path, "SELECT result_id FROM best b JOIN devices d ON "
                                               "d.id = b.device_id WHERE d.target = 'sm_90a'");
  raw_exec(path, "PRAGMA user_version = 3;");

  Database db = Database::open(path);
  EXPECT_EQ(db.schema_version(), 5);
  EXPECT_EQ(raw_scalar(path, "PRAGMA user_version"), "5");
  EXPECT_EQ(raw_scalar(path, "SELECT count(*) FROM results WHERE config LIKE 'bm%'"), "0");
  // The duplicate pair became one row: the newer measurement (0.5 ms), still the best.
  EXPECT_EQ(raw_scalar(path, "SELECT count(*) FROM results"), "4");
  auto kept = db.query_results({.config = "sm80_bm128_bn64_w4_s2"}).rows;
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_DOUBLE_EQ(kept[0].median_ms, 0.5);
  EXPECT_EQ(std::to_string(kept[0].id), best_id);
  EXPECT_EQ(db.query_results({.config = "sm80_bm64_bn64_w4_s2"}).rows.size(), 1u);
  EXPECT_EQ(db.query_results({.config = "sm80_bm64_bn128_w4_s2"}).rows.size(), 1u);
  EXPECT_EQ(db.query_results({.config = "cpu_bm32_bn64_w1_s1_v16_t2"}).rows.size(), 1u);

  const LookupResult g = db.lookup(gpu, ProblemSpec::parse(kProblem), testing::kTemplateHash);
  ASSERT_TRUE(g.entry);
  EXPECT_EQ(g.entry->config, "sm80_bm128_bn64_w4_s2");
  const LookupResult c = db.lookup(cpu, ProblemSpec::parse(kProblem), testing::kTemplateHash);
  ASSERT_TRUE(c.entry);
  EXPECT_EQ(c.entry->config, "cpu_bm32_bn64_w1_s1_v16_t2");
  EXPECT_EQ(raw_scalar(path, "PRAGMA foreign_key_check"), "");
  EXPECT_EQ(raw_scalar(path, "PRAGMA integrity_check"), "ok");
}

// The canonical row newer than the old one: the old one is dropped and a best entry that pointed
// at it follows to the kept row.
TEST(ConfigKeyUpgrade, MigrationKeepsTheNewerOfTwoSpellings) {
  ScratchDir dir;
  const std::string path = dir.file("v3.db");
  const DeviceInfo gpu = testing::gpu();
  {
    Database db = Database::open(path);
    db.upsert_device(gpu);
    db.record_result(testing::ok_result(gpu, kProblem, "bm128_bn64_w4_s2", 0.5, 1'700'000'000'100));
    db.record_result(testing::ok_result(gpu, kProblem, "sm80_bm128_bn64_w4_s2", 0.6, 1'700'000'000'900));
  }
  raw_exec(path, "PRAGMA user_version = 3;");
  Database db = Database::open(path);
  auto rows = db.query_results().rows;
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].config, "sm80_bm128_bn64_w4_s2");
  EXPECT_DOUBLE_EQ(rows[0].median_ms, 0.6);
  const LookupResult l = db.lookup(gpu, ProblemSpec::parse(kProblem), testing::kTemplateHash);
  ASSERT_TRUE(l.entry);
  EXPECT_EQ(l.entry->result_id, rows[0].id);
  EXPECT_EQ(raw_scalar(path, "PRAGMA foreign_key_check"), "");
}

// An export written before keys named templates imports with the canonical keys, and twice is
// idempotent with the rows the migration rewrote.
TEST(ConfigKeyUpgrade, OldExportImportsWithCanonicalKeys) {
  ScratchDir dir;
  const DeviceInfo gpu = testing::gpu(), cpu = cpu_device();
  std::stringstream jsonl;
  {
    Database old = Database::open(dir.file("old.db"));  // keys as an old tuner wrote them
    old.upsert_device(gpu);
    old.upsert_device(cpu);
    old.record_result(testing::ok_result(gpu, kProblem, "bm128_bn64_w4_s2", 0.5));
    TuningResult c = testing::ok_result(cpu, kProblem, "bm32_bn64_w1_s1_v16_t2", 3.0);
    c.template_name = "prefill_cpu";
    old.record_result(c);
    ASSERT_EQ(old.export_jsonl(jsonl), 2);
  }
  const std::string text = jsonl.str();
  ASSERT_NE(text.find("\"bm128_bn64_w4_s2\""), std::string::npos);

  Database db = Database::open(dir.file("new.db"));
  std::istringstream in(text);
  EXPECT_EQ(db.import_jsonl(in).stored, 2);
  EXPECT_EQ(db.query_results({.config = "sm80_bm128_bn64_w4_s2"}).rows.size(), 1u);
  EXPECT_EQ(db.query_results({.config = "cpu_bm32_bn64_w1_s1_v16_t2"}).rows.size(), 1u);
  EXPECT_EQ(db.query_results({.config = "bm128_bn64_w4_s2"}).rows.size(), 0u);
  std::istringstream again(text);
  const ImportStats st = db.import_jsonl(again);
  EXPECT_EQ(st.stored, 0);
  EXPECT_EQ(st.kept_existing, 2);
  EXPECT_EQ(db.stats().results, 2);
}

}  // namespace
}  // namespace attnjit
