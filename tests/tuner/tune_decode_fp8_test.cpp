// An fp8 KV cache through the tuner: its K+V bytes count one per element, and on the CPU
// backend every candidate of a paged e4m3 problem with 4-token pages passes the correctness gate
// (the reduced problem's K/V go through the cache's codes and scales, the reference sees them).
#include <gtest/gtest.h>

#include "codegen/registry.h"
#include "db/database.h"
#include "tuner/tuner.h"
#include "tuner/workload.h"
#include "tuner_test_util.h"

namespace attnjit::tuner {
namespace {

TEST(TuneDecodeFp8, KvBytesCountTheCodes) {
  const ProblemSpec bf16 = ProblemSpec::parse("decode_bf16_hd128_none_g8_q1_k32768_p16");
  const ProblemSpec e4 = ProblemSpec::parse("decode_bf16_hd128_none_g8_q1_k32768_p16_kv-e4m3");
  const RunShape s = tuning_shape(e4, Platform::Cuda);
  EXPECT_DOUBLE_EQ(decode_kv_bytes(e4, s) * 2, decode_kv_bytes(bf16, s));
}

#ifdef ATTNJIT_WITH_LLVM
TEST(TuneDecodeFp8, CpuCandidatesPassTheGate) {
  Backend& be = testing::cpu_backend();
  const ProblemSpec spec = ProblemSpec::parse("decode_bf16_hd64_causal_g2_q2_k512_p4_kv-e4m3");
  const KernelTemplate& real = select_template(spec, be.target());
  testing::RestrictedTemplate tmpl(real, testing::small_space(real, spec, be.target(), 2));
  Database db = Database::open(":memory:");
  DbResultStore store(db, device_info_for(be));
  TuneOptions o;
  o.measure.max_seconds = 0.15;
  o.measure.min_samples = 5;
  o.strategy = Strategy::Random;
  o.budget.candidates = 3;
  InProcessExecutor ex(be, tmpl, spec, EvaluatorOptions{}, 2);
  const TuneReport rep = tune_problem(ex, tmpl, be.target(), spec, o, &store);
  ASSERT_TRUE(rep.best.has_value()) << rep.baseline_note;
  EXPECT_EQ(rep.baseline_note, "");
  for (const CandidateResult& r : rep.results) {
    EXPECT_EQ(r.status, CandidateStatus::Ok) << r.key() << ": " << r.reason;
    EXPECT_LE(r.max_error, r.tolerance) << r.key();
    EXPECT_GT(r.gbps, 0) << r.key();
  }
}
#endif

}  // namespace
}  // namespace attnjit::tuner
