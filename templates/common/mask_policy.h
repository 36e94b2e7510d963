// The shared mask policy (common/variants.h) of a kernel config that names its built-in mask by
// number — 0 none, 1 causal, 2 sliding window (kWindowLeft / kWindowRight), the numbering of
// every template's prelude — so a template derives its key ranges and its per-element mask from
// the one definition of each mask instead of its own copy. Builtins only (see variants.h).
#pragma once

#include "common/variants.h"

namespace attnjit {
namespace variants {

template <int kKind, long long kLeft, long long kRight>
struct MaskOf {
  typedef MaskNone T;
};
template <long long kLeft, long long kRight>
struct MaskOf<1, kLeft, kRight> {
  typedef MaskCausal T;
};
template <long long kLeft, long long kRight>
struct MaskOf<2, kLeft, kRight> {
  typedef MaskSlidingWindow<kLeft, kRight> T;
};

// The policy of a config C with kMask, kWindowLeft, kWindowRight.
template <class C>
using mask_of = typename MaskOf<C::kMask, C::kWindowLeft, C::kWindowRight>::T;

}  // namespace variants
}  // namespace attnjit
