// JSON Lines export / import: round trip, idempotence, merging files from several machines,
// malformed input rejected as a whole with its line number.
#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "db/database.h"
#include "db/json_codec.h"
#include "db_test_util.h"

namespace attnjit {
namespace {

using testing::ok_result;

const std::string kP1 = "prefill_bf16_hd128_causal_g4_q4096_k4096";
const std::string kP2 = "decode_bf16_hd128_none_g8_q1_k32768_p16";

std::string dump(const Database& db) {
  std::ostringstream out;
  db.export_jsonl(out);
  return out.str();
}

ImportStats load(Database& db, const std::string& text, const char* name = "test.jsonl") {
  std::istringstream in(text);
  return db.import_jsonl(in, name);
}

// A machine's tuning session: its own device, a few ok results and failures.
Database machine(const DeviceInfo& dev, double scale, int64_t t0) {
  Database db = Database::open(":memory:");
  db.upsert_device(dev);
  db.upsert_template({testing::kTemplateHash, "prefill_sm80", "prefill", "0.1.0"});
  db.record_result(ok_result(dev, kP1, "sm80_bm128_bn64_w4_s2", 1.0 * scale, t0));
  db.record_result(ok_result(dev, kP1, "sm80_bm64_bn64_w4_s2", 1.5 * scale, t0 + 1));
  TuningResult wrong = testing::failed_result(dev, kP1, "sm80_bm128_bn128_w8_s2",
                                              ResultStatus::WrongResult, t0 + 2);
  wrong.max_error = std::numeric_limits<double>::infinity();
  db.record_result(wrong);
  TuningResult dec = ok_result(dev, kP2, "sm80_bm64_bn64_w4_s2_sp8", 0.05 * scale, t0 + 3);
  dec.gbps = 2500;
  dec.tflops = 0;
  db.record_result(dec);
  return db;
}

TEST(ImportExport, RoundTripKeepsEveryField) {
  DeviceInfo dev = testing::gpu();
  dev.isa = "";
  Database a = machine(dev, 1.0, 1'700'000'000'000);
  std::string text = dump(a);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 4);
  Database b = Database::open(":memory:");
  ImportStats st = load(b, text);
  EXPECT_EQ(st.lines, 4);
  EXPECT_EQ(st.stored, 4);
  EXPECT_EQ(dump(b), text);
  auto rows_a = a.query_results().rows, rows_b = b.query_results().rows;
  ASSERT_EQ(rows_a.size(), rows_b.size());
  for (size_t i = 0; i < rows_a.size(); ++i) {
    rows_b[i].id = rows_a[i].id;
    EXPECT_EQ(rows_a[i].status, rows_b[i].status);
    if (rows_a[i].status == ResultStatus::Ok) {
      EXPECT_EQ(rows_a[i], rows_b[i]);
    }
  }
  // The wrong result's infinite error survives the trip through JSON (written as null).
  auto wrong = b.query_results({.status = ResultStatus::WrongResult}).rows;
  ASSERT_EQ(wrong.size(), 1u);
  EXPECT_TRUE(std::isinf(wrong[0].max_error));
  auto best_a = a.list_best(), best_b = b.list_best();
  ASSERT_EQ(best_a.size(), 2u);
  ASSERT_EQ(best_b.size(), 2u);
  for (size_t i = 0; i < best_a.size(); ++i) {
    EXPECT_EQ(best_a[i].problem, best_b[i].problem);
    EXPECT_EQ(best_a[i].config, best_b[i].config);
    EXPECT_EQ(best_a[i].median_ms, best_b[i].median_ms);
  }
  EXPECT_EQ(b.lookup(dev, ProblemSpec::parse(kP1), testing::kTemplateHash).entry->config,
            "sm80_bm128_bn64_w4_s2");
}

TEST(ImportExport, ImportingTheSameFileTwiceChangesNothing) {
  DeviceInfo dev = testing::gpu();
  std::string text = dump(machine(dev, 1.0, 1'700'000'000'000));
  Database db = Database::open(":memory:");
  load(db, text);
  const std::string after_first = dump(db);
  const auto best_first = db.list_best();
  ImportStats again = load(db, text);
  EXPECT_EQ(again.lines, 4);
  EXPECT_EQ(again.stored, 0);
  EXPECT_EQ(again.kept_existing, 4);
  EXPECT_EQ(dump(db), after_first);
  EXPECT_EQ(db.list_best(), best_first);
  EXPECT_EQ(db.stats().results, 4);
}

TEST(ImportExport, MergingMachinesKeepsEveryMeasurementAndTheFasterVerifiedBest) {
  DeviceInfo h100 = testing::gpu();
  DeviceInfo a100 = testing::gpu("NVIDIA A100-SXM4-80GB", "sm_80", 108);
  // Two H100 boxes with identical fingerprints tuned different parts of the space (shards);
  // the second also re-measured one config later and found a faster one, and an A100 tuned too.
  Database h100_a = machine(h100, 1.0, 1'700'000'000'000);
  Database h100_b = Database::open(":memory:");
  h100_b.upsert_device(h100);
  h100_b.record_result(ok_result(h100, kP1, "sm80_bm128_bn128_w4_s3", 0.9, 1'700'000'100'000));
  h100_b.record_result(ok_result(h100, kP1, "sm80_bm64_bn64_w4_s2", 1.4, 1'700'000'100'000));  // newer
  // Faster but wrong: never the best, wherever it comes from.
  TuningResult wrong = ok_result(h100, kP1, "sm80_bm256_bn64_w8_s2", 0.1, 1'700'000'100'000);
  wrong.status = ResultStatus::WrongResult;
  wrong.max_error = 0.5;
  h100_b.record_result(wrong);
  Database a100_db = machine(a100, 2.0, 1'700'000'200'000);
  const std::string fa = dump(h100_a), fb = dump(h100_b), fc = dump(a100_db);

  std::vector<std::string> orders[] = {{fa, fb, fc}, {fc, fb, fa}, {fb, fa, fc}};
  std::string first_dump;
  for (const auto& order : orders) {
    Database merged = Database::open(":memory:");
    for (const auto& f : order) load(merged, f);
    DbStats s = merged.stats();
    EXPECT_EQ(s.devices, 2);
    // h100: bm128_bn64, bm64_bn64 (one row, newest wins), bm128_bn128_w8 (wrong), decode,
    // bm128_bn128_w4_s3, bm256 (wrong) = 6; a100: 4.
    EXPECT_EQ(s.results, 10);
    auto b = merged.best(h100.fingerprint(), kP1, testing::kTemplateHash);
    ASSERT_TRUE(b);
    EXPECT_EQ(b->config, "sm80_bm128_bn128_w4_s3");
    EXPECT_DOUBLE_EQ(b->median_ms, 0.9);
    auto bm64 = merged.query_results({.device = h100.fingerprint(), .problem = kP1,
                                      .config = "sm80_bm64_bn64_w4_s2"}).rows;
    ASSERT_EQ(bm64.size(), 1u);
    EXPECT_DOUBLE_EQ(bm64[0].median_ms, 1.4);
    EXPECT_EQ(merged.best(a100.fingerprint(), kP1, testing::kTemplateHash)->config,
              "sm80_bm128_bn64_w4_s2");
    // The merge result does not depend on the order of the files.
    std::string d = dump(merged);
    // Row ids differ by order; compare the set of lines.
    std::vector<std::string> lines;
    std::istringstream in(d);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    std::sort(lines.begin(), lines.end());
    std::string sorted;
    for (auto& l : lines) sorted += l + "\n";
    if (first_dump.empty()) first_dump = sorted;
    EXPECT_EQ(sorted, first_dump);
  }
}

TEST(ImportExport, MalformedLineNamesItsNumberAndImportsNothing) {
  DeviceInfo dev = testing::gpu();
  std::string good = dump(machine(dev, 1.0, 1'700'000'000'000));
  std::vector<std::string> lines;
  std::istringstream in(good);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 4u);

