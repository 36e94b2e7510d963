#include "tuner/problem_case.h"

#include "tuner/decode_case.h"
#include "tuner/prefill_case.h"
#include "tuner/workload.h"

namespace attnjit::tuner {

size_t case_bytes_per_set(const ProblemSpec& spec, const RunShape& shape) {
  return spec.family == Family::Decode ? DecodeCase::bytes_per_set(spec, shape)
                                       : PrefillCase::bytes_per_set(spec, shape);
}

std::unique_ptr<ProblemCase> make_problem_case(Backend& backend, const ProblemSpec& spec,
                                               const RunShape& shape, uint64_t seed, int copies,
                                               bool reduced) {
  if (spec.family != Family::Decode)
    return std::make_unique<PrefillCase>(backend, spec, shape, seed, copies);
  return std::make_unique<DecodeCase>(backend, spec, shape,
                                      reduced ? reduced_seqlens(spec, shape) : std::vector<int64_t>{},
                                      seed, copies, /*keep_host=*/reduced);
}

}  // namespace attnjit::tuner
