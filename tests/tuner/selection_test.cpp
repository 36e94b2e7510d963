// Deterministic choice and the adaptive measurement loop, with a fake clock and fake timings.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "tuner/measurement.h"
#include "tuner/selection.h"

namespace attnjit::tuner {
namespace {

Measurement meas(double median, double iqr) {
  Measurement m;
  m.median_ms = median;
  m.iqr_ms = iqr;
  m.min_ms = median - iqr;
  m.samples = 20;
  return m;
}

CandidateResult ok(const char* key, double median, double iqr) {
  CandidateResult r;
  r.config = TileConfig::parse(key);
  r.status = CandidateStatus::Ok;
  r.time = meas(median, iqr);
  return r;
}

TEST(Selection, BeatsNeedsMoreThanTwoPercentAndMoreThanTheNoise) {
  EXPECT_TRUE(beats(meas(0.97, 0.0), meas(1.0, 0.0)));   // 3% > 2%
  EXPECT_FALSE(beats(meas(0.985, 0.0), meas(1.0, 0.0))); // 1.5% < 2% floor
  // 5% faster, but the IQRs (0.06 + 0.06) / 2 = 6% overlap: within noise.
  EXPECT_FALSE(beats(meas(0.95, 0.06), meas(1.0, 0.06)));
  EXPECT_TRUE(beats(meas(0.90, 0.06), meas(1.0, 0.06)));
  EXPECT_FALSE(beats(meas(1.0, 0.0), meas(1.0, 0.0)));
  SelectionPolicy strict{0.10};
  EXPECT_FALSE(beats(meas(0.92, 0.0), meas(1.0, 0.0), strict));
}

TEST(Selection, DefaultStaysUnlessBeatenBeyondNoise) {
  const TileConfig def = TileConfig::parse("bm64_bn64_w4_s2");
  std::vector<CandidateResult> rs = {ok("bm64_bn64_w4_s2", 1.0, 0.01), ok("bm128_bn64_w4_s2", 0.99, 0.01)};
  auto b = select_best(rs, def);
  ASSERT_TRUE(b);
  EXPECT_EQ(rs[*b].key(), "bm64_bn64_w4_s2");  // 1% faster: not worth a switch
  rs[1].time = meas(0.8, 0.01);
  b = select_best(rs, def);
  EXPECT_EQ(rs[*b].key(), "bm128_bn64_w4_s2");
}

TEST(Selection, FastestClearWinnerWinsWhateverTheOrder) {
  const TileConfig def = TileConfig::parse("bm64_bn64_w4_s2");
  std::vector<CandidateResult> rs = {
      ok("bm64_bn64_w4_s2", 1.0, 0.01), ok("bm128_bn64_w4_s2", 0.8, 0.01), ok("bm128_bn128_w8_s2", 0.7, 0.01),
      ok("bm64_bn128_w4_s3", 0.75, 0.01), ok("bm32_bn64_w2_s2", 1.3, 0.01)};
  std::mt19937 rng(7);
  for (int trial = 0; trial < 20; ++trial) {
    std::shuffle(rs.begin(), rs.end(), rng);
    auto b = select_best(rs, def);
    ASSERT_TRUE(b);
    EXPECT_EQ(rs[*b].key(), "bm128_bn128_w8_s2");
  }
}

TEST(Selection, NoisyFastestLosesToAQuietRunnerUp) {
  const TileConfig def = TileConfig::parse("bm64_bn64_w4_s2");
  // 0.70 with a huge IQR cannot be told from 1.0; 0.75 with a tight one can.
  std::vector<CandidateResult> rs = {ok("bm64_bn64_w4_s2", 1.0, 0.01), ok("bm128_bn64_w4_s2", 0.70, 0.6),
                                     ok("bm64_bn128_w4_s3", 0.75, 0.01)};
  auto b = select_best(rs, def);
  EXPECT_EQ(rs[*b].key(), "bm64_bn128_w4_s3");
}

TEST(Selection, ExactTiesGoToTheSmallerKeyAndFailuresAreNeverChosen) {
  const TileConfig def = TileConfig::parse("bm16_bn16_w1_s1");  // not among the results
  std::vector<CandidateResult> rs = {ok("bm64_bn64_w4_s2", 1.0, 0.0), ok("bm128_bn64_w4_s2", 1.0, 0.0)};
  auto b = select_best(rs, def);
  EXPECT_EQ(rs[*b].key(), "bm128_bn64_w4_s2");  // "bm128..." < "bm64..."
  CandidateResult wrong = ok("bm32_bn32_w1_s1", 0.1, 0.0);
  wrong.status = CandidateStatus::WrongResult;
  rs.push_back(wrong);
  b = select_best(rs, def);
  EXPECT_NE(rs[*b].key(), "bm32_bn32_w1_s1");
  for (auto& r : rs) r.status = CandidateStatus::Timeout;
  EXPECT_FALSE(select_best(rs, def).has_value());
}

// ---- the measurement loop under a fake clock ------------------------------------------------

struct FakeDevice {
  double now = 0;
  std::vector<double> pattern;  // cycled through
  size_t next = 0;
  int calls = 0;
  std::vector<double> run(int warmup, int reps) {
    ++calls;
    std::vector<double> out;
    for (int i = 0; i < warmup + reps; ++i) {
      const double t = pattern[next++ % pattern.size()];
      now += t / 1e3;
      if (i >= warmup) out.push_back(t);
    }
    return out;
  }
};

TEST(Measurement, QuantilesInterpolateLikeNumpy) {
  EXPECT_DOUBLE_EQ(quantile({1, 2, 3, 4}, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(quantile({4, 1, 3, 2}, 0.25), 1.75);
  const Measurement m = summarize({3, 1, 2, 5, 4});
  EXPECT_DOUBLE_EQ(m.median_ms, 3);
  EXPECT_DOUBLE_EQ(m.iqr_ms, 2);
  EXPECT_DOUBLE_EQ(m.min_ms, 1);
  EXPECT_DOUBLE_EQ(m.max_ms, 5);
  EXPECT_THROW(summarize({}), std::invalid_argument);
}

TEST(Measurement, StableTimingsSettleAfterTheFirstBatch) {
  FakeDevice d{0, {2.0, 2.01, 1.99, 2.0}};
  MeasureOptions o;
  o.min_samples = 8;
  const Measurement m = measure_until_settled([&](int w, int r) { return d.run(w, r); }, o,
                                              [&] { return d.now; });
  EXPECT_TRUE(m.settled);
  EXPECT_EQ(m.samples, 8);
  EXPECT_EQ(d.calls, 1);
  EXPECT_NEAR(m.median_ms, 2.0, 0.01);
}

TEST(Measurement, NoiseThatNeverSettlesStopsAtTheTimeCap) {
  FakeDevice d{0, {1.0, 3.0, 1.0, 3.0, 2.0}};
  MeasureOptions o;
  o.max_seconds = 0.5;
  o.max_samples = 100000;
  const Measurement m = measure_until_settled([&](int w, int r) { return d.run(w, r); }, o,
                                              [&] { return d.now; });
  EXPECT_FALSE(m.settled);
  // Stops within one batch (a fifth of the remaining budget) of the cap.
  EXPECT_GE(d.now, 0.5 * 0.8);
  EXPECT_LE(d.now, 0.5 * 1.3);
  EXPECT_NEAR(m.median_ms, 2.0, 1e-9);
}

TEST(Measurement, SampleCapBoundsTheLoop) {
  FakeDevice d{0, {1.0, 3.0}};
  MeasureOptions o;
  o.max_seconds = 1e9;
  o.max_samples = 40;
  const Measurement m = measure_until_settled([&](int w, int r) { return d.run(w, r); }, o,
                                              [&] { return d.now; });
  EXPECT_FALSE(m.settled);
  EXPECT_EQ(m.samples, 40);
  // The batch after the first wants ~2e11 runs: it is capped to the 35 samples left, in one
  // call. (Converting 2e11 to int was undefined behaviour, found by UBSan; on x86 it gave
  // INT_MIN, clamped to one run per call.)
  EXPECT_EQ(d.calls, 2);
}

TEST(Measurement, RepeatedRunsWithTheSameFakeTimingsGiveTheSameAnswer) {
  MeasureOptions o;
  o.max_seconds = 0.2;
  auto once = [&] {
    FakeDevice d{0, {1.0, 1.2, 0.9, 1.5, 1.1, 1.05}};
    return measure_until_settled([&](int w, int r) { return d.run(w, r); }, o, [&] { return d.now; });
  };
  const Measurement a = once(), b = once();
  EXPECT_EQ(a.samples, b.samples);
  EXPECT_DOUBLE_EQ(a.median_ms, b.median_ms);
  EXPECT_DOUBLE_EQ(a.iqr_ms, b.iqr_ms);
}

}  // namespace
}  // namespace attnjit::tuner
