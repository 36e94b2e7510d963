// Strict integer parsing and splitting used by the key grammars.
#pragma once

#include <charconv>
#include <climits>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "codegen/types.h"

namespace attnjit::detail {

// At most this much of a bad value is quoted in an error (keys arrive over HTTP).
inline std::string quoted_prefix(std::string_view s) {
  return "'" + std::string(s.substr(0, 32)) + (s.size() > 32 ? "...'" : "'");
}

// Parses all of `s` as a base-10 integer in [lo, hi], or throws SpecError naming `field`:
// out-of-range values are refused, never wrapped into range by a narrowing cast.
inline int64_t parse_int(std::string_view field, std::string_view s, int64_t lo = INT64_MIN,
                         int64_t hi = INT64_MAX) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (!s.empty() && ec == std::errc::result_out_of_range && p == s.data() + s.size())
    throw SpecError(std::string(field) + ": " + quoted_prefix(s) + " is out of range");
  if (s.empty() || ec != std::errc() || p != s.data() + s.size())
    throw SpecError(std::string(field) + ": expected an integer, got " + quoted_prefix(s));
  if (v < lo || v > hi)
    throw SpecError(std::string(field) + ": " + std::to_string(v) + " is out of range [" + std::to_string(lo) +
                    ", " + std::to_string(hi) + "]");
  return v;
}

// For fields stored in an int.
inline constexpr int64_t kIntMin = INT32_MIN, kIntMax = INT32_MAX;

inline std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

// If `tok` starts with `prefix`, parses the rest as an integer for `field`.
inline bool take_prefixed(std::string_view tok, std::string_view prefix, std::string_view field,
                          int64_t& out, int64_t lo = INT64_MIN, int64_t hi = INT64_MAX) {
  if (tok.substr(0, prefix.size()) != prefix) return false;
  out = parse_int(field, tok.substr(prefix.size()), lo, hi);
  return true;
}

inline bool is_pow2(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

}  // namespace attnjit::detail
