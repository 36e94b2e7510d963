// The correctness gate's comparison and tolerance, on host data (no kernel needed).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "runtime/half.h"
#include "tuner/correctness.h"

namespace attnjit::tuner {
namespace {

struct Case {
  ReferenceProblem p;
  std::vector<double> q, k, v;
};

Case make_case(DType dt, MaskSpec mask, int64_t sq, int64_t sk) {
  Case c;
  c.p.batch = 1;
  c.p.heads_q = 2;
  c.p.heads_kv = 1;
  c.p.seqlen_q = sq;
  c.p.seqlen_k = sk;
  c.p.head_dim = 32;
  c.p.mask = mask;
  std::mt19937 rng(3);
  std::normal_distribution<float> n(0, 1);
  auto fill = [&](std::vector<double>& x, size_t count) {
    x.resize(count);
    for (double& e : x) e = round_to(dt, n(rng));
  };
  fill(c.q, static_cast<size_t>(sq * 2 * 32));
  fill(c.k, static_cast<size_t>(sk * 32));
  fill(c.v, static_cast<size_t>(sk * 32));
  return c;
}

ProblemSpec spec_of(DType dt) {
  ProblemSpec s;
  s.dtype = dt;
  s.head_dim = 32;
  return s;
}

// The reference itself, stored like a kernel's output, must pass.
void as_kernel(const Expected& e, DType dt, std::vector<float>& o, std::vector<float>& lse) {
  o.clear();
  lse.clear();
  for (double x : e.o) o.push_back(round_to(dt, static_cast<float>(x)));
  for (double x : e.lse) lse.push_back(static_cast<float>(x));
}

TEST(Correctness, ReferenceRoundedToTheDtypePassesAndTolerancesScaleWithPrecision) {
  for (DType dt : {DType::F32, DType::BF16, DType::F16}) {
    Case c = make_case(dt, MaskSpec{MaskKind::Causal}, 40, 70);
    const Expected e = reference_expected(spec_of(dt), c.p, c.q, c.k, c.v);
    std::vector<float> o, lse;
    as_kernel(e, dt, o, lse);
    const CheckOutcome r = compare(e, o, lse);
    EXPECT_TRUE(r.ok) << r.reason;
    EXPECT_LE(r.max_error, r.tolerance);
  }
  Case c32 = make_case(DType::F32, {}, 20, 20), c16 = make_case(DType::BF16, {}, 20, 20);
  EXPECT_LT(reference_expected(spec_of(DType::F32), c32.p, c32.q, c32.k, c32.v).o_tolerance,
            reference_expected(spec_of(DType::BF16), c16.p, c16.q, c16.k, c16.v).o_tolerance);
}

TEST(Correctness, AWrongElementANanAndAnUnwrittenLseAreCaught) {
  Case c = make_case(DType::BF16, MaskSpec{MaskKind::Causal}, 16, 16);
  const Expected e = reference_expected(spec_of(DType::BF16), c.p, c.q, c.k, c.v);
  std::vector<float> o, lse;
  as_kernel(e, DType::BF16, o, lse);

  auto bad = o;
  bad[37] += 0.25f;
  CheckOutcome r = compare(e, bad, lse);
  EXPECT_FALSE(r.ok);
  EXPECT_GT(r.max_error, r.tolerance);
  EXPECT_NE(r.reason.find("O[37]"), std::string::npos) << r.reason;

  bad = o;
  bad[5] = std::numeric_limits<float>::quiet_NaN();
  r = compare(e, bad, lse);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.reason.find("not finite"), std::string::npos) << r.reason;

  auto bad_lse = lse;
  bad_lse[3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_FALSE(compare(e, o, bad_lse).ok);
  bad_lse = lse;
  bad_lse[3] += 0.5f;
  EXPECT_FALSE(compare(e, o, bad_lse).ok);
}

TEST(Correctness, EmptyRowsMustGiveZeroAndMinusInfinity) {
  // seqlen_q > seqlen_k under a causal mask: the first rows see no key.
  Case c = make_case(DType::F32, MaskSpec{MaskKind::Causal}, 24, 8);
  const Expected e = reference_expected(spec_of(DType::F32), c.p, c.q, c.k, c.v);
  ASSERT_TRUE(std::isinf(e.lse[0]) && e.lse[0] < 0);
  std::vector<float> o, lse;
  as_kernel(e, DType::F32, o, lse);
  EXPECT_TRUE(compare(e, o, lse).ok);
  lse[0] = 0.f;  // a kernel that forgot the empty row
  EXPECT_FALSE(compare(e, o, lse).ok);
}

TEST(Correctness, BaselineToleranceDoublesTheReducedOne) {
  Expected reduced;
  reduced.o_tolerance = 1e-3;
  reduced.lse_tolerance = 1e-4;
  const Expected b = baseline_expected({1.f, 2.f}, {0.5f}, reduced);
  EXPECT_DOUBLE_EQ(b.o_tolerance, 2e-3);
  EXPECT_TRUE(compare(b, {1.001f, 2.f}, {0.5f}).ok);
  EXPECT_FALSE(compare(b, {1.01f, 2.f}, {0.5f}).ok);
  EXPECT_FALSE(compare(b, {1.f}, {0.5f}).ok);  // size mismatch
}

}  // namespace
}  // namespace attnjit::tuner
