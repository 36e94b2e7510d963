#include "tuner/correctness.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "runtime/half.h"

namespace attnjit::tuner {

namespace {

// Floors on the O tolerance: what fast exp2 and a different summation order may add on top of
// the straightforward same-precision error (measured on these problems: f32 kernels land
// around 1e-6, 16-bit ones within one output ulp).
double o_floor(DType dt) { return dt == DType::F32 ? 2e-5 : 1e-3; }
double lse_tolerance(DType dt) { return dt == DType::F32 ? 1e-4 : 1e-3; }

// The straightforward same-precision implementation's output, rounded like a kernel's.
std::vector<double> naive_same_precision(DType dt, const ReferenceProblem& p,
                                         const std::vector<double>& q, const std::vector<double>& k,
                                         const std::vector<double>& v) {
  const int64_t D = p.head_dim, group = p.heads_q / p.heads_kv;
  const float scale = static_cast<float>(p.scale > 0 ? p.scale : 1.0 / std::sqrt(double(D)));
  std::vector<double> o(static_cast<size_t>(p.batch * p.seqlen_q * p.heads_q * D), 0.0);
  std::vector<float> s(static_cast<size_t>(p.seqlen_k)), acc(static_cast<size_t>(D));
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t h = 0; h < p.heads_q; ++h) {
      // Ragged (decode) lengths: entry b has its own key count; the layout keeps seqlen_k rows.
      const int64_t sk = p.seqlens_k.empty() ? p.seqlen_k : p.seqlens_k[static_cast<size_t>(b)];
      // Ragged (varlen) query counts: rows past them are padding (O = 0).
      const int64_t sq = p.seqlens_q.empty() ? p.seqlen_q : p.seqlens_q[static_cast<size_t>(b)];
      const int64_t hk = h / group;
      for (int64_t i = 0; i < p.seqlen_q; ++i) {
        const double* qi = &q[static_cast<size_t>(((b * p.seqlen_q + i) * p.heads_q + h) * D)];
        float m = -std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j < sk; ++j) {
          if (i >= sq || !mask_allows(p.mask, i, j, sq, sk) || (p.mask_mod && !p.mask_mod(b, h, i, j))) {
            s[j] = -std::numeric_limits<float>::infinity();
            continue;
          }
          const double* kj = &k[static_cast<size_t>(((b * p.seqlen_k + j) * p.heads_kv + hk) * D)];
          float dot = 0.f;
          for (int64_t d = 0; d < D; ++d) dot += static_cast<float>(qi[d]) * static_cast<float>(kj[d]);
          s[j] = dot * scale;
          if (p.softcap > 0) s[j] = float(p.softcap) * std::tanh(s[j] / float(p.softcap));
          s[j] += static_cast<float>(alibi_bias(p, b, h, i, j, sq, sk));
          if (p.score_mod) s[j] = static_cast<float>(p.score_mod(s[j], b, h, i, j));
          m = std::max(m, s[j]);
        }
        double* oi = &o[static_cast<size_t>(((b * p.seqlen_q + i) * p.heads_q + h) * D)];
        if (m == -std::numeric_limits<float>::infinity()) continue;  // empty row: O = 0
        std::fill(acc.begin(), acc.end(), 0.f);
        float l = 0.f;
        for (int64_t j = 0; j < sk; ++j) {
          if (s[j] == -std::numeric_limits<float>::infinity()) continue;
          const float pj = std::exp(s[j] - m);
          l += pj;
          const float pr = round_to(dt, pj);
          const double* vj = &v[static_cast<size_t>(((b * p.seqlen_k + j) * p.heads_kv + hk) * D)];
          for (int64_t d = 0; d < D; ++d) acc[d] += pr * static_cast<float>(vj[d]);
        }
        if (!p.sinks.empty()) l += std::exp(static_cast<float>(p.sinks[static_cast<size_t>(h)]) - m);
        for (int64_t d = 0; d < D; ++d) oi[d] = round_to(dt, acc[d] / l);
      }
    }
  return o;
}

std::string describe(const char* what, size_t i, double got, double want) {
  std::ostringstream s;
  s.precision(6);
  s << what << "[" << i << "] = " << got << " (expected " << want << ")";
  return s.str();
}

}  // namespace

Expected reference_expected(const ProblemSpec& spec, const ReferenceProblem& p,
                            const std::vector<double>& q, const std::vector<double>& k,
                            const std::vector<double>& v) {
  Expected e;
  e.o.resize(static_cast<size_t>(p.batch * p.seqlen_q * p.heads_q * p.head_dim));
  e.lse.resize(static_cast<size_t>(p.batch * p.heads_q * p.seqlen_q));
  reference_attention(p, q.data(), k.data(), v.data(), e.o.data(), e.lse.data());
  const std::vector<double> naive = naive_same_precision(spec.dtype, p, q, k, v);
  double naive_err = 0;
  for (size_t i = 0; i < naive.size(); ++i) naive_err = std::max(naive_err, std::abs(naive[i] - e.o[i]));
  e.o_tolerance = 2 * naive_err + o_floor(spec.dtype);
  e.lse_tolerance = lse_tolerance(spec.dtype);
  return e;
}

Expected baseline_expected(const std::vector<float>& o, const std::vector<float>& lse,
                           const Expected& reduced) {
  Expected e;
  e.o.assign(o.begin(), o.end());
  e.lse.assign(lse.begin(), lse.end());
  e.o_tolerance = 2 * reduced.o_tolerance;
  e.lse_tolerance = 2 * reduced.lse_tolerance;
  return e;
}

CheckOutcome compare(const Expected& want, const std::vector<float>& o, const std::vector<float>& lse) {
  CheckOutcome r;
  r.tolerance = want.o_tolerance;
  if (o.size() != want.o.size() || lse.size() != want.lse.size()) {
    r.reason = "output size mismatch";
    return r;
  }
  double worst_ratio = 0;
  for (size_t i = 0; i < o.size(); ++i) {
    const double err = std::abs(static_cast<double>(o[i]) - want.o[i]);
    if (std::isnan(o[i]) || std::isinf(o[i])) {
      r.max_error = std::numeric_limits<double>::infinity();
      r.reason = describe("O", i, o[i], want.o[i]) + " — unwritten or not finite";
      return r;
    }
    r.max_error = std::max(r.max_error, err);
    if (err > want.o_tolerance && r.reason.empty())
      r.reason = describe("O", i, o[i], want.o[i]);
  }
  for (size_t i = 0; i < lse.size(); ++i) {
    const double g = lse[i], w = want.lse[i];
    if (std::isnan(g)) {
      r.max_error = std::numeric_limits<double>::infinity();
      r.reason = describe("LSE", i, g, w) + " — unwritten or NaN";
      return r;
    }
    if (std::isinf(w) || std::isinf(g)) {
      if (g != w && r.reason.empty()) {
        r.reason = describe("LSE", i, g, w);
        worst_ratio = std::numeric_limits<double>::infinity();
      }
      continue;
    }
    const double ratio = std::abs(g - w) / want.lse_tolerance;
    worst_ratio = std::max(worst_ratio, ratio);
    if (ratio > 1 && r.reason.empty()) r.reason = describe("LSE", i, g, w);
  }
  // One number for the database: the LSE error expressed on the O tolerance's scale, so
  // max_error <= tolerance exactly when both checks pass.
  r.max_error = std::max(r.max_error, worst_ratio * want.o_tolerance);
  r.ok = r.reason.empty();
  return r;
}

}  // namespace attnjit::tuner
