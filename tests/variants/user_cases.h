// Test cases with user variants shared by the CPU and emulator tests: snippets with their
// independent reference lambdas (tests/common/user_case.h).
#pragma once

#include <string>
#include <vector>

#include "common/gpu_test_util.h"

namespace attnjit::testing {

inline PrefillCase mk(DType dt, int hd, MaskSpec m, int64_t b, int64_t hq, int64_t hk, int64_t sq, int64_t sk) {
  return PrefillCase::make(dt, hd, m, sq, sk, b, hq, hk);
}


// Document ids: documents of the given lengths, repeated to cover n tokens.
inline std::vector<int32_t> docs(int64_t n, std::vector<int> lens) {
  std::vector<int32_t> d;
  int id = 0;
  while (static_cast<int64_t>(d.size()) < n)
    for (int l : lens) {
      for (int i = 0; i < l && static_cast<int64_t>(d.size()) < n; ++i) d.push_back(id);
      ++id;
    }
  return d;
}

inline UserCase relative_bias() {
  UserCase u;
  u.name = "relbias";
  u.score_mod = "// ALiBi-like, written as a snippet\nreturn score - 0.125f * (q_idx - kv_idx);";
  u.score_ref = [](double s, int64_t, int64_t, int64_t q, int64_t k) { return s - 0.125 * double(q - k); };
  return u;
}

inline UserCase head_bias(int64_t heads) {
  UserCase u;
  u.name = "headbias";
  u.score_mod = "return score * 0.5f + aux<float>(1)[h];";
  for (int64_t h = 0; h < heads; ++h) u.aux_f32.push_back(0.25f * float(h) - 0.5f);
  const auto table = u.aux_f32;
  u.score_ref = [table](double s, int64_t, int64_t h, int64_t, int64_t) { return s * 0.5 + table[h]; };
  return u;
}

inline UserCase document(int64_t n, std::vector<int> lens, int block_sparse) {
  UserCase u;
  u.name = "doc" + std::to_string(block_sparse);
  u.mask_mod = "const int* doc = aux<int>(0);\nreturn doc[q_idx] == doc[kv_idx];";
  u.aux_i32 = docs(n, lens);
  const auto d = u.aux_i32;
  u.mask_ref = [d](int64_t, int64_t, int64_t q, int64_t k) { return d[q] == d[k]; };
  u.block_sparse = block_sparse;
  return u;
}

// Longformer: a local window of +-w plus global tokens (attend to and from everything).
inline UserCase longformer(int w, int globals, int block_sparse) {
  UserCase u;
  u.name = "longformer" + std::to_string(block_sparse);
  u.mask_mod = "int d = q_idx - kv_idx;\nreturn (d <= " + std::to_string(w) + " && d >= -" + std::to_string(w) +
               ") || q_idx < " + std::to_string(globals) + " || kv_idx < " + std::to_string(globals) + ";";
  u.mask_ref = [w, globals](int64_t, int64_t, int64_t q, int64_t k) {
    return (q - k <= w && k - q <= w) || q < globals || k < globals;
  };
  u.block_sparse = block_sparse;
  return u;
}

// Rows with q_idx % 5 == 0 see no key at all: O = 0, LSE = -inf.
inline UserCase holes() {
  UserCase u;
  u.name = "holes";
  u.mask_mod = "return q_idx % 5 != 0 && (kv_idx + b) % 3 != 0;";
  u.mask_ref = [](int64_t b, int64_t, int64_t q, int64_t k) { return q % 5 != 0 && (k + b) % 3 != 0; };
  return u;
}

inline PrefillCase with(PrefillCase c, UserCase u) {
  c.user = std::move(u);
  return c;
}

}  // namespace attnjit::testing