  struct Case {
    std::string bad_line;
    const char* expect;
  };
  nlohmann::json j = nlohmann::json::parse(lines[1]);
  nlohmann::json bad_status = j;
  bad_status["result"]["status"] = "fast";
  nlohmann::json bad_fp = j;
  bad_fp["device"]["sm_count"] = 64;  // the fingerprint no longer matches the fields
  nlohmann::json missing = j;
  missing["result"].erase("config");
  nlohmann::json bad_key = j;
  bad_key["result"]["problem"] = "prefill_bf16_hd128_causal";
  // Integers beyond their column's type are refused, not stored truncated (2^32 + 1 -> 1).
  nlohmann::json big_runs = j;
  big_runs["result"]["runs"] = 4294967297LL;
  nlohmann::json big_cc = j;
  big_cc["device"]["cc_major"] = 4294967305LL;
  const Case cases[] = {
      {"{\"version\": 1, \"device\": ", "malformed JSON"},
      {big_runs.dump(), "runs: out of range"},
      {big_cc.dump(), "cc_major: out of range"},
      {bad_status.dump(), "status"},
      {bad_fp.dump(), "fingerprint"},
      {missing.dump(), "config"},
      {bad_key.dump(), "problem key"},
      {"[1, 2, 3]", "expected a JSON object"},
  };
  for (const Case& c : cases) {
    Database db = Database::open(":memory:");
    // Line 3 of the file is bad (after a blank line 2, which is skipped but counted).
    std::string text = lines[0] + "\n\n" + c.bad_line + "\n" + lines[2] + "\n";
    try {
      load(db, text, "shard7.jsonl");
      ADD_FAILURE() << "accepted: " << c.bad_line;
    } catch (const DbError& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find("shard7.jsonl:3:"), std::string::npos) << msg;
      EXPECT_NE(msg.find(c.expect), std::string::npos) << msg;
    }
    DbStats s = db.stats();
    EXPECT_EQ(s.results, 0) << "half-imported: " << c.bad_line;
    EXPECT_EQ(s.devices, 0);
  }
}

