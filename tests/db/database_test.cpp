// Recording results, the best-config policy, filtered + paginated queries, stats.
#include <cmath>

#include "db/database.h"
#include "db_test_util.h"

namespace attnjit {
namespace {

using testing::kTemplateHash;
using testing::ok_result;

const std::string kProblem = "prefill_bf16_hd128_causal_g4_q4096_k4096";

class DatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override { db.upsert_device(dev); }
  std::string best_config() {
    auto b = db.best(dev.fingerprint(), kProblem, kTemplateHash);
    return b ? b->config : "";
  }
  Database db = Database::open(":memory:");
  DeviceInfo dev = testing::gpu();
};

TEST_F(DatabaseTest, DeviceRoundTripAndFingerprint) {
  auto back = db.find_device(dev.fingerprint());
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, dev);
  EXPECT_EQ(dev.fingerprint().size(), 16u);
  DeviceInfo newer_driver = dev;
  newer_driver.driver_version = "590.1";
  EXPECT_NE(newer_driver.fingerprint(), dev.fingerprint());
  db.upsert_device(dev);  // idempotent
  db.upsert_device(newer_driver);
  EXPECT_EQ(db.list_devices().size(), 2u);
  EXPECT_EQ(db.devices_for_target("sm_90a").size(), 2u);
  EXPECT_TRUE(db.devices_for_target("sm_80").empty());
  Target t = Target::cuda("sm_90a");
  t.device_name = "NVIDIA H100 80GB HBM3";
  t.sm_count = 132;
  DeviceInfo from_t = DeviceInfo::from_target(t, "nvrtc-13.0", "580.65.06", dev.memory_bytes);
  EXPECT_EQ(from_t.fingerprint(), dev.fingerprint());
}

TEST_F(DatabaseTest, FastestOkResultBecomesBest) {
  EXPECT_TRUE(db.record_result(ok_result(dev, kProblem, "bm64_bn64_w4_s2", 1.0)).became_best);
  EXPECT_TRUE(db.record_result(ok_result(dev, kProblem, "bm128_bn64_w4_s2", 0.5)).became_best);
  EXPECT_FALSE(db.record_result(ok_result(dev, kProblem, "bm128_bn128_w8_s2", 0.7)).became_best);
  EXPECT_FALSE(db.record_result(testing::failed_result(dev, kProblem, "bm64_bn128_w4_s2",
                                                       ResultStatus::WrongResult))
                   .became_best);
  EXPECT_EQ(best_config(), "bm128_bn64_w4_s2");
  auto b = db.best(dev.fingerprint(), kProblem, kTemplateHash);
  EXPECT_DOUBLE_EQ(b->median_ms, 0.5);
  EXPECT_EQ(b->template_name, "prefill_sm80");
  EXPECT_EQ(b->target, "sm_90a");
}

TEST_F(DatabaseTest, ChallengerNeedsToBeatTheMargin) {
  db.set_best_margin(0.05);
  db.record_result(ok_result(dev, kProblem, "bm128_bn64_w4_s2", 1.00));
  // 3% faster: noise under a 5% margin, the incumbent stays.
  EXPECT_FALSE(db.record_result(ok_result(dev, kProblem, "bm64_bn64_w4_s2", 0.97)).became_best);
  EXPECT_EQ(best_config(), "bm128_bn64_w4_s2");
  // 10% faster: replaces it.
  EXPECT_TRUE(db.record_result(ok_result(dev, kProblem, "bm128_bn128_w8_s2", 0.90)).became_best);
  EXPECT_EQ(best_config(), "bm128_bn128_w8_s2");
  // With margin 0 the strictly fastest wins.
  db.set_best_margin(0);
  EXPECT_TRUE(db.record_result(ok_result(dev, kProblem, "bm64_bn128_w4_s2", 0.899)).became_best);
}

