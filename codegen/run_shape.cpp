// RunShape's key: b<batch>_hq<heads_q>_hkv<heads_kv>_sq<seqlen_q>_sk<seqlen_k>[_tq<total_q>] (varlen), the name of a
// benchmark or tuning shape (exact sizes, where a ProblemSpec has buckets).
#include <string>

#include "attnjit/launch.h"
#include "codegen/parse_util.h"

namespace attnjit {

std::string RunShape::key() const {
  return "b" + std::to_string(batch) + "_hq" + std::to_string(heads_q) + "_hkv" +
         std::to_string(heads_kv) + "_sq" + std::to_string(seqlen_q) + "_sk" +
         std::to_string(seqlen_k) + (total_q != 0 ? "_tq" + std::to_string(total_q) : "");
}

RunShape RunShape::parse(std::string_view key) {
  const auto toks = detail::split(key, '_');
  if (toks.size() != 5 && toks.size() != 6)
    throw SpecError("run shape: expected b<N>_hq<N>_hkv<N>_sq<N>_sk<N>[_tq<N>], got '" +
                    std::string(key.substr(0, 80)) + "'");
  RunShape s;
  struct Field { const char* prefix; const char* name; int64_t* out; int64_t min; };
  const Field fields[] = {{"b", "batch", &s.batch, 0},
                          {"hq", "heads_q", &s.heads_q, 1},
                          {"hkv", "heads_kv", &s.heads_kv, 1},
                          {"sq", "seqlen_q", &s.seqlen_q, 0},
                          {"sk", "seqlen_k", &s.seqlen_k, 0}};
  for (size_t i = 0; i < 5; ++i) {
    if (!detail::take_prefixed(toks[i], fields[i].prefix, fields[i].name, *fields[i].out))
      throw SpecError(std::string(fields[i].name) + ": expected '" + fields[i].prefix +
                      "<N>' in run shape '" + std::string(key.substr(0, 80)) + "'");
    if (*fields[i].out < fields[i].min)
      throw SpecError(std::string(fields[i].name) + ": must be >= " +
                      std::to_string(fields[i].min) + ", got " + std::to_string(*fields[i].out));
  }
  if (toks.size() == 6) {
    // Varlen: the query rows of all sequences (each at most seqlen_q, the max).
    if (!detail::take_prefixed(toks[5], "tq", "total_q", s.total_q, 1))
      throw SpecError("total_q: expected 'tq<N>' (N >= 1) in run shape '" + std::string(key.substr(0, 80)) + "'");
    if (s.total_q > s.batch * s.seqlen_q)
      throw SpecError("total_q: " + std::to_string(s.total_q) + " rows exceed batch * seqlen_q = " +
                      std::to_string(s.batch * s.seqlen_q));
  }
  if (s.heads_q % s.heads_kv != 0)
    throw SpecError("heads_kv: heads_q " + std::to_string(s.heads_q) + " is not a multiple of " +
                    std::to_string(s.heads_kv));
  return s;
}

}  // namespace attnjit
