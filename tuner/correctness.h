// The correctness gate. A candidate is timed only after its output matched
//   1. the float64 reference on a reduced problem of the same spec (small lengths; same dtype,
//      mask, head dim and group), on inputs already rounded to the dtype, and
//   2. on the tuning shape itself, an already-verified kernel (the default config, after it
//      passed check 1) — the reference is too slow there, but a kernel that breaks only at
//      long lengths (overflowing indices, a pipeline bug past some tile count) is caught.
// Tolerance, as flash-attention's tests have it: about twice the error of a straightforward
// implementation in the same precision (fp32 scores and softmax, P rounded to the dtype before
// P·V, O rounded to the dtype), plus a small floor for fast-math exp2 and reordered sums.
// NaN anywhere (poisoned output left unwritten included) fails, whatever the tolerance.
#pragma once

#include <string>
#include <vector>

#include "codegen/problem_spec.h"
#include "runtime/reference_attention.h"

namespace attnjit::tuner {

struct Expected {
  std::vector<double> o, lse;
  double o_tolerance = 0;
  double lse_tolerance = 0;
};

struct CheckOutcome {
  bool ok = false;
  double max_error = 0;   // worst |o - expected| (LSE error is folded in scaled to the O bound)
  double tolerance = 0;   // the O tolerance
  std::string reason;     // first failure, e.g. "O[b0,q17,h1,d3] = nan (expected 0.12)"
};

// Reference output and tolerance for the reduced problem (q, k, v already rounded to dtype).
Expected reference_expected(const ProblemSpec& spec, const ReferenceProblem& p,
                            const std::vector<double>& q, const std::vector<double>& k,
                            const std::vector<double>& v);

// Output of a verified kernel on the tuning shape, as the expected value for the others. The
// tolerance doubles the reduced one: both kernels carry their own error.
Expected baseline_expected(const std::vector<float>& o, const std::vector<float>& lse,
                           const Expected& reduced);

CheckOutcome compare(const Expected& want, const std::vector<float>& o, const std::vector<float>& lse);

}  // namespace attnjit::tuner