TEST_F(DatabaseTest, NewerMeasurementOfTheSameKeyReplacesOlder) {
  db.record_result(ok_result(dev, kProblem, "bm128_bn64_w4_s2", 1.0, 1000));
  db.record_result(ok_result(dev, kProblem, "bm64_bn64_w4_s2", 2.0, 1000));
  RecordOutcome older = db.record_result(ok_result(dev, kProblem, "bm128_bn64_w4_s2", 5.0, 500));
  EXPECT_FALSE(older.stored);
  RecordOutcome newer = db.record_result(ok_result(dev, kProblem, "bm128_bn64_w4_s2", 3.0, 2000));
  EXPECT_TRUE(newer.stored);
  EXPECT_EQ(db.stats().results, 2);
  auto rows = db.query_results({.config = "bm128_bn64_w4_s2"}).rows;
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_DOUBLE_EQ(rows[0].median_ms, 3.0);
  // The incumbent got slower than the other config by more than the margin: re-picked.
  EXPECT_EQ(best_config(), "bm64_bn64_w4_s2");
}

TEST_F(DatabaseTest, RejectsBadResults) {
  TuningResult r = ok_result(dev, kProblem, "bm128_bn64_w4_s2", 1.0);
  TuningResult unknown_dev = r;
  unknown_dev.device = "00000000deadbeef";
  try {
    db.record_result(unknown_dev);
    FAIL();
  } catch (const DbError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown device"), std::string::npos) << e.what();
  }
  TuningResult bad_problem = r;
  bad_problem.problem = "prefill_bf16_hd100_causal_g4_q4096_k4096";
  EXPECT_THROW(db.record_result(bad_problem), SpecError);
  TuningResult noncanon = r;
  noncanon.problem = "prefill_bf16_hd128_sliding_window_g4_q4096_k4096";
  EXPECT_THROW(db.record_result(noncanon), SpecError);
  TuningResult bad_time = r;
  bad_time.median_ms = 0;
  EXPECT_THROW(db.record_result(bad_time), SpecError);
  TuningResult nan_time = r;
  nan_time.max_ms = std::nan("");
  EXPECT_THROW(db.record_result(nan_time), SpecError);
  TuningResult bad_cfg = r;
  bad_cfg.config = "bm128_w4";
  EXPECT_THROW(db.record_result(bad_cfg), SpecError);
  EXPECT_EQ(db.stats().results, 0);
}

TEST_F(DatabaseTest, BatchIsAllOrNothing) {
  std::vector<TuningResult> rs;
  for (int i = 0; i < 10; ++i)
    rs.push_back(ok_result(dev, kProblem, "bm" + std::to_string(16 << (i % 4)) + "_bn64_w4_s" +
                                              std::to_string(1 + i / 4), 1.0 + i));
  rs[7].config = "garbage";
  EXPECT_THROW(db.record_results(rs), SpecError);
  EXPECT_EQ(db.stats().results, 0);
  rs[7].config = "bm256_bn64_w8_s3";
  auto out = db.record_results(rs);
  EXPECT_EQ(out.size(), 10u);
  EXPECT_EQ(db.stats().results, 10);
  EXPECT_EQ(best_config(), rs[0].config);
}

