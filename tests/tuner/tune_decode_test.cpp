// Decode through the tuner: the tuning and reduced shapes of decode keys, the split-count
// expansion of the search space, the decode presets, and end to end on the CPU backend (tune a
// small paged decode problem into an in-memory database, reuse it, reject a planted wrong one).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "codegen/registry.h"
#include "db/database.h"
#include "tuner/presets.h"
#include "tuner/tuner.h"
#include "tuner/workload.h"
#include "tuner_test_util.h"

namespace attnjit::tuner {
namespace {

TEST(TuneDecode, TuningShapeTakesQueryTokensBucketAndGroupFromTheKey) {
  const ProblemSpec spec = ProblemSpec::parse("decode_bf16_hd128_none_g8_q4_k32768_p16");
  const RunShape gpu = tuning_shape(spec, Platform::Cuda);
  EXPECT_EQ(gpu.seqlen_q, 4);
  EXPECT_EQ(gpu.seqlen_k, 32768);
  EXPECT_EQ(gpu.heads_q, 32);
  EXPECT_EQ(gpu.heads_kv, 4);
  EXPECT_EQ(gpu.batch, 2);  // 64k cached tokens in all
  EXPECT_EQ(tuning_shape(ProblemSpec::parse("decode_bf16_hd128_none_g1_q1_k131072_p16"), Platform::Cuda).batch, 1);
  const RunShape cpu = tuning_shape(spec, Platform::Cpu);
  EXPECT_EQ(cpu.batch, 2);
  EXPECT_EQ(cpu.heads_q % 8, 0);
  EXPECT_EQ(cpu.heads_q / cpu.heads_kv, 8);
  EXPECT_EQ(cpu.seqlen_k, 32768);
  // K+V bytes: 2 (K and V) x batch x KV heads x length x head dim x 2 bytes.
  EXPECT_DOUBLE_EQ(decode_kv_bytes(spec, gpu), 2.0 * 2 * 4 * 32768 * 128 * 2);
}

TEST(TuneDecode, ReducedProblemHasRaggedLengthsWithinTheCache) {
  const ProblemSpec spec = ProblemSpec::parse("decode_f32_hd64_none_g4_q2_k4096_p16");
  const RunShape r = reduced_shape(spec);
  EXPECT_EQ(r.seqlen_q, 2);
  EXPECT_EQ(r.heads_q / r.heads_kv, 4);
  const std::vector<int64_t> lens = reduced_seqlens(spec, r);
  ASSERT_EQ(static_cast<int64_t>(lens.size()), r.batch);
  EXPECT_EQ(lens[0], r.seqlen_k);
  std::set<int64_t> distinct(lens.begin(), lens.end());
  EXPECT_GE(distinct.size(), 3u);
  for (int64_t l : lens) {
    EXPECT_GE(l, 1);
    EXPECT_LE(l, r.seqlen_k);
  }
  EXPECT_NE(lens[1] % 16, 0);  // a partial last page
  EXPECT_TRUE(reduced_seqlens(ProblemSpec::parse("prefill_f32_hd64_none_g1_q128_k128_even"),
                              reduced_shape(ProblemSpec::parse("prefill_f32_hd64_none_g1_q128_k128_even")))
                  .empty());
}

TEST(TuneDecode, DecodePresetsAreDecodeOnlyAndNothingElseHoldsDecode) {
  const Preset& cpu = preset("cpu-decode");
  EXPECT_EQ(cpu.platform, Platform::Cpu);
  EXPECT_EQ(cpu.problems.size(), 2u * 2 * 2 * 2);
  const Preset& gpu = preset("llm-decode");
  EXPECT_EQ(gpu.platform, Platform::Cuda);
  EXPECT_EQ(gpu.problems.size(), 2u * 2 * 6);
  for (const Preset* p : {&cpu, &gpu}) {
    std::set<std::string> keys;
    for (const ProblemSpec& s : p->problems) {
      EXPECT_EQ(s.family, Family::Decode) << s.key();
      keys.insert(s.key());
    }
    EXPECT_EQ(keys.size(), p->problems.size());
  }
  EXPECT_TRUE(std::any_of(gpu.problems.begin(), gpu.problems.end(),
                          [](const ProblemSpec& s) { return s.seqlen_k == 131072 && s.seqlen_q == 4; }));
  for (const Preset& p : presets())
    if (p.name != "cpu-decode" && p.name != "llm-decode")
      for (const ProblemSpec& s : p.problems) EXPECT_EQ(s.family, Family::Prefill) << p.name << ": " << s.key();
}

#ifdef ATTNJIT_WITH_LLVM

TuneOptions quick_options() {
  TuneOptions o;
  o.measure.max_seconds = 0.15;
  o.measure.min_samples = 5;
  return o;
}

// A small paged GQA decode problem with 4 query tokens under a causal mask (so dropping the
// mask, as the planted candidate does, changes the first rows).
ProblemSpec small_decode() { return ProblemSpec::parse("decode_f32_hd64_causal_g2_q4_k512_p16"); }

TEST(TuneDecode, SearchSpaceAddsFixedSplitCountsToDecodeConfigsOnly) {
  Backend& be = testing::cpu_backend();
  const ProblemSpec spec = small_decode();
  const KernelTemplate& real = select_template(spec, be.target());
  const std::vector<TileConfig> base = real.search_space(spec, be.target());
  const std::vector<TileConfig> space = tuning_space(real, spec, be.target());
  EXPECT_GT(space.size(), base.size());
  std::set<int> splits;
  for (const TileConfig& c : space) {
    splits.insert(c.splits);
    EXPECT_FALSE(real.can_implement(spec, c, be.target()).has_value()) << c.key();
    EXPECT_LE(c.splits, (spec.seqlen_k + c.block_n - 1) / c.block_n) << c.key();
  }
  EXPECT_TRUE(splits.count(0) && splits.count(1) && splits.count(2) && splits.count(4)) << space.size();
  const ProblemSpec pre = ProblemSpec::parse("prefill_f32_hd64_none_g1_q128_k128_even");
  const KernelTemplate& pt = select_template(pre, be.target());
  EXPECT_EQ(tuning_space(pt, pre, be.target()), pt.search_space(pre, be.target()));
}

TEST(TuneDecode, CpuEndToEndStoresReusesAndChoosesACorrectConfig) {
  testing::CpuTuning t(small_decode(), 2);
  const TuneOptions o = testing::quick_random_options(4);
  TuneReport first = t.run(o);
  EXPECT_EQ(first.baseline_note, "");  // the default verified on the reduced problem
  EXPECT_EQ(first.results.size(), 4u);
  EXPECT_TRUE(first.default_index.has_value());
  for (const CandidateResult& r : first.results) {
    EXPECT_GT(r.gbps, 0) << r.key();
    EXPECT_EQ(r.tflops, 0) << r.key();
  }
  testing::expect_measured_best_stored(first, t.db, device_info_for(t.be), t.spec, t.tmpl);
  auto best = t.db.best(device_info_for(t.be).fingerprint(), t.spec.key(), t.tmpl.version_hash());
  ASSERT_TRUE(best.has_value());
  EXPECT_GT(best->gbps, 0);
  testing::expect_second_run_reuses(t.be, t.tmpl, t.spec, o, t.store, first);
}

TEST(TuneDecode, PlantedWrongDecodeCandidateIsRejected) {
  Backend& be = testing::cpu_backend();
  const ProblemSpec spec = small_decode();
  const KernelTemplate& real = select_template(spec, be.target());
  const TileConfig def = real.default_config(spec, be.target());
  TileConfig wrong = def;
  wrong.splits = 2;  // the default's kernel, unmasked, run with two splits
  testing::RestrictedTemplate tmpl(real, {def}, wrong);
  ASSERT_FALSE(tmpl.can_implement(spec, wrong, be.target()).has_value());
  testing::expect_planted_wrong_rejected(be, tmpl, spec, wrong, quick_options(), /*others_ok=*/true);
}

#endif  // ATTNJIT_WITH_LLVM

}  // namespace
}  // namespace attnjit::tuner
