// Snippets in the tuning database (schema v5): the v4 -> v5 migration, put / get, JSONL export
// carrying the texts, imports that check each text against its hash and refuse keys whose
// snippet is unknown.
#include <gtest/gtest.h>

#include <sstream>

#include "codegen/snippet.h"
#include "db/database.h"
#include "db/db_test_util.h"
#include "db/json_codec.h"

namespace attnjit {
namespace {

const std::string kMask = "const int* doc = aux<int>(0);\nreturn doc[q_idx] == doc[kv_idx];";

std::string problem_with(const std::string& hash) { return "prefill_bf16_hd128_causal_mm" + hash + "_bs128_g4_q4096_k4096"; }

Database seeded(std::string& key) {
  Database db = Database::open(":memory:");
  const std::string h = db.put_snippet(kMask + "  \n");
  EXPECT_EQ(h, snippet_hash(kMask));
  key = problem_with(h);
  const DeviceInfo dev = testing::gpu();
  db.upsert_device(dev);
  db.upsert_template({testing::kTemplateHash, "prefill_sm80", "prefill", "0.1.0"});
  db.record_result(testing::ok_result(dev, key, "bm128_bn64_w4_s2", 1.0, 1'700'000'000'000));
  return db;
}

TEST(SnippetDb, MigratesV4AndKeepsTexts) {
  testing::ScratchDir dir;
  const std::string path = dir.file("v3.db");
  {
    Database db = Database::open(path);
    EXPECT_EQ(db.schema_version(), 5);
  }
  {  // Back to a v4 file: no snippets table, user_version 4.
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw, "DROP TABLE snippets; PRAGMA user_version = 4;", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(raw);
  }
  Database db = Database::open(path);
  EXPECT_EQ(db.schema_version(), 5);
  const std::string h = db.put_snippet(kMask);
  EXPECT_EQ(db.get_snippet(h).value(), kMask);
  EXPECT_FALSE(db.get_snippet("0000000000000000"));
  EXPECT_EQ(db.put_snippet("\r\n" + kMask + "\r\n"), h);  // normalised: one row per hash
}

TEST(SnippetDb, ExportCarriesTextsAndImportChecksThem) {
  std::string key;
  Database a = seeded(key);
  std::ostringstream out;
  a.export_jsonl(out);
  const std::string text = out.str();
  const std::string h = ProblemSpec::parse(key).mask_mod;
  const nlohmann::json line = nlohmann::json::parse(text.substr(0, text.find('\n')));
  ASSERT_EQ(line["snippets"][h], kMask);

  Database b = Database::open(":memory:");
  std::istringstream in(text);
  EXPECT_EQ(b.import_jsonl(in, "a.jsonl").stored, 1);
  EXPECT_EQ(b.get_snippet(h).value(), kMask);

  // A text that does not hash to its key: the whole import is refused, naming the snippet.
  nlohmann::json forged = line;
  forged["snippets"][h] = "return true;";
  Database c = Database::open(":memory:");
  std::istringstream bad(forged.dump() + "\n");
  try {
    c.import_jsonl(bad, "forged.jsonl");
    ADD_FAILURE() << "forged snippet imported";
  } catch (const DbError& e) {
    EXPECT_NE(std::string(e.what()).find("forged.jsonl:1: snippets." + h + ": the text hashes to"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(c.get_snippet(h));
  // A key whose snippet travels nowhere.
  nlohmann::json bare = line;
  bare.erase("snippets");
  std::istringstream missing(bare.dump() + "\n");
  try {
    c.import_jsonl(missing, "bare.jsonl");
    ADD_FAILURE() << "key without its snippet imported";
  } catch (const DbError& e) {
    EXPECT_NE(std::string(e.what()).find("missing from the snippets table"), std::string::npos) << e.what();
  }
}

TEST(SnippetDb, LookupsNeverFallBackAcrossUserVariants) {
  std::string key;
  Database db = seeded(key);  // a result for prefill_bf16_hd128_causal_mm<h>_bs128_g4_q4096_k4096
  const DeviceInfo dev = testing::gpu();
  // Same mask, head dim and dtype at a nearby bucket: without the snippet, or with another one,
  // the tuned entry is not a candidate; with the same snippet it is.
  const ProblemSpec plain = ProblemSpec::parse("prefill_bf16_hd128_causal_g4_q2048_k2048");
  EXPECT_EQ(db.lookup(dev, plain, testing::kTemplateHash).reason, LookupReason::Default);
  ProblemSpec other = plain;
  other.mask_mod = snippet_hash("return true;");
  other.block_sparse = 128;
  EXPECT_EQ(db.lookup(dev, other, testing::kTemplateHash).reason, LookupReason::Default);
  ProblemSpec same = ProblemSpec::parse(key);
  same.seqlen_q = same.seqlen_k = 2048;
  const LookupResult r = db.lookup(dev, same, testing::kTemplateHash);
  ASSERT_TRUE(r.entry);
  EXPECT_EQ(r.entry->problem, key);
}

}  // namespace
}  // namespace attnjit