// Exports written before schema v3 (format version 1) still import: a pruned candidate was
// compile_error with a "pruned" error text and becomes Pruned; an ok result had no IQR and gets
// the legacy estimate. Today's exports (version 2) carry both as they are.
TEST(ImportExport, VersionOneExportsStillImport) {
  DeviceInfo dev = testing::gpu();
  Database a = machine(dev, 1.0, 1'700'000'000'000);
  TuningResult pruned = testing::failed_result(dev, kP1, "sm80_bm256_bn64_w8_s2", ResultStatus::Pruned,
                                               1'700'000'000'010);
  pruned.error = "96 bytes of spills";
  a.record_result(pruned);
  std::vector<std::string> lines;
  {
    std::istringstream in(dump(a));
    for (std::string l; std::getline(in, l);) lines.push_back(l);
  }
  ASSERT_EQ(lines.size(), 5u);
  std::string v1;
  for (const std::string& l : lines) {
    nlohmann::json j = nlohmann::json::parse(l);
    EXPECT_EQ(j["version"], 2);
    EXPECT_TRUE(j["result"].contains("iqr_ms"));
    j["version"] = 1;
    j["result"].erase("iqr_ms");
    if (j["result"]["status"] == "pruned") {
      j["result"]["status"] = "compile_error";
      j["result"]["error"] = "pruned: 96 bytes of spills";
    }
    v1 += j.dump() + "\n";
  }
  Database b = Database::open(":memory:");
  EXPECT_EQ(load(b, v1).stored, 5);
  auto p = b.query_results({.status = ResultStatus::Pruned}).rows;
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].config, "sm80_bm256_bn64_w8_s2");
  EXPECT_EQ(b.query_results({.status = ResultStatus::CompileError}).rows.size(), 0u);
  auto ok = b.query_results({.config = "sm80_bm128_bn64_w4_s2"}).rows;
  ASSERT_EQ(ok.size(), 1u);
  // median 1.0, min 0.98, max 1.05: min(2 * 0.02, 0.07)
  EXPECT_NEAR(ok[0].iqr_ms, 0.04, 1e-12);

  // A version-2 line keeps its measured IQR.
  TuningResult r = ok_result(dev, kP1, "sm80_bm64_bn128_w4_s2", 0.8, 1'700'000'000'020);
  r.iqr_ms = 0.003;
  a.record_result(r);
  Database c = Database::open(":memory:");
  load(c, dump(a));
  auto back = c.query_results({.config = "sm80_bm64_bn128_w4_s2"}).rows;
  ASSERT_EQ(back.size(), 1u);
  EXPECT_DOUBLE_EQ(back[0].iqr_ms, 0.003);
  // A version this attnjit does not know is refused with the versions it reads.
  nlohmann::json future = nlohmann::json::parse(lines[0]);
  future["version"] = 3;
  Database d = Database::open(":memory:");
  try {
    load(d, future.dump() + "\n");
    ADD_FAILURE() << "version 3 accepted";
  } catch (const DbError& e) {
    EXPECT_NE(std::string(e.what()).find("expected 1 or 2"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace attnjit
