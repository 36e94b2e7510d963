#include "runtime/reference_attention.h"

#include <cmath>
#include <limits>
#include <string>

#include "templates/common/variants.h"

namespace attnjit {

ReferenceProblem reference_problem_at(const RunShape& shape, int64_t head_dim, const MaskSpec& mask,
                                   double softcap) {
  return {.batch = shape.batch, .heads_q = shape.heads_q, .heads_kv = shape.heads_kv,
          .seqlen_q = shape.seqlen_q, .seqlen_k = shape.seqlen_k, .head_dim = head_dim,
          .mask = mask, .softcap = softcap};
}

bool mask_allows(const MaskSpec& mask, int64_t i, int64_t j, int64_t sq, int64_t sk) {
  const int64_t p = i + sk - sq;
  switch (mask.kind) {
    case MaskKind::None: return true;
    case MaskKind::Causal: return j <= p;
    case MaskKind::SlidingWindow: return j >= p - mask.window_left && j <= p + mask.window_right;
  }
  return true;
}

double alibi_bias(const ReferenceProblem& p, int64_t b, int64_t h, int64_t i, int64_t j, int64_t sq, int64_t sk) {
  if (p.alibi_slopes.empty()) return 0;
  return -p.alibi_slopes[static_cast<size_t>(b * p.alibi_batch_stride + h)] * std::abs(double(i + sk - sq - j));
}

void reference_attention(const ReferenceProblem& p, const double* q, const double* k,
                         const double* v, double* o, double* lse) {
  if (p.batch < 1 || p.heads_q < 1 || p.heads_kv < 1 || p.seqlen_q < 0 || p.seqlen_k < 0 ||
      p.head_dim < 1 || p.heads_q % p.heads_kv != 0)
    throw SpecError("reference_attention: inconsistent problem sizes");
  if (!p.seqlens_k.empty() && static_cast<int64_t>(p.seqlens_k.size()) != p.batch)
    throw SpecError("reference_attention: seqlens_k must have one entry per batch");
  if (!p.seqlens_q.empty() && static_cast<int64_t>(p.seqlens_q.size()) != p.batch)
    throw SpecError("reference_attention: seqlens_q must have one entry per batch");
  if (!p.alibi_slopes.empty() &&
      static_cast<int64_t>(p.alibi_slopes.size()) < (p.alibi_batch_stride ? (p.batch - 1) * p.alibi_batch_stride : 0) + p.heads_q)
    throw SpecError("reference_attention: alibi_slopes too short for batch_stride and heads_q");
  if (!p.sinks.empty() && static_cast<int64_t>(p.sinks.size()) != p.heads_q)
    throw SpecError("reference_attention: sinks must have one entry per query head");
  const int64_t D = p.head_dim, G = p.heads_q / p.heads_kv;
  const double scale = p.scale != 0 ? p.scale : 1.0 / std::sqrt(static_cast<double>(D));
  validate_softcap(p.softcap);
  std::vector<double> s(static_cast<size_t>(p.seqlen_k));
  for (int64_t b = 0; b < p.batch; ++b) {
    const int64_t sk = p.seqlens_k.empty() ? p.seqlen_k : p.seqlens_k[b];
    if (sk > p.seqlen_k) throw SpecError("reference_attention: seqlens_k[b] > seqlen_k");
    const int64_t sq = p.seqlens_q.empty() ? p.seqlen_q : p.seqlens_q[b];
    if (sq > p.seqlen_q || sq < 0) throw SpecError("reference_attention: seqlens_q[b] outside 0..seqlen_q");
    for (int64_t h = 0; h < p.heads_q; ++h) {
      const int64_t hk = h / G;
      for (int64_t i = 0; i < p.seqlen_q; ++i) {
        const double* qi = q + ((b * p.seqlen_q + i) * p.heads_q + h) * D;
        double m = -std::numeric_limits<double>::infinity();
        for (int64_t j = 0; j < sk; ++j) {
          if (i >= sq || !mask_allows(p.mask, i, j, sq, sk) ||  // rows past sq: no query
              (p.mask_mod && !p.mask_mod(b, h, i, j))) {
            s[j] = -std::numeric_limits<double>::infinity();
            continue;
          }
          const double* kj = k + ((b * p.seqlen_k + j) * p.heads_kv + hk) * D;
          double dot = 0;
          for (int64_t d = 0; d < D; ++d) dot += qi[d] * kj[d];
          s[j] = p.softcap > 0 ? variants::SoftCap<double>::make(p.softcap, 1.0)(
                                     dot * scale, [](double x) { return std::tanh(x); })
                               : dot * scale;
          s[j] += alibi_bias(p, b, h, i, j, sq, sk);
          if (p.score_mod) s[j] = p.score_mod(s[j], b, h, i, j);
          if (std::isnan(s[j])) throw SpecError("reference_attention: score_mod returned NaN");
          m = std::max(m, s[j]);
        }
        double* oi = o + ((b * p.seqlen_q + i) * p.heads_q + h) * D;
        for (int64_t d = 0; d < D; ++d) oi[d] = 0;
        double* lse_i = lse ? lse + (b * p.heads_q + h) * p.seqlen_q + i : nullptr;
        if (m == -std::numeric_limits<double>::infinity()) {  // no visible key
          if (lse_i) *lse_i = p.sinks.empty() ? -std::numeric_limits<double>::infinity() : p.sinks[h];
          continue;
        }
        double sum = 0;
        for (int64_t j = 0; j < sk; ++j) {
          if (s[j] == -std::numeric_limits<double>::infinity()) continue;
          const double w = std::exp(s[j] - m);
          sum += w;
          const double* vj = v + ((b * p.seqlen_k + j) * p.heads_kv + hk) * D;
          for (int64_t d = 0; d < D; ++d) oi[d] += w * vj[d];
        }
        if (!p.sinks.empty()) sum += std::exp(p.sinks[h] - m);  // straight from the definition
        for (int64_t d = 0; d < D; ++d) oi[d] /= sum;
        if (lse_i) *lse_i = m + std::log(sum);
      }
    }
  }
}

}  // namespace attnjit
