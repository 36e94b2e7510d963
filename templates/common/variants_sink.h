// Attention sinks (gpt-oss; FlashAttention-3's and FlashInfer's "sinks"): query head h has one
// learnable logit sink_h (f32, natural units, like the scaled scores) that joins the softmax
// denominator but has no value row:
//   O_i   = sum_j exp(s_ij - m) v_j / (exp(sink_h - m) + sum_j exp(s_ij - m))
//   LSE_i = log(exp(sink_h) + sum_j exp(s_ij))
// so a row with no visible key gives O = 0 and LSE = sink_h.
//
// Every template folds the sink in once per row, after its online softmax has finished (so the
// hot loop is untouched and split-KV partials never count it twice): with the row's natural LSE
// l and the factor f its output is scaled by, l' = logaddexp(l, sink) and f' = f * exp(l - l').
// Builtins only (see variants.h); the caller passes exp and log1p for its compiler.
#pragma once

#include "common/variants.h"

namespace attnjit {
namespace variants {

template <class C>
ATTNJIT_HD constexpr auto has_sink_(int) -> decltype(static_cast<bool>(C::kSink)) { return C::kSink; }
template <class C>
ATTNJIT_HD constexpr bool has_sink_(long) { return false; }
// Whether policy C declares sinks (a function, not a class constant: see softcap_of).
template <class C>
ATTNJIT_HD constexpr bool has_sink() { return has_sink_<C>(0); }

// A mask policy with sinks on top (sm80 templates pick it in their prelude).
template <class Base>
struct WithSink : Base {
  enum : bool { kSink = true };
};

// Folds `sink` into a finished row: lse (natural, -inf for an empty row) becomes
// logaddexp(lse, sink) and o_factor is multiplied by exp(old - new). -inf - (-inf) is never
// formed: an empty row gets lse = sink, factor 0 (its O is 0 anyway); a sink of -inf changes
// nothing.
template <class F, class Exp, class Log1p>
ATTNJIT_HD void fold_sink(F sink, F& lse, F& o_factor, Exp exp_fn, Log1p log1p_fn) {
  const F hi = lse > sink ? lse : sink;
  const F lo = lse > sink ? sink : lse;
  if (!(lo >= F(-3.0e38))) {  // lo == -inf (no finite LSE is that small): the other term alone
    if (lse < sink) o_factor = F(0);
    lse = hi;
    return;
  }
  const F out = hi + log1p_fn(exp_fn(lo - hi));
  o_factor = o_factor * exp_fn(lse - out);
  lse = out;
}

// fold_sink over a thread's rows (the sm80 kernels' finalize output).
template <int kRows, class F, class Exp, class Log1p>
ATTNJIT_HD void fold_sink_rows(F sink, F (&lse)[kRows], F (&o_factor)[kRows], Exp exp_fn, Log1p log1p_fn) {
  for (int r = 0; r < kRows; ++r) fold_sink(sink, lse[r], o_factor[r], exp_fn, log1p_fn);
}

}  // namespace variants
}  // namespace attnjit
