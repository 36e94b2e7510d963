#include "runtime/reference_attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <tuple>
#include <vector>

namespace attnjit {
namespace {

std::vector<double> randn(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> d;
  std::vector<double> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

struct Run {
  std::vector<double> o, lse;
};

Run run(const ReferenceProblem& p, const std::vector<double>& q, const std::vector<double>& k,
        const std::vector<double>& v) {
  Run r;
  r.o.assign(p.batch * p.seqlen_q * p.heads_q * p.head_dim, std::nan(""));
  r.lse.assign(p.batch * p.heads_q * p.seqlen_q, std::nan(""));
  reference_attention(p, q.data(), k.data(), v.data(), r.o.data(), r.lse.data());
  return r;
}

TEST(ReferenceAttention, HandComputedTwoKeys) {
  // One query [1, 0], keys [1, 0] and [0, 1], values [1, 2] and [3, 4], scale 1:
  // scores 1 and 0 → weights e/(e+1), 1/(e+1).
  ReferenceProblem p = reference_problem_at({1, 1, 1, 1, 2}, 2, {});
  p.scale = 1.0;
  auto r = run(p, {1, 0}, {1, 0, 0, 1}, {1, 2, 3, 4});
  const double e = std::exp(1.0), w0 = e / (e + 1), w1 = 1 / (e + 1);
  EXPECT_NEAR(r.o[0], w0 * 1 + w1 * 3, 1e-12);
  EXPECT_NEAR(r.o[1], w0 * 2 + w1 * 4, 1e-12);
  EXPECT_NEAR(r.lse[0], std::log(e + 1), 1e-12);
}

TEST(ReferenceAttention, CausalRowZeroSeesOnlyKeyZero) {
  const ReferenceProblem p = reference_problem_at({1, 1, 1, 5, 5}, 8, {MaskKind::Causal, 0, 0});
  auto q = randn(5 * 8, 1), k = randn(5 * 8, 2), v = randn(5 * 8, 3);
  auto r = run(p, q, k, v);
  for (int d = 0; d < 8; ++d) EXPECT_NEAR(r.o[d], v[d], 1e-12);  // softmax over one key = 1
  double dot = 0;
  for (int d = 0; d < 8; ++d) dot += q[d] * k[d];
  EXPECT_NEAR(r.lse[0], dot / std::sqrt(8.0), 1e-12);
}

TEST(ReferenceAttention, UnboundedWindowEqualsNoMask) {
  ReferenceProblem p = reference_problem_at({2, 2, 2, 7, 11}, 16, {});
  auto q = randn(2 * 7 * 2 * 16, 4), k = randn(2 * 11 * 2 * 16, 5), v = randn(2 * 11 * 2 * 16, 6);
  auto full = run(p, q, k, v);
  p.mask = {MaskKind::SlidingWindow, 1 << 20, 1 << 20};
  auto win = run(p, q, k, v);
  EXPECT_EQ(full.o, win.o);
  EXPECT_EQ(full.lse, win.lse);
}

TEST(ReferenceAttention, WindowEqualsFullAttentionOnSlicedKeys) {
  // Metamorphic: with sq == sk, query i under window (L, 0) equals unmasked attention over
  // keys [i-L, i].
  const ReferenceProblem p = reference_problem_at({1, 1, 1, 9, 9}, 4, {MaskKind::SlidingWindow, 3, 0});
  auto q = randn(9 * 4, 7), k = randn(9 * 4, 8), v = randn(9 * 4, 9);
  auto win = run(p, q, k, v);
  for (int i = 0; i < 9; ++i) {
    const int lo = std::max(0, i - 3), n = i - lo + 1;
    const ReferenceProblem s = reference_problem_at({1, 1, 1, 1, n}, 4, {});
    std::vector<double> qi(q.begin() + i * 4, q.begin() + i * 4 + 4);
    std::vector<double> ks(k.begin() + lo * 4, k.begin() + (i + 1) * 4);
    std::vector<double> vs(v.begin() + lo * 4, v.begin() + (i + 1) * 4);
    auto r = run(s, qi, ks, vs);
    for (int d = 0; d < 4; ++d) EXPECT_NEAR(win.o[i * 4 + d], r.o[d], 1e-12) << i;
    EXPECT_NEAR(win.lse[i], r.lse[0], 1e-12);
  }
}

TEST(ReferenceAttention, GqaEqualsRepeatedKvHeads) {
  const ReferenceProblem g = reference_problem_at({1, 8, 2, 5, 6}, 4, {MaskKind::Causal, 0, 0});
  auto q = randn(5 * 8 * 4, 10), k = randn(6 * 2 * 4, 11), v = randn(6 * 2 * 4, 12);
  auto gqa = run(g, q, k, v);
  ReferenceProblem m = g;
  m.heads_kv = 8;
  std::vector<double> k8(6 * 8 * 4), v8(6 * 8 * 4);
  for (int j = 0; j < 6; ++j)
    for (int h = 0; h < 8; ++h)
      for (int d = 0; d < 4; ++d) {
        k8[(j * 8 + h) * 4 + d] = k[(j * 2 + h / 4) * 4 + d];
        v8[(j * 8 + h) * 4 + d] = v[(j * 2 + h / 4) * 4 + d];
      }
  auto mha = run(m, q, k8, v8);
  EXPECT_EQ(gqa.o, mha.o);
  EXPECT_EQ(gqa.lse, mha.lse);
}

TEST(ReferenceAttention, LseIsLogSumExpOfScaledScores) {
  ReferenceProblem p = reference_problem_at({1, 1, 1, 3, 4}, 8, {});
  p.scale = 0.3;
  auto q = randn(3 * 8, 13), k = randn(4 * 8, 14), v = randn(4 * 8, 15);
  auto r = run(p, q, k, v);
  for (int i = 0; i < 3; ++i) {
    double sum = 0;
    for (int j = 0; j < 4; ++j) {
      double dot = 0;
      for (int d = 0; d < 8; ++d) dot += q[i * 8 + d] * k[j * 8 + d];
      sum += std::exp(0.3 * dot);
    }
    EXPECT_NEAR(r.lse[i], std::log(sum), 1e-12);
  }
}

TEST(ReferenceAttention, FullyMaskedRowsGiveZeroAndMinusInfinity) {
  // seqlen_q > seqlen_k with causal bottom-right alignment: the first sq - sk rows see nothing.
  const ReferenceProblem p = reference_problem_at({1, 1, 1, 6, 2}, 4, {MaskKind::Causal, 0, 0});
  auto r = run(p, randn(6 * 4, 16), randn(2 * 4, 17), randn(2 * 4, 18));
  for (int i = 0; i < 4; ++i) {
    for (int d = 0; d < 4; ++d) EXPECT_EQ(r.o[i * 4 + d], 0.0) << i;
    EXPECT_EQ(r.lse[i], -std::numeric_limits<double>::infinity());
  }
  for (int i = 4; i < 6; ++i) EXPECT_TRUE(std::isfinite(r.lse[i]));
  EXPECT_TRUE(mask_allows(p.mask, 5, 1, 6, 2));
  EXPECT_FALSE(mask_allows(p.mask, 4, 1, 6, 2));
}

TEST(ReferenceAttention, RaggedKvLengthsPerBatch) {
  ReferenceProblem p = reference_problem_at({2, 1, 1, 1, 5}, 4, {});
  p.seqlens_k = {5, 0};
  auto r = run(p, randn(2 * 4, 19), randn(2 * 5 * 4, 20), randn(2 * 5 * 4, 21));
  EXPECT_TRUE(std::isfinite(r.lse[0]));
  EXPECT_EQ(r.lse[1], -std::numeric_limits<double>::infinity());  // empty sequence
  for (int d = 0; d < 4; ++d) EXPECT_EQ(r.o[4 + d], 0.0);
}

TEST(ReferenceAttention, ProblemAtRunShapeTakesEverySize) {
  const RunShape shape{3, 8, 2, 5, 7};
  const MaskSpec window{MaskKind::SlidingWindow, 4, 1};
  const ReferenceProblem p = reference_problem_at(shape, 96, window, 30.5);
  EXPECT_EQ(std::make_tuple(p.batch, p.heads_q, p.heads_kv, p.seqlen_q, p.seqlen_k, p.head_dim),
            std::make_tuple(3, 8, 2, 5, 7, 96));
  EXPECT_EQ(p.mask, window);
  EXPECT_EQ(p.softcap, 30.5);
  EXPECT_EQ(p.scale, 0.0);  // the caller's: 0 still means 1/sqrt(head_dim)
  EXPECT_TRUE(p.seqlens_k.empty() && p.seqlens_q.empty() && p.alibi_slopes.empty() && p.sinks.empty());
}

TEST(ReferenceAttention, RejectsInconsistentSizes) {
  ReferenceProblem p;
  p.heads_q = 3;
  p.heads_kv = 2;
  std::vector<double> x(64);
  EXPECT_THROW(reference_attention(p, x.data(), x.data(), x.data(), x.data(), nullptr), SpecError);
}

}  // namespace
}  // namespace attnjit
