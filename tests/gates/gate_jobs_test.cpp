// The gate runner's job plumbing, without compiling: ATTNJIT_GATES_ONLY keeps the matching jobs
// only, and two renders count as one kernel exactly when they differ in comment lines alone.
#include <cstdlib>

#include "codegen/registry.h"
#include "gates/gate_jobs.h"

namespace attnjit {
namespace {

struct OnlyEnv {
  explicit OnlyEnv(const char* v) { ::setenv("ATTNJIT_GATES_ONLY", v, 1); }
  ~OnlyEnv() { ::unsetenv("ATTNJIT_GATES_ONLY"); }
};

TEST(GateJobs, OnlyKeepsTheJobsWhoseNameMatches) {
  const size_t all = gates::gate_jobs(/*full=*/true, 0).size();
  OnlyEnv only("^prefill_sm90/.*_hd256_");
  const std::vector<gates::Job> jobs = gates::gate_jobs(/*full=*/true, 0);
  ASSERT_FALSE(jobs.empty());
  EXPECT_LT(jobs.size(), all);
  for (const gates::Job& j : jobs) {
    EXPECT_EQ(j.tmpl->name(), "prefill_sm90") << j.name();
    EXPECT_EQ(j.spec.head_dim, 256) << j.name();
  }
}

ProblemSpec sm90_spec(bool even) {
  ProblemSpec s;
  s.family = Family::Prefill;
  s.dtype = DType::BF16;
  s.head_dim = 128;
  s.mask = {MaskKind::Causal, 0, 0};
  s.seqlen_q = s.seqlen_k = 1024;
  s.even = even;
  return s;
}

TEST(GateJobs, RendersDifferingOnlyInTheirNameAreOneKernel) {
  const Target target = Target::cuda("sm_90a");
  TileConfig named;
  named.tmpl = "sm90";
  const KernelTemplate& t = template_for(sm90_spec(false), target, named);
  const TileConfig cfg = t.default_config(sm90_spec(false), target);
  const KernelSource uneven = t.render(sm90_spec(false), cfg, target);
  const KernelSource even = t.render(sm90_spec(true), cfg, target);
  ASSERT_NE(uneven.hash, even.hash);  // the names (first comment line) differ
  EXPECT_EQ(gates::compiled_content_key(uneven), gates::compiled_content_key(even));
  TileConfig other = cfg;
  other.block_n = 64;
  ASSERT_FALSE(t.can_implement(sm90_spec(false), other, target));
  EXPECT_NE(gates::compiled_content_key(t.render(sm90_spec(false), other, target)),
            gates::compiled_content_key(uneven));
}

}  // namespace
}  // namespace attnjit
