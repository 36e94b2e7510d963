// The tuner's side of varlen and paged prefill: cases with mixed lengths (one empty sequence) and
// shuffled pages pass the correctness gate on the CPU backend with the template's default config,
// a kernel's wrong answer on them is caught, and the shapes and keys read back.
#include <gtest/gtest.h>

#include <numeric>

#include "codegen/registry.h"
#include "runtime/cpu/cpu_backend.h"
#include "tuner/correctness.h"
#include "tuner/prefill_case.h"
#include "tuner/workload.h"
#include "variants/ragged_harness.h"

namespace attnjit::tuner {
namespace {

// Null when the CPU backend is not built (ATTNJIT_WITH_LLVM off, as on the GPU machine).
Backend* cpu_backend() {
  static std::unique_ptr<Backend> b = [] {
#if defined(ATTNJIT_WITH_LLVM)
    try {
      CpuBackendOptions o;
      o.cache_dir = variants_test::kernel_cache_dir();  // shared by this folder's test processes
      return make_cpu_backend(o);
    } catch (const BackendError&) {
      return std::unique_ptr<Backend>();
    }
#else
    return std::unique_ptr<Backend>();
#endif
  }();
  return b.get();
}

// Runs the spec's default config on its reduced (gate) case and compares with the reference.
CheckOutcome gate(Backend& be, const ProblemSpec& spec, float corrupt = 0.f) {
  const RunShape shape = reduced_shape(spec);
  PrefillCase c(be, spec, shape, 42, 1, /*reduced=*/true);
  const Target& t = be.target();
  const KernelTemplate& tmpl = select_template(spec, t);
  const TileConfig cfg = tmpl.default_config(spec, t);
  const auto kernel = be.get_kernel(tmpl.render(spec, cfg, t));
  c.poison(0);
  c.run_config(be, *kernel, tmpl.geometry(spec, cfg, t, shape), 0, cfg);
  std::vector<float> o, lse;
  c.read(0, o, lse);
  if (corrupt != 0.f) o[o.size() / 3] += corrupt;
  const Expected want = reference_expected(spec, c.reference_problem(), c.q_host(), c.k_host(), c.v_host());
  return compare(want, o, lse);
}

TEST(VarlenTune, ShapesCarryMixedLengths) {
  const ProblemSpec v = ProblemSpec::parse("prefill_f32_hd64_causal_g2_q256_k256_varlen");
  const RunShape r = reduced_shape(v);
  const auto lens = case_seqlens_q(v, r);
  EXPECT_EQ(static_cast<int64_t>(lens.size()), r.batch);
  EXPECT_EQ(std::accumulate(lens.begin(), lens.end(), int64_t{0}), r.total_q);
  EXPECT_EQ(*std::max_element(lens.begin(), lens.end()), r.seqlen_q);
  EXPECT_NE(std::find(lens.begin(), lens.end(), 0), lens.end()) << "the gate needs an empty sequence";
  EXPECT_EQ(RunShape::parse(r.key()), r);
  const RunShape t = tuning_shape(v, Platform::Cpu);
  EXPECT_GT(t.total_q, 0);
  EXPECT_EQ(RunShape::parse(t.key()).total_q, t.total_q);
}

TEST(VarlenTune, GatePassesVarlenAndPagedCasesAndCatchesAWrongAnswer) {
  Backend* be = cpu_backend();
  if (!be) GTEST_SKIP() << "CPU backend not built (LLVM off)";
  for (const char* key : {"prefill_f32_hd64_causal_g2_q256_k256_varlen", "prefill_bf16_hd64_none_g1_q256_k256_p4",
                          "prefill_f32_hd32_causal_g1_q256_k256_p16_varlen"}) {
    SCOPED_TRACE(key);
    const ProblemSpec spec = ProblemSpec::parse(key);
    const CheckOutcome ok = gate(*be, spec);
    EXPECT_TRUE(ok.ok) << ok.reason;
    const CheckOutcome bad = gate(*be, spec, 0.5f);
    EXPECT_FALSE(bad.ok);
  }
}

}  // namespace
}  // namespace attnjit::tuner
