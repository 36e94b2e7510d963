// Candidate results in the tuning database: mapping of statuses and round trips.
#include <gtest/gtest.h>

#include "codegen/registry.h"
#include "tuner/result_json.h"
#include "tuner/result_store.h"

namespace attnjit::tuner {
namespace {

const KernelTemplate& cpu_prefill(const ProblemSpec& spec, Target& t) {
  t = Target::cpu("icelake-client", "+avx512f", 512);
  t.sm_count = 2;
  return select_template(spec, t);
}

CandidateResult sample(const char* cfg, CandidateStatus st) {
  CandidateResult r;
  r.config = TileConfig::parse(cfg);
  r.status = st;
  r.reason = st == CandidateStatus::Ok ? "" : "because";
  r.time.median_ms = st == CandidateStatus::Ok ? 1.5 : 0;
  r.time.min_ms = st == CandidateStatus::Ok ? 1.4 : 0;
  r.time.max_ms = st == CandidateStatus::Ok ? 1.9 : 0;
  r.time.samples = st == CandidateStatus::Ok ? 21 : 0;
  r.tflops = st == CandidateStatus::Ok ? 0.25 : 0;
  r.max_error = 1e-6;
  r.tolerance = 2e-5;
  return r;
}

TEST(ResultStore, StatusesRoundTripThroughTheDatabaseRow) {
  Target t;
  const ProblemSpec spec = ProblemSpec::parse("prefill_f32_hd64_causal_g1_q128_k128_even");
  const KernelTemplate& tmpl = cpu_prefill(spec, t);
  for (CandidateStatus st : {CandidateStatus::Ok, CandidateStatus::CompileError, CandidateStatus::Pruned,
                             CandidateStatus::WrongResult, CandidateStatus::LaunchError, CandidateStatus::Timeout}) {
    const CandidateResult r = sample("bm64_bn64_w1_s1_v16", st);
    const TuningResult row = to_tuning_result(r, "0123456789abcdef", spec, tmpl);
    EXPECT_EQ(row.problem, spec.key());
    EXPECT_EQ(row.template_hash, tmpl.version_hash());
    const CandidateResult back = from_tuning_result(row);
    EXPECT_EQ(back.status, st) << to_string(st);
    EXPECT_EQ(back.config, r.config);
    EXPECT_DOUBLE_EQ(back.time.median_ms, r.time.median_ms);
    if (st == CandidateStatus::Ok)  // IQR estimate: min(2 (1.5 - 1.4), 1.9 - 1.4)
      EXPECT_NEAR(back.time.iqr_ms, 0.2, 1e-12);
    EXPECT_TRUE(back.from_db);
  }
  CandidateResult skipped = sample("bm64_bn64_w1_s1_v16", CandidateStatus::Skipped);
  EXPECT_THROW(to_tuning_result(skipped, "0123456789abcdef", spec, tmpl), SpecError);
}

TEST(ResultStore, DatabaseStoreReturnsWhatWasRecordedForThisDeviceAndTemplateOnly) {
  Target t;
  const ProblemSpec spec = ProblemSpec::parse("prefill_f32_hd64_causal_g1_q128_k128_even");
  const KernelTemplate& tmpl = cpu_prefill(spec, t);
  Database db = Database::open(":memory:");
  DbResultStore store(db, DeviceInfo::from_target(t, "llvm-14.0.6"));
  store.record(spec, tmpl, sample("bm64_bn64_w1_s1_v16", CandidateStatus::Ok));
  store.record(spec, tmpl, sample("bm32_bn64_w1_s1_v16", CandidateStatus::Pruned));
  store.set_best(spec, tmpl, TileConfig::parse("bm64_bn64_w1_s1_v16"));
  auto got = store.existing(spec, tmpl);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got.at("bm32_bn64_w1_s1_v16").status, CandidateStatus::Pruned);
  EXPECT_EQ(db.best(store.device().fingerprint(), spec.key(), tmpl.version_hash())->config, "bm64_bn64_w1_s1_v16");

  // Another device (a different compiler) sees nothing.
  DbResultStore other(db, DeviceInfo::from_target(t, "llvm-15.0.0"));
  EXPECT_TRUE(other.existing(spec, tmpl).empty());
  // Another problem neither.
  EXPECT_TRUE(store.existing(ProblemSpec::parse("prefill_f32_hd64_none_g1_q128_k128_even"), tmpl).empty());
}

TEST(ResultJson, WorkerPayloadRoundTripsIncludingAnInfiniteError) {
  CandidateResult r = sample("bm64_bn64_w1_s1_v16", CandidateStatus::WrongResult);
  r.max_error = std::numeric_limits<double>::infinity();  // a NaN output
  r.resources.registers = 96;
  const CandidateResult back = candidate_from_json(nlohmann::json::parse(to_json(r).dump()));
  EXPECT_EQ(back.status, CandidateStatus::WrongResult);
  EXPECT_TRUE(std::isinf(back.max_error));
  EXPECT_EQ(back.resources.registers, 96);
  EXPECT_EQ(back.reason, "because");
  EXPECT_THROW(candidate_from_json(nlohmann::json{{"config", "bm64"}}), SpecError);
}

}  // namespace
}  // namespace attnjit::tuner
