// Argument checks shared by the prefill and decode entry points (api/*_params.cpp): each
// failure is a SpecError naming the field.
#pragma once

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>

#include "codegen/problem_spec.h"

namespace attnjit::detail {

inline std::string str(int64_t v) { return std::to_string(v); }

// The sizes every problem has: a head dim the kernels take, batch >= 0, and query heads a
// multiple of the KV heads (GQA).
inline void check_problem_dims(int head_dim, int64_t batch, int64_t heads_q, int64_t heads_kv) {
  if (std::find(std::begin(kHeadDims), std::end(kHeadDims), head_dim) == std::end(kHeadDims))
    throw SpecError("head_dim: unsupported value " + std::to_string(head_dim) + " (allowed: 32, 64, 96, 128, 192, 256)");
  if (batch < 0) throw SpecError("batch: must be >= 0, got " + str(batch));
  if (heads_q < 1) throw SpecError("heads_q: must be >= 1, got " + str(heads_q));
  if (heads_kv < 1) throw SpecError("heads_kv: must be >= 1, got " + str(heads_kv));
  if (heads_q % heads_kv != 0)
    throw SpecError("heads_q: must be a multiple of heads_kv (" + str(heads_q) + " % " + str(heads_kv) + " != 0)");
}

inline void check_int32(const char* field, int64_t v) {
  if (v > INT_MAX) throw SpecError(std::string(field) + ": " + str(v) + " exceeds the kernels' 32-bit limit");
}

struct Dim {
  int64_t extent, stride;
  const char* name;
};

// Sufficient condition for distinct elements to have distinct addresses: walking the
// dimensions from the smallest stride up, each stride must step past everything the smaller
// dimensions span. `inner` is the contiguous innermost extent (head_dim, or seqlen for LSE).
inline void check_no_overlap(const std::string& tensor, std::initializer_list<Dim> all, int64_t inner) {
  // At most three dimensions: a fixed array keeps the hot path free of allocations.
  std::array<Dim, 3> dims{};
  size_t n = 0;
  for (const Dim& d : all)
    if (d.extent > 1 && n < dims.size()) dims[n++] = d;
  for (size_t i = 1; i < n; ++i)  // insertion sort by stride (n <= 3)
    for (size_t j = i; j > 0 && dims[j].stride < dims[j - 1].stride; --j) std::swap(dims[j], dims[j - 1]);
  int64_t span = inner;
  for (size_t i = 0; i < n; ++i) {
    const Dim& d = dims[i];
    if (d.stride < span)
      throw SpecError(tensor + "." + d.name + ": stride " + str(d.stride) +
                      " makes output elements overlap (needs >= " + str(span) + ")");
    span = d.stride * d.extent;
  }
}

}  // namespace attnjit::detail
