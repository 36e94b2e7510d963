// Decode cases with user score_mod / mask_mod snippets (tests/common/user_case.h), shared by the
// CPU and emulator suites: each snippet comes with an independent reference lambda, and indices
// follow prefill's convention (q_idx = the query token 0..q_tokens-1, kv_idx = the logical key).
#pragma once

#include <string>
#include <vector>

#include "common/user_case.h"

namespace attnjit::testing {

// Document ids for B sequences of lengths lens (every sequence's keys cut into documents of
// doc_len), query tokens in the document of their own position L - QT + t; aux<int>(0) holds the
// key ids [B][S] then the query ids [B][QT]. The mask_mod keeps keys of the query's document.
inline UserCase decode_documents(const std::vector<int64_t>& lens, int64_t QT, int64_t S, int doc_len) {
  UserCase u;
  const int64_t B = int64_t(lens.size());
  u.name = "doc" + std::to_string(doc_len);
  u.aux_i32.assign(size_t(B * S + B * QT), -1);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t j = 0; j < S; ++j) u.aux_i32[size_t(b * S + j)] = int32_t(j / doc_len);
    for (int64_t t = 0; t < QT; ++t) {
      const int64_t pos = lens[size_t(b)] - QT + t;
      u.aux_i32[size_t(B * S + b * QT + t)] = pos < 0 ? -2 : int32_t(pos / doc_len);
    }
  }
  u.mask_mod = "const int* doc = aux<int>(0);\nreturn doc[b * " + std::to_string(S) + " + kv_idx] == doc[" +
               std::to_string(B * S) + " + b * " + std::to_string(QT) + " + q_idx];";
  const auto d = u.aux_i32;
  u.mask_ref = [d, S, B, QT](int64_t b, int64_t, int64_t q, int64_t k) {
    return d[size_t(b * S + k)] == d[size_t(B * S + b * QT + q)];
  };
  return u;
}

// A bias table aux<float>(1)[h][kv_idx % 8] and a term in q_idx (which a kernel passing the key
// position instead of the token index would get wrong).
inline void add_bias_table(UserCase& u, int64_t heads_q) {
  u.name += "+bias";
  u.aux_f32.clear();
  for (int64_t i = 0; i < heads_q * 8; ++i) u.aux_f32.push_back(0.375f * float(i % 5) - 0.5f);
  u.score_mod = "return score + aux<float>(1)[h * 8 + kv_idx % 8] - 0.25f * q_idx;";
  const auto t = u.aux_f32;
  u.score_ref = [t](double s, int64_t, int64_t h, int64_t q, int64_t k) {
    return s + double(t[size_t(h * 8 + k % 8)]) - 0.25 * double(q);
  };
}

// A mask_mod that hides every key from query head 1 of every sequence but the first: whole rows
// masked (O = 0, LSE = -inf, or the sink with sinks).
inline UserCase masked_rows() {
  UserCase u;
  u.name = "rows";
  u.mask_mod = "return h != 1 || b == 0;";
  u.mask_ref = [](int64_t b, int64_t h, int64_t, int64_t) { return h != 1 || b == 0; };
  return u;
}

}  // namespace attnjit::testing
