// The in-memory lookup cache never serves an answer staler than the database: it is dropped on
// this connection's writes and on commits by other connections (PRAGMA data_version).
#include "db/database.h"
#include "db_test_util.h"

namespace attnjit {
namespace {

using testing::kTemplateHash;
using testing::ok_result;

const std::string kP = "prefill_bf16_hd128_causal_g1_q4096_k4096";

TEST(LookupCache, OwnWritesInvalidate) {
  Database db = Database::open(":memory:");
  DeviceInfo dev = testing::gpu();
  db.upsert_device(dev);
  ProblemSpec p = ProblemSpec::parse(kP);
  EXPECT_EQ(db.lookup(dev, p, kTemplateHash).reason, LookupReason::Default);  // cached miss
  db.record_result(ok_result(dev, kP, "bm128_bn64_w4_s2", 1.0));
  EXPECT_EQ(db.lookup(dev, p, kTemplateHash).reason, LookupReason::Exact);
  db.record_result(ok_result(dev, kP, "bm64_bn64_w4_s2", 0.5));
  EXPECT_EQ(db.lookup(dev, p, kTemplateHash).entry->config, "bm64_bn64_w4_s2");
  db.set_best(dev.fingerprint(), kP, kTemplateHash, "bm128_bn64_w4_s2");
  EXPECT_EQ(db.lookup(dev, p, kTemplateHash).entry->config, "bm128_bn64_w4_s2");
}

TEST(LookupCache, OtherConnectionsCommitsInvalidate) {
  testing::ScratchDir dir;
  const std::string path = dir.file("shared.db");
  Database reader = Database::open(path);
  Database writer = Database::open(path);
  DeviceInfo dev = testing::gpu();
  writer.upsert_device(dev);
  ProblemSpec p = ProblemSpec::parse(kP);
  ProblemSpec near = ProblemSpec::parse("prefill_bf16_hd128_causal_g1_q8192_k4096");
  for (int i = 0; i < 3; ++i) {  // warm the cache with the miss
    EXPECT_EQ(reader.lookup(dev, p, kTemplateHash).reason, LookupReason::Default);
    EXPECT_EQ(reader.lookup(dev, near, kTemplateHash).reason, LookupReason::Default);
  }
  writer.record_result(ok_result(dev, kP, "bm128_bn64_w4_s2", 1.0));
  EXPECT_EQ(reader.lookup(dev, p, kTemplateHash).reason, LookupReason::Exact);
  EXPECT_EQ(reader.lookup(dev, near, kTemplateHash).reason, LookupReason::NearestBucket);
  writer.record_result(testing::failed_result(dev, kP, "bm128_bn64_w4_s2",
                                              ResultStatus::WrongResult, 1'800'000'000'000));
  EXPECT_EQ(reader.lookup(dev, p, kTemplateHash).reason, LookupReason::Default);
  EXPECT_EQ(reader.lookup(dev, near, kTemplateHash).reason, LookupReason::Default);
}

TEST(LookupCache, DisabledCacheGivesTheSameAnswers) {
  testing::ScratchDir dir;
  const std::string path = dir.file("c.db");
  Database::Options no_cache;
  no_cache.lookup_cache_entries = 0;
  Database a = Database::open(path);
  Database b = Database::open(path, no_cache);
  DeviceInfo dev = testing::gpu();
  a.upsert_device(dev);
  a.record_result(ok_result(dev, kP, "bm128_bn64_w4_s2", 1.0));
  for (const char* key : {kP.c_str(), "prefill_bf16_hd128_causal_g1_q1024_k4096",
                          "prefill_f16_hd128_causal_g1_q4096_k4096"}) {
    ProblemSpec p = ProblemSpec::parse(key);
    for (int i = 0; i < 2; ++i) {
      LookupResult x = a.lookup(dev, p, kTemplateHash), y = b.lookup(dev, p, kTemplateHash);
      EXPECT_EQ(x.reason, y.reason) << key;
      EXPECT_EQ(x.explanation, y.explanation) << key;
      EXPECT_EQ(x.entry, y.entry) << key;
    }
  }
}

}  // namespace
}  // namespace attnjit
