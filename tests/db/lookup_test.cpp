// Lookup fallbacks (exact -> nearest bucket -> same arch -> default), each with its reason, and
// the rule that a result that is not ok is never returned.
#include "db/database.h"
#include "db_test_util.h"

namespace attnjit {
namespace {

using testing::kTemplateHash;
using testing::ok_result;

class Lookup : public ::testing::Test {
 protected:
  void SetUp() override {
    db.upsert_device(h100);
    db.upsert_device(h100_other_driver);
    db.upsert_device(a100);
  }
  LookupResult find(const DeviceInfo& d, const std::string& problem,
                    std::string_view tmpl = kTemplateHash) {
    return db.lookup(d, ProblemSpec::parse(problem), tmpl);
  }
  void put(const DeviceInfo& d, const std::string& problem, const std::string& config, double ms) {
    db.record_result(ok_result(d, problem, config, ms));
  }

  Database db = Database::open(":memory:");
  DeviceInfo h100 = testing::gpu();
  DeviceInfo h100_other_driver = testing::gpu("NVIDIA H100 80GB HBM3", "sm_90a", 132, "575.51");
  DeviceInfo a100 = testing::gpu("NVIDIA A100-SXM4-80GB", "sm_80", 108);
};

TEST_F(Lookup, ExactHit) {
  put(h100, "prefill_bf16_hd128_causal_g1_q4096_k4096", "bm128_bn64_w4_s2", 1.0);
  put(h100, "prefill_bf16_hd128_causal_g1_q4096_k4096", "bm128_bn128_w8_s2", 0.8);
  LookupResult l = find(h100, "prefill_bf16_hd128_causal_g1_q4096_k4096");
  EXPECT_EQ(l.reason, LookupReason::Exact);
  ASSERT_TRUE(l.entry);
  EXPECT_EQ(l.entry->config, "bm128_bn128_w8_s2");
  EXPECT_EQ(l.entry->problem, "prefill_bf16_hd128_causal_g1_q4096_k4096");
  EXPECT_EQ(l.entry->device, h100.fingerprint());
  EXPECT_EQ(l.distance, 0);
  EXPECT_NE(l.explanation.find("exact"), std::string::npos) << l.explanation;
}

TEST_F(Lookup, NearestBucketOnSameDeviceWithDistanceAndTunedProblem) {
  put(h100, "prefill_bf16_hd128_causal_g1_q1024_k1024", "bm64_bn64_w4_s2", 0.1);    // distance 4
  put(h100, "prefill_bf16_hd128_causal_g1_q2048_k4096", "bm128_bn64_w4_s2", 0.5);   // distance 1
  put(h100, "prefill_bf16_hd128_causal_g1_q65536_k65536", "bm128_bn128_w8_s2", 9);  // distance 8
  LookupResult l = find(h100, "prefill_bf16_hd128_causal_g1_q4096_k4096");
  EXPECT_EQ(l.reason, LookupReason::NearestBucket);
  ASSERT_TRUE(l.entry);
  EXPECT_EQ(l.entry->config, "bm128_bn64_w4_s2");
  EXPECT_EQ(l.entry->problem, "prefill_bf16_hd128_causal_g1_q2048_k4096");
  EXPECT_DOUBLE_EQ(l.distance, 1.0);
  EXPECT_NE(l.explanation.find("prefill_bf16_hd128_causal_g1_q2048_k4096"), std::string::npos);
}

// Only the bucket fields (and a soft-cap's value) may differ: a varlen, ALiBi or fp8-K/V
// problem never borrows a dense one's config, nor the other way round.
TEST_F(Lookup, NearestBucketStaysWithinOneVariant) {
  put(h100, "prefill_bf16_hd128_causal_g1_q2048_k2048", "bm64_bn64_w4_s2", 0.5);
  put(h100, "prefill_bf16_hd128_causal_g1_q16384_k16384_varlen", "bm128_bn64_w4_s2", 0.5);
  put(h100, "prefill_bf16_hd128_causal_sc30_g1_q2048_k2048", "bm128_bn128_w8_s2", 0.5);
  put(h100, "decode_bf16_hd128_none_g8_q1_k32768_p0", "bm1_bn16_w4_s4_v8", 0.5);
  LookupResult v = find(h100, "prefill_bf16_hd128_causal_g1_q4096_k4096_varlen");
  EXPECT_EQ(v.reason, LookupReason::NearestBucket);
  EXPECT_EQ(v.entry->problem, "prefill_bf16_hd128_causal_g1_q16384_k16384_varlen");
  EXPECT_EQ(find(h100, "prefill_bf16_hd128_causal_g1_q4096_k4096").entry->problem,
            "prefill_bf16_hd128_causal_g1_q2048_k2048");
  EXPECT_EQ(find(h100, "prefill_bf16_hd128_causal_sc50_g1_q4096_k4096").entry->problem,
            "prefill_bf16_hd128_causal_sc30_g1_q2048_k2048");
  // Nothing tuned for these variants here or on any sm_90a device: the template's default.
  EXPECT_EQ(find(h100, "prefill_bf16_hd128_causal_alibi_g1_q4096_k4096").reason, LookupReason::Default);
  EXPECT_EQ(find(h100_other_driver, "prefill_bf16_hd128_causal_sink_g1_q2048_k2048").reason,
            LookupReason::Default);
  EXPECT_EQ(find(h100, "decode_bf16_hd128_none_g8_q1_k65536_p0_kv-e4m3").reason, LookupReason::Default);
  EXPECT_EQ(find(h100, "decode_bf16_hd128_none_g8_q1_k65536_p0").reason, LookupReason::NearestBucket);
}

TEST_F(Lookup, NearestBucketTiesBreakDeterministically) {
  // Both at distance 1; the closer GQA group wins, then the matching "even" flag.
  put(h100, "prefill_bf16_hd128_none_g8_q2048_k2048", "bm64_bn64_w4_s2", 0.5);
  put(h100, "prefill_bf16_hd128_none_g4_q8192_k2048", "bm128_bn64_w4_s2", 0.5);
  EXPECT_EQ(find(h100, "prefill_bf16_hd128_none_g4_q4096_k2048").entry->config, "bm128_bn64_w4_s2");
  put(h100, "prefill_bf16_hd128_none_g2_q1024_k1024_even", "bm64_bn128_w4_s2", 0.5);
  put(h100, "prefill_bf16_hd128_none_g2_q1024_k1024", "bm128_bn128_w8_s2", 0.5);
  put(h100, "prefill_bf16_hd128_none_g2_q4096_k1024_even", "bm64_bn32_w4_s2", 0.5);
  // Distance 1 each from q2048_k1024_even; same group; the "even" ones win; then key order.
  LookupResult l = find(h100, "prefill_bf16_hd128_none_g2_q2048_k1024_even");
  EXPECT_EQ(l.reason, LookupReason::NearestBucket);
  EXPECT_EQ(l.entry->problem, "prefill_bf16_hd128_none_g2_q1024_k1024_even");
  // The same answer every time and from a fresh connection's perspective (no hidden state).
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(find(h100, "prefill_bf16_hd128_none_g2_q2048_k1024_even").entry->problem,
              "prefill_bf16_hd128_none_g2_q1024_k1024_even");
}

TEST_F(Lookup, NearestBucketNeedsSameDtypeHeadDimFamilyMaskWindowAndPageSize) {
  put(h100, "prefill_f16_hd128_causal_g1_q4096_k4096", "bm64_bn64_w4_s2", 0.1);   // other dtype
  put(h100, "prefill_bf16_hd64_causal_g1_q4096_k4096", "bm64_bn64_w4_s2", 0.1);   // other head dim
  put(h100, "prefill_bf16_hd128_none_g1_q4096_k4096", "bm64_bn64_w4_s2", 0.1);    // other mask
  put(h100, "prefill_bf16_hd128_sw512-0_g1_q4096_k4096", "bm64_bn64_w4_s2", 0.1); // other window
  put(h100, "decode_bf16_hd128_none_g1_q1_k4096_p16", "bm64_bn64_w4_s2_sp4", 0.1); // other page
  put(h100, "decode_bf16_hd128_none_g1_q1_k4096_p0", "bm64_bn64_w4_s2_sp8", 0.1);
  EXPECT_EQ(find(h100, "prefill_bf16_hd128_causal_g1_q8192_k8192").reason, LookupReason::Default);
  EXPECT_EQ(find(h100, "prefill_bf16_hd128_sw1024-0_g1_q8192_k8192").reason, LookupReason::Default);
  LookupResult w = find(h100, "prefill_bf16_hd128_sw512-0_g1_q8192_k8192");
  EXPECT_EQ(w.reason, LookupReason::NearestBucket);
  EXPECT_EQ(w.entry->problem, "prefill_bf16_hd128_sw512-0_g1_q4096_k4096");
  LookupResult d = find(h100, "decode_bf16_hd128_none_g1_q1_k8192_p16");
  EXPECT_EQ(d.reason, LookupReason::NearestBucket);
  EXPECT_EQ(d.entry->config, "bm64_bn64_w4_s2_sp4");
  EXPECT_EQ(find(h100, "decode_bf16_hd128_none_g1_q1_k8192_p32").reason, LookupReason::Default);
}

TEST_F(Lookup, SameArchFromAnotherDevice) {
  // Tuned only on the H100 with the other driver and on an A100: an sm_90a device borrows the
  // H100's config, never the A100's.
  put(h100_other_driver, "prefill_bf16_hd128_causal_g1_q4096_k4096", "bm128_bn128_w8_s2", 0.5);
  put(a100, "prefill_bf16_hd128_causal_g1_q4096_k4096", "bm128_bn64_w4_s2", 0.4);
  LookupResult l = find(h100, "prefill_bf16_hd128_causal_g1_q4096_k4096");
  EXPECT_EQ(l.reason, LookupReason::SameArch);
  ASSERT_TRUE(l.entry);
  EXPECT_EQ(l.entry->device, h100_other_driver.fingerprint());
  EXPECT_EQ(l.entry->config, "bm128_bn128_w8_s2");
  EXPECT_EQ(l.entry->target, "sm_90a");
  EXPECT_DOUBLE_EQ(l.distance, 0);
  // A device that was never registered at all still falls back by its arch.
  DeviceInfo unknown = testing::gpu("NVIDIA H200", "sm_90a", 132, "999.1");
  EXPECT_EQ(find(unknown, "prefill_bf16_hd128_causal_g1_q4096_k4096").reason, LookupReason::SameArch);
  // Same arch, nearest bucket of the other device.
  LookupResult n = find(h100, "prefill_bf16_hd128_causal_g1_q8192_k4096");
  EXPECT_EQ(n.reason, LookupReason::SameArch);
  EXPECT_DOUBLE_EQ(n.distance, 1);
  // By target key (CLI / service form).
  LookupResult t = db.lookup("sm_80", ProblemSpec::parse("prefill_bf16_hd128_causal_g1_q4096_k4096"),
                             kTemplateHash);
  EXPECT_EQ(t.reason, LookupReason::SameArch);
  EXPECT_EQ(t.entry->config, "bm128_bn64_w4_s2");
  // By fingerprint string: the device's own entry is exact.
  LookupResult f = db.lookup(a100.fingerprint(),
                             ProblemSpec::parse("prefill_bf16_hd128_causal_g1_q4096_k4096"), "");
  EXPECT_EQ(f.reason, LookupReason::Exact);
}

TEST_F(Lookup, SameArchPrefersTheSameGpuModelThenTheClosestSmCount) {
  const std::string p = "prefill_bf16_hd128_causal_g1_q4096_k4096";
  DeviceInfo pcie = testing::gpu("NVIDIA H100 PCIe", "sm_90a", 114);
  DeviceInfo h800 = testing::gpu("NVIDIA H800", "sm_90a", 132);
  DeviceInfo h20 = testing::gpu("NVIDIA H20", "sm_90a", 78);
  for (const auto* d : {&pcie, &h800, &h20}) db.upsert_device(*d);
  put(pcie, p, "bm64_bn64_w4_s2", 0.3);
  put(h20, p, "bm64_bn128_w4_s2", 0.2);
  put(h800, p, "bm128_bn64_w4_s2", 0.9);
  // No same-name device: the closest SM count (H800, 132) wins over faster entries elsewhere.
  EXPECT_EQ(find(h100, p).entry->device, h800.fingerprint());
  // The same model under another driver beats everything else of the arch.
  put(h100_other_driver, p, "bm128_bn128_w8_s2", 2.0);
  EXPECT_EQ(find(h100, p).entry->device, h100_other_driver.fingerprint());
  // The problem comes before the device: another model's exact bucket beats the same model's
  // neighbouring one (distance 1).
  put(h800, "prefill_bf16_hd128_causal_g1_q8192_k4096", "bm128_bn64_w8_s3", 1.0);
  LookupResult l = find(h100, "prefill_bf16_hd128_causal_g1_q8192_k4096");
  EXPECT_EQ(l.reason, LookupReason::SameArch);
  EXPECT_EQ(l.entry->device, h800.fingerprint());
  EXPECT_DOUBLE_EQ(l.distance, 0);
}

TEST_F(Lookup, DefaultWhenNothingMatches) {
  put(h100, "prefill_bf16_hd128_causal_g1_q4096_k4096", "bm128_bn64_w4_s2", 0.5);
  LookupResult l = find(a100, "prefill_bf16_hd128_causal_g1_q4096_k4096");
  EXPECT_EQ(l.reason, LookupReason::Default);
  EXPECT_FALSE(l.entry);
  EXPECT_NE(l.explanation.find("default"), std::string::npos) << l.explanation;
  // A different template version: its configs are stale for this one.
  EXPECT_EQ(find(h100, "prefill_bf16_hd128_causal_g1_q4096_k4096", "ffffffffffffffff").reason,
            LookupReason::Default);
  // "" = any template version.
  EXPECT_EQ(find(h100, "prefill_bf16_hd128_causal_g1_q4096_k4096", "").reason, LookupReason::Exact);
  EXPECT_EQ(db.lookup("00000000deadbeef",
                      ProblemSpec::parse("prefill_bf16_hd128_causal_g1_q4096_k4096"), "")
                .reason,
            LookupReason::Default);
  EXPECT_THROW(db.lookup("not a device", ProblemSpec::parse("prefill_bf16_hd128_causal_g1_q4096_k4096"), ""),
               SpecError);
}

TEST_F(Lookup, NonOkResultsAreNeverReturned) {
  const std::string p = "prefill_bf16_hd128_causal_g1_q4096_k4096";
  for (ResultStatus s : {ResultStatus::CompileError, ResultStatus::LaunchError,
                         ResultStatus::WrongResult, ResultStatus::Timeout})
    db.record_result(testing::failed_result(h100, p, "bm128_bn64_w4_s2", s));
  db.record_result(testing::failed_result(h100_other_driver, p, "bm64_bn64_w4_s2",
                                          ResultStatus::WrongResult));
  EXPECT_EQ(find(h100, p).reason, LookupReason::Default);
  EXPECT_EQ(find(h100, "prefill_bf16_hd128_causal_g1_q2048_k4096").reason, LookupReason::Default);
  EXPECT_EQ(db.stats().best, 0);

  // An ok best that is re-measured as wrong is withdrawn; the next ok result takes over.
  put(h100, p, "bm128_bn128_w8_s2", 0.4);
  put(h100, p, "bm64_bn128_w4_s2", 0.6);
  EXPECT_EQ(find(h100, p).entry->config, "bm128_bn128_w8_s2");
  db.record_result(testing::failed_result(h100, p, "bm128_bn128_w8_s2", ResultStatus::WrongResult,
                                          1'800'000'000'000));
  LookupResult l = find(h100, p);
  EXPECT_EQ(l.reason, LookupReason::Exact);
  EXPECT_EQ(l.entry->config, "bm64_bn128_w4_s2");
  db.record_result(testing::failed_result(h100, p, "bm64_bn128_w4_s2", ResultStatus::Timeout,
                                          1'800'000'000'000));
  EXPECT_EQ(find(h100, p).reason, LookupReason::Default);
}

}  // namespace
}  // namespace attnjit
