// Masks, user score_mod / mask_mod, ALiBi and attention sinks for the decode kernels (sm80 scalar
// and tensor-core, CPU), on top of the shared policies of templates/common/ (mask_policy.h,
// variants_user.h, variants_alibi.h, variants_sink.h), with prefill's semantics: bias
// -slope_h * |pos - j| on the scaled, soft-capped score, then the user score_mod, then the mask
// (built-in range and mask_mod); the sink joins the denominator of the finished row.
//
// A kernel built with ALiBi or sinks takes DecodeVariantParams (decode/params.h), DecodeParams
// followed by the variant tensors; one built with user mods takes DecodeModParams (the same, then
// the aux tensors); kernels without them take DecodeParams alone, so their parameter buffer, their code
// and their PTX stay exactly what they were. Inside a kernel the variant fields are reached by
// args(p), only on the paths `if constexpr` keeps for such a kernel.
//
// Sinks are folded once per output row, where the row's final LSE is known: in the single-split
// epilogue or in the split combine, never into a split's partial (each split would count it).
// Decode kernels keep LSEs in log2 units, hence the folds below in log2 (exp2 / log2 given by
// the caller's compiler). Builtins only (see common/variants.h).
#pragma once

#include "common/mask_policy.h"
#include "common/variants_alibi.h"
#include "common/variants_sink.h"
#include "common/variants_user.h"
#include "decode/params.h"

namespace attnjit {

namespace decode_variants {

// ---- Masks and user mods: the shared policies (common/variants.h, common/variants_user.h).
// Decode rows are (query token t, query head h) pairs; query token t of a sequence with L keys
// sits at key position L - q_tokens + t, and a user snippet sees it as q_idx = t, kv_idx = the
// logical key index j, exactly as prefill with seqlen_q = q_tokens and seqlen_k = L does.

// Keys [lo, hi] (inclusive; empty when lo > hi) that a query at position pos sees among L keys,
// from the config's mask policy (its key_range, in the kernel's index type I).
template <class C, class I>
ATTNJIT_HD void row_keys(long long pos, I L, I& lo, I& hi) {
  variants::mask_of<C>::key_range(pos, L, lo, hi);
  hi -= 1;
}

// The first key any of the config's kQTokens queries sees: keys before it are skipped by every
// split (a sliding window's start; 0 for the other masks).
template <class C, class I>
ATTNJIT_HD I first_key(I L) {
  I lo, hi;
  variants::mask_of<C>::key_range(static_cast<long long>(L) - C::kQTokens, L, lo, hi);
  return lo;
}

// The parameters of a kernel built with user mods (the launch passed them).
typedef DecodeModParamsT<UserModParams> DecodeModParams;

// Whether config C has a user score_mod or mask_mod (its kernel takes DecodeModParams).
template <class C>
ATTNJIT_HD constexpr bool has_user_mods() {
  return variants::mods_of<C>::kScoreMod || variants::mods_of<C>::kMaskMod;
}

// The config's user mods (its `using UserMods`, else variants::NoUserMods, whose hooks compile to
// nothing), reading the aux tensors of a DecodeModParams launch.
template <class C>
ATTNJIT_HD variants::mods_of<C> user_mods(const DecodeParams& p) {
  variants::mods_of<C> m;
  m.u_ = 0;
  if constexpr (has_user_mods<C>()) m.u_ = &static_cast<const DecodeModParams&>(p).user;
  return m;
}

// The user score_mod and mask_mod of one visible decode score s (kernel log2 units, after
// soft-capping and ALiBi, as in prefill): score_mod works in natural units; ninf where the
// mask_mod drops the key. Kernels call it only for keys the built-in mask's range and the bounds
// leave visible (so a snippet never sees a key index past the sequence), in the `else` of their
// own mask test (`else if constexpr (has_user_mods<C>())`, so kernels without user mods compile
// that test exactly as before).
template <class Mods, class T>
ATTNJIT_HD T user_score(const Mods& mods, T s, int b, int h, int t, long long j, T ninf) {
  if constexpr (Mods::kScoreMod)
    s = static_cast<T>(mods.score_mod(s * T(0.6931471805599453), b, h, t, static_cast<int>(j)) * T(1.4426950408889634));
  if constexpr (Mods::kMaskMod)
    if (!mods.mask_mod(b, h, t, static_cast<int>(j))) return ninf;
  return s;
}

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
