// ALiBi and attention sinks for the decode kernels (sm80 scalar and tensor-core, CPU), on top of
// the shared policies of templates/common/variants_alibi.h and variants_sink.h (same semantics
// as prefill: bias -slope_h * |pos - j| on the scaled, soft-capped score; the sink joins the
// denominator of the finished row).
//
// A kernel built with either takes DecodeVariantParams (decode/params.h), DecodeParams followed by
// the variant tensors; kernels without them take DecodeParams alone, so their parameter buffer, their code
// and their PTX stay exactly what they were. Inside a kernel the variant fields are reached by
// args(p), only on the paths `if constexpr` keeps for such a kernel.
//
// Sinks are folded once per output row, where the row's final LSE is known: in the single-split
// epilogue or in the split combine, never into a split's partial (each split would count it).
// Decode kernels keep LSEs in log2 units, hence the folds below in log2 (exp2 / log2 given by
// the caller's compiler). Builtins only (see common/variants.h).
#pragma once

#include "common/variants_alibi.h"
#include "common/variants_sink.h"
#include "decode/params.h"

namespace attnjit {

namespace decode_variants {

// The variant fields of a kernel built with ALiBi or sinks (its launch passed them).
ATTNJIT_HD const DecodeVariantParams& args(const DecodeParams& p) {
  return static_cast<const DecodeVariantParams&>(p);
}

// Per-row ALiBi of a CTA / work item of R query rows: row r is query head hq at bottom-right
// aligned position pos. Off (kOn false): empty, the score passes unchanged (no instruction).
template <bool kOn, int R>
struct RowAlibi {
  ATTNJIT_HD void set(const DecodeParams&, int, long long, long long, long long, float) {}
  template <class T>
  ATTNJIT_HD T operator()(int, T s, long long) const { return s; }
};
template <int R>
struct RowAlibi<true, R> {
  float neg[R] = {};      // -slope * unit per row (0 for padding rows: they see no key anyway)
  long long pos[R] = {};
  // unit: the kernel's score units per natural unit (log2(e) for the decode kernels).
  ATTNJIT_HD void set(const DecodeParams& p, int r, long long b, long long hq, long long position, float unit) {
    const DecodeVariantParams& a = args(p);
    neg[r] = variants::AlibiBias<float>::make(variants::alibi_slope(a.alibi_slopes, a.alibi_batch_stride, b, hq),
                                              unit).neg;
    pos[r] = position;
  }
  // Score s of row r against key j, biased.
  template <class T>
  ATTNJIT_HD T operator()(int r, T s, long long j) const {
    const long long d = pos[r] - j;
    return variants::AlibiBias<float>{neg[r]}(s, static_cast<T>(d < 0 ? -d : d));
  }
};

// Folds query head hq's sink into a finished row: lse2 (log2 units, -inf = no visible key)
// becomes log2(2^lse2 + 2^(sink log2 e)) and factor (what the row's O is multiplied by) shrinks
// by 2^(old - new). A no-op unless kOn.
template <bool kOn, class F, class Exp2, class Log2>
ATTNJIT_HD void fold_sink_log2(const DecodeParams& p, long long hq, F& lse2, F& factor, Exp2 exp2_fn, Log2 log2_fn) {
  if constexpr (kOn)
    variants::fold_sink(static_cast<F>(args(p).sinks[hq]) * static_cast<F>(1.4426950408889634), lse2, factor, exp2_fn,
                        [&](F x) { return log2_fn(F(1) + x); });
}

}  // namespace decode_variants
}  // namespace attnjit