TEST_F(DatabaseTest, FiltersAndCursorPagination) {
  DeviceInfo a100 = testing::gpu("NVIDIA A100-SXM4-80GB", "sm_80", 108);
  db.upsert_device(a100);
  const std::vector<std::string> problems = {
      "prefill_bf16_hd128_causal_g4_q4096_k4096", "prefill_f16_hd64_none_g1_q1024_k1024",
      "decode_bf16_hd128_none_g8_q1_k32768_p16"};
  int n = 0;
  for (const auto* d : {&dev, &a100})
    for (const auto& p : problems)
      for (int bm : {32, 64, 128}) {
        std::string cfg = "bm" + std::to_string(bm) + "_bn64_w4_s2";
        if (bm == 32)
          db.record_result(testing::failed_result(*d, p, cfg, ResultStatus::CompileError));
        else
          db.record_result(ok_result(*d, p, cfg, 1.0 + bm));
        ++n;
      }
  EXPECT_EQ(db.stats().results, n);
  EXPECT_EQ(db.query_results({.target = "sm_80"}).rows.size(), 9u);
  EXPECT_EQ(db.query_results({.device = dev.fingerprint(), .dtype = DType::F16}).rows.size(), 3u);
  EXPECT_EQ(db.query_results({.status = ResultStatus::CompileError}).rows.size(), 6u);
  EXPECT_EQ(db.query_results({.family = Family::Decode, .head_dim = 128}).rows.size(), 6u);
  EXPECT_EQ(db.query_results({.status = ResultStatus::Ok, .mask = MaskKind::Causal}).rows.size(), 4u);
  EXPECT_EQ(db.query_results({.problem = problems[1], .template_hash = kTemplateHash}).rows.size(), 6u);
  EXPECT_EQ(db.query_results({.seqlen_k = 32768}).rows.size(), 6u);
  EXPECT_TRUE(db.query_results({.template_name = "nope"}).rows.empty());

  // Pages of 4 over 18 rows: 4 + 4 + 4 + 4 + 2, ids strictly increasing, nothing repeated.
  std::vector<int64_t> ids;
  int64_t after = 0;
  int pages = 0;
  while (true) {
    ResultPage page = db.query_results({}, after, 4);
    ++pages;
    for (const auto& r : page.rows) ids.push_back(r.id);
    if (!page.next_cursor) break;
    EXPECT_EQ(page.rows.size(), 4u);
    after = *page.next_cursor;
  }
  EXPECT_EQ(pages, 5);
  ASSERT_EQ(ids.size(), 18u);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end());
  // Exactly `limit` rows left: the last page says so (no empty extra page).
  EXPECT_FALSE(db.query_results({}, ids[13], 4).next_cursor);

  EXPECT_EQ(db.list_best().size(), 6u);
  EXPECT_EQ(db.list_best({.target = "sm_90a"}).size(), 3u);
  DbStats s = db.stats();
  EXPECT_EQ(s.devices, 2);
  EXPECT_EQ(s.problems, 3);
  EXPECT_EQ(s.templates, 1);
  EXPECT_EQ(s.best, 6);
  EXPECT_EQ(s.results_by_status["ok"], 12);
  EXPECT_EQ(s.results_by_status["compile_error"], 6);
}

TEST_F(DatabaseTest, SetBestForcesAnOkResultOnly) {
  db.record_result(ok_result(dev, kProblem, "bm128_bn64_w4_s2", 1.0));
  db.record_result(ok_result(dev, kProblem, "bm64_bn64_w4_s2", 2.0));
  db.record_result(testing::failed_result(dev, kProblem, "bm64_bn128_w4_s2", ResultStatus::Timeout));
  db.set_best(dev.fingerprint(), kProblem, kTemplateHash, "bm64_bn64_w4_s2");
  EXPECT_EQ(best_config(), "bm64_bn64_w4_s2");
  EXPECT_THROW(db.set_best(dev.fingerprint(), kProblem, kTemplateHash, "bm64_bn128_w4_s2"), DbError);
  EXPECT_EQ(best_config(), "bm64_bn64_w4_s2");
}

TEST_F(DatabaseTest, TemplateRowIsCompletedByUpsert) {
  db.record_result(ok_result(dev, kProblem, "bm128_bn64_w4_s2", 1.0));
  auto t = db.find_template(kTemplateHash);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->name, "prefill_sm80");
  EXPECT_EQ(t->family, "prefill");
  db.upsert_template({kTemplateHash, "prefill_sm80", "prefill", "0.2.0"});
  EXPECT_EQ(db.find_template(kTemplateHash)->generator_version, "0.2.0");
  EXPECT_EQ(db.list_templates().size(), 1u);
}

}  // namespace
}  // namespace attnjit
