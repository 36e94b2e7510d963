#include "codegen/score_variant_args.h"

#include <cmath>
#include <cstdint>
#include <string>

#include "codegen/problem_spec.h"

namespace attnjit {
namespace {

void check_presence(const char* name, const char* flag, bool wanted, const float* p) {
  if (wanted && !p)
    throw SpecError(std::string(name) + ": null, but the problem asks for " + flag);
  if (!wanted && p)
    throw SpecError(std::string(name) + ": given, but the problem's " + flag +
                    " flag is off (the kernel would ignore it)");
  if (p && reinterpret_cast<uintptr_t>(p) % alignof(float) != 0)
    throw SpecError(std::string(name) + ": not aligned to 4-byte floats");
}

}  // namespace

void validate_score_variant_args(const ScoreVariantArgs& a, int64_t batch, int64_t heads_q,
                                 Platform platform) {
  check_presence("alibi_slopes", "alibi", a.alibi, a.alibi_slopes);
  check_presence("sinks", "sink", a.sink, a.sinks);
  if (a.alibi && a.alibi_batch_stride != 0 && a.alibi_batch_stride < heads_q)
    throw SpecError("alibi_batch_stride: must be 0 (one [heads_q] vector) or >= heads_q (" +
                    std::to_string(heads_q) + ") for [batch, heads_q] slopes, got " +
                    std::to_string(a.alibi_batch_stride));
  if (platform != Platform::Cpu) return;  // device memory: the values are the caller's
  if (a.alibi)
    for (int64_t b = 0; b < (a.alibi_batch_stride ? batch : 1); ++b)
      for (int64_t h = 0; h < heads_q; ++h)
        if (!std::isfinite(a.alibi_slopes[b * a.alibi_batch_stride + h]))
          throw SpecError("alibi_slopes[" + std::to_string(b) + ", " + std::to_string(h) +
                          "]: must be finite, got " + std::to_string(a.alibi_slopes[b * a.alibi_batch_stride + h]));
  if (a.sink)
    for (int64_t h = 0; h < heads_q; ++h)
      if (std::isnan(a.sinks[h]) || a.sinks[h] == INFINITY)
        throw SpecError("sinks[" + std::to_string(h) + "]: must be a number below +inf, got " +
                        std::to_string(a.sinks[h]));
}

}  // namespace attnjit
