// Presets, shards (a fleet covers every problem exactly once), budgets and candidate planning.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "tuner/presets.h"
#include "tuner/tuner.h"

namespace attnjit::tuner {
namespace {

TEST(Presets, LlmPrefillIsTheFullGrid) {
  const Preset& p = preset("llm-prefill");
  EXPECT_EQ(p.platform, Platform::Cuda);
  EXPECT_EQ(p.problems.size(), 2u * 2 * 3 * 6);
  std::set<std::string> keys;
  for (const auto& s : p.problems) keys.insert(s.key());
  EXPECT_EQ(keys.size(), p.problems.size());
  EXPECT_TRUE(keys.count("prefill_bf16_hd128_causal_g1_q16384_k16384_even"));
  EXPECT_TRUE(keys.count("prefill_f16_hd64_sw4096-0_g1_q512_k512_even"));
  EXPECT_TRUE(keys.count("prefill_bf16_hd64_none_g1_q512_k512_even"));
}

TEST(Presets, CpuPresetsAndUnknownNames) {
  EXPECT_EQ(preset("smoke").platform, Platform::Cpu);
  EXPECT_EQ(preset("smoke").problems.size(), 2u);
  EXPECT_EQ(preset("cpu-prefill").problems.size(), 2u * 2 * 2 * 4);
  for (const auto& s : preset("cpu-gqa").problems) EXPECT_GT(s.group, 1);
  try {
    preset("nope");
    FAIL() << "no throw";
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("llm-prefill"), std::string::npos) << e.what();
  }
}

TEST(Shards, CoverEveryProblemExactlyOnceForAnyCount) {
  std::vector<ProblemSpec> all = preset("llm-prefill").problems;
  // Duplicates and order of the input must not matter.
  std::vector<ProblemSpec> input = all;
  input.push_back(all[5]);
  std::reverse(input.begin(), input.end());
  for (int n : {1, 2, 3, 7, 16, 72, 100}) {
    std::map<std::string, int> seen;
    size_t smallest = SIZE_MAX, largest = 0;
    for (int i = 0; i < n; ++i) {
      auto part = shard_problems(input, Shard{i, n});
      smallest = std::min(smallest, part.size());
      largest = std::max(largest, part.size());
      for (const auto& s : part) ++seen[s.key()];
    }
    EXPECT_EQ(seen.size(), all.size()) << "n=" << n;
    for (const auto& [k, c] : seen) EXPECT_EQ(c, 1) << k << " n=" << n;
    EXPECT_LE(largest - smallest, 1u) << "n=" << n;
  }
  // Deterministic: the same shard twice is the same list.
  auto a = shard_problems(all, Shard{2, 5}), b = shard_problems(input, Shard{2, 5});
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].key(), b[i].key());
}

TEST(Shards, ParseValidates) {
  const Shard s = Shard::parse("3/16");
  EXPECT_EQ(s.index, 3);
  EXPECT_EQ(s.count, 16);
  EXPECT_THROW(Shard::parse("16/16"), SpecError);
  EXPECT_THROW(Shard::parse("-1/4"), SpecError);
  EXPECT_THROW(Shard::parse("1/0"), SpecError);
  EXPECT_THROW(Shard::parse("1"), SpecError);
  EXPECT_THROW(Shard::parse("a/b"), SpecError);
}

TEST(Budget, ParsesCandidatesSecondsOrBoth) {
  Budget b = Budget::parse("40");
  EXPECT_EQ(b.candidates, 40);
  EXPECT_EQ(b.seconds, 0);
  b = Budget::parse("600s");
  EXPECT_EQ(b.candidates, 0);
  EXPECT_EQ(b.seconds, 600);
  b = Budget::parse("40,600s");
  EXPECT_EQ(b.candidates, 40);
  EXPECT_EQ(b.seconds, 600);
  EXPECT_THROW(Budget::parse(""), SpecError);
  EXPECT_THROW(Budget::parse("0"), SpecError);
  EXPECT_THROW(Budget::parse("12x"), SpecError);
  EXPECT_EQ(parse_strategy("halving"), Strategy::Halving);
  EXPECT_THROW(parse_strategy("greedy"), SpecError);
}

std::vector<TileConfig> grid() {
  std::vector<TileConfig> v;
  for (int bm : {16, 32, 64, 128})
    for (int bn : {32, 64, 128})
      for (int w : {1, 2, 4}) v.push_back(TileConfig{bm, bn, w, 2});
  return v;
}

TEST(Plan, RandomSampleIsSeededContainsTheDefaultAndDependsOnTheProblem) {
  const TileConfig def{64, 64, 4, 2};
  const ProblemSpec a = ProblemSpec::parse("prefill_bf16_hd128_causal_g1_q4096_k4096_even");
  const ProblemSpec b = ProblemSpec::parse("prefill_bf16_hd64_causal_g1_q4096_k4096_even");
  TuneOptions o;
  o.strategy = Strategy::Random;
  o.budget.candidates = 6;
  auto p1 = plan_candidates(grid(), def, a, o), p2 = plan_candidates(grid(), def, a, o);
  ASSERT_EQ(p1.size(), 6u);
  EXPECT_EQ(p1, p2);
  EXPECT_NE(std::find(p1.begin(), p1.end(), def), p1.end());
  EXPECT_TRUE(std::is_sorted(p1.begin(), p1.end(),
                             [](const TileConfig& x, const TileConfig& y) { return x.key() < y.key(); }));
  auto pb = plan_candidates(grid(), def, b, o);
  EXPECT_NE(p1, pb);  // another problem, another sample (36 choose 6: a collision is negligible)
  o.seed = 1;
  EXPECT_NE(plan_candidates(grid(), def, a, o), p1);
}

TEST(Plan, ExhaustiveTakesAllAndRejectsACandidateBudget) {
  const TileConfig def{256, 64, 4, 2};  // not in the grid: added
  const ProblemSpec a = ProblemSpec::parse("prefill_bf16_hd128_causal_g1_q4096_k4096_even");
  TuneOptions o;
  auto all = plan_candidates(grid(), def, a, o);
  EXPECT_EQ(all.size(), grid().size() + 1);
  o.budget.candidates = 5;
  EXPECT_THROW(plan_candidates(grid(), def, a, o), SpecError);
  o.budget.candidates = 1000;  // a budget above the space is no restriction
  EXPECT_EQ(plan_candidates(grid(), def, a, o).size(), grid().size() + 1);
}

}  // namespace
}  // namespace attnjit::tuner
