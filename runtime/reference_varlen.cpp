#include "runtime/reference_varlen.h"

#include <numeric>
#include <vector>

#include "runtime/reference_attention.h"

namespace attnjit {

int64_t VarlenReferenceProblem::total_q() const {
  return std::accumulate(seqlens_q.begin(), seqlens_q.end(), int64_t{0});
}
int64_t VarlenReferenceProblem::total_k() const {
  return std::accumulate(seqlens_k.begin(), seqlens_k.end(), int64_t{0});
}

void reference_attention_varlen(const VarlenReferenceProblem& p, const double* q, const double* k,
                                const double* v, double* o, double* lse) {
  if (p.seqlens_q.size() != p.seqlens_k.size())
    throw SpecError("reference_attention_varlen: seqlens_q and seqlens_k differ in length");
  const int64_t D = p.head_dim, total_q = p.total_q();
  int64_t rq = 0, rk = 0;  // first rows of the current sequence
  std::vector<double> seq_lse;
  for (size_t b = 0; b < p.seqlens_q.size(); ++b) {
    const int64_t sq = p.seqlens_q[b], sk = p.seqlens_k[b];
    if (sq < 0 || sk < 0) throw SpecError("reference_attention_varlen: negative sequence length");
    if (sq > 0) {
      // One sequence is a batch of one in the dense reference: same rows, same alignment.
      ReferenceProblem rp = reference_problem_at({1, p.heads_q, p.heads_kv, sq, sk}, D, p.mask, p.softcap);
      rp.scale = p.scale;
      seq_lse.assign(static_cast<size_t>(p.heads_q * sq), 0.0);
      reference_attention(rp, q + rq * p.heads_q * D, k + rk * p.heads_kv * D, v + rk * p.heads_kv * D,
                          o + rq * p.heads_q * D, seq_lse.data());
      if (lse)  // [1, heads, sq] -> [heads, total_q]
        for (int64_t h = 0; h < p.heads_q; ++h)
          for (int64_t i = 0; i < sq; ++i) lse[h * total_q + rq + i] = seq_lse[static_cast<size_t>(h * sq + i)];
    }
    rq += sq;
    rk += sk;
  }
}

}  // namespace attnjit
