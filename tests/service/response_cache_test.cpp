#include "service/response_cache.h"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "test_server.h"

namespace attnjit::service {
namespace {

using namespace std::chrono_literals;

TEST(ResponseCache, ServesUntilInvalidatedOrTooOld) {
  ResponseCache::Options o;
  o.max_age = 200ms;
  ResponseCache c(":memory:", o);
  auto v = c.version();
  c.put("/v1/best?x", {200, "application/json", "{}"}, v);
  ASSERT_TRUE(c.find("/v1/best?x", c.version()));
  EXPECT_EQ(c.find("/v1/best?x", c.version())->body, "{}");
  EXPECT_FALSE(c.find("/v1/best?y", c.version()));
  c.invalidate();
  EXPECT_FALSE(c.find("/v1/best?x", c.version()));
  // An answer computed before a write is not stored after it.
  c.put("/v1/best?x", {200, "application/json", "old"}, v);
  EXPECT_FALSE(c.find("/v1/best?x", c.version()));
  c.put("/v1/best?x", {200, "application/json", "new"}, c.version());
  ASSERT_TRUE(c.find("/v1/best?x", c.version()));
  std::this_thread::sleep_for(250ms);
  EXPECT_FALSE(c.find("/v1/best?x", c.version()));
}

TEST(ResponseCache, AChangedDatabaseFileInvalidates) {
  testing::TempDir dir;
  const std::string db = dir.file("t.db");
  std::ofstream(db) << "x";
  ResponseCache::Options o;
  o.stat_interval = std::chrono::microseconds(0);
  ResponseCache c(db, o);
  c.put("k", {200, "application/json", "{}"}, c.version());
  ASSERT_TRUE(c.find("k", c.version()));
  std::ofstream(db + "-wal") << "frames";  // what another process's commit does
  EXPECT_FALSE(c.find("k", c.version()));
}

TEST(ResponseCache, StaysWithinItsBounds) {
  ResponseCache::Options o;
  o.max_entries = 10;
  ResponseCache c(":memory:", o);
  for (int i = 0; i < 100; ++i) c.put("k" + std::to_string(i), {200, "t", "b"}, c.version());
  EXPECT_LE(c.size(), 10u);
  EXPECT_TRUE(c.find("k99", c.version()));
}

}  // namespace
}  // namespace attnjit::service
