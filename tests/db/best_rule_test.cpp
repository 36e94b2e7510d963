// The one "best" rule (db/best_rule.h) and the database applying it on every write: the pick
// depends on the data only — not on the order results arrive in, nor on which path stored them.
#include "db/best_rule.h"

#include <algorithm>
#include <random>

#include "db/database.h"
#include "db_test_util.h"

namespace attnjit {
namespace {

const std::string kProblem = "prefill_bf16_hd128_causal_g4_q4096_k4096";

TEST(BestRule, BeatsNeedsTheMarginAndMoreThanTheNoise) {
  EXPECT_TRUE(beats({"a", 0.97, 0}, {"b", 1.0, 0}, 0.02));
  EXPECT_FALSE(beats({"a", 0.985, 0}, {"b", 1.0, 0}, 0.02));
  EXPECT_FALSE(beats({"a", 0.95, 0.06}, {"b", 1.0, 0.06}, 0.02));  // IQRs overlap
  EXPECT_TRUE(beats({"a", 0.90, 0.06}, {"b", 1.0, 0.06}, 0.02));
  EXPECT_TRUE(beats({"a", 0.999, 0}, {"b", 1.0, 0}, 0.0));
  EXPECT_FALSE(beats({"a", 1.0, 0}, {"b", 1.0, 0}, 0.0));
}

TEST(BestRule, IncumbentStaysWithinNoiseAndNoisyFastestLosesToQuietRunnerUp) {
  std::vector<BestCandidate> c = {{"bm64_bn64_w4_s2", 1.0, 0.01}, {"bm128_bn64_w4_s2", 0.99, 0.01}};
  EXPECT_EQ(c[*pick_best(c, "bm64_bn64_w4_s2", 0.02)].config, "bm64_bn64_w4_s2");
  EXPECT_EQ(c[*pick_best(c, "", 0.02)].config, "bm128_bn64_w4_s2");  // no incumbent: the fastest
  // Fastest but noisy (0.70, IQR 0.6) against the default: within noise; the quiet 0.75 is not.
  std::vector<BestCandidate> d = {{"bm64_bn64_w4_s2", 1.0, 0.01}, {"bm128_bn128_w8_s2", 0.70, 0.6},
                                  {"bm64_bn128_w4_s3", 0.75, 0.01}};
  EXPECT_EQ(d[*pick_best(d, "bm64_bn64_w4_s2", 0.02)].config, "bm64_bn128_w4_s3");
  EXPECT_FALSE(pick_best({}, "x", 0.02));
}

// Issue 14: the CLI (the tuner's pick) and the service (the database's pick on POST /v1/results
// and import) used two different rules: the database took the fastest median whatever its
// noise. Now it re-picks with the same rule, so in any recording order the entry it keeps is
// one that no other result beats beyond noise.
TEST(BestRule, DatabaseKeepsAPickNoOtherResultBeats) {
  DeviceInfo dev = testing::gpu();
  std::vector<TuningResult> rs;
  const std::pair<const char*, std::pair<double, double>> data[] = {
      {"bm64_bn64_w4_s2", {1.00, 0.01}}, {"bm128_bn128_w8_s2", {0.70, 0.6}},
      {"bm64_bn128_w4_s3", {0.75, 0.01}}, {"bm128_bn64_w4_s2", {0.76, 0.002}}};
  for (const auto& [cfg, t] : data) {
    TuningResult r = testing::ok_result(dev, kProblem, cfg, t.first);
    r.min_ms = t.first - t.second;
    r.max_ms = t.first + t.second;
    r.iqr_ms = t.second;
    rs.push_back(r);
  }
  std::vector<BestCandidate> cands;
  for (const auto& r : rs) cands.push_back({r.config, r.median_ms, r.iqr_ms});
  // Recorded with the default first (the tuner's incumbent), the quiet 0.75 wins: 0.70 is
  // within its own noise, 0.76 not 2% faster.
  {
    Database db = Database::open(":memory:");
    db.upsert_device(dev);
    for (const auto& r : rs) db.record_result(r);
    EXPECT_EQ(db.best(dev.fingerprint(), kProblem, testing::kTemplateHash)->config, "bm64_bn128_w4_s3");
    EXPECT_EQ(cands[*pick_best(cands, "bm64_bn64_w4_s2", 0.02)].config, "bm64_bn128_w4_s3");
  }
  std::mt19937 rng(7);
  for (int round = 0; round < 6; ++round) {
    std::shuffle(rs.begin(), rs.end(), rng);
    Database db = Database::open(":memory:");
    db.upsert_device(dev);
    for (const auto& r : rs) db.record_result(r);
    auto b = db.best(dev.fingerprint(), kProblem, testing::kTemplateHash);
    ASSERT_TRUE(b);
    // Any order ends on a candidate that no other beats; with these numbers that is one config.
    std::vector<BestCandidate> after = cands;
    const auto it = std::find_if(after.begin(), after.end(), [&](auto& c) { return c.config == b->config; });
    ASSERT_NE(it, after.end());
    for (const auto& c : after) EXPECT_FALSE(beats(c, *it, 0.02)) << c.config << " beats " << b->config;
  }
}

}  // namespace
}  // namespace attnjit
