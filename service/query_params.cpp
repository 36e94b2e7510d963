#include "service/query_params.h"

#include <charconv>

#include "service/api_error.h"

namespace attnjit::service {

QueryParams::QueryParams(const std::multimap<std::string, std::string>& raw,
                         std::initializer_list<std::string_view> allowed) {
  std::string allowed_list;
  for (auto a : allowed) allowed_list += (allowed_list.empty() ? "" : ", ") + std::string(a);
  if (allowed_list.empty()) allowed_list = "none";
  for (const auto& [k, v] : raw) {
    bool known = false;
    for (auto a : allowed) known = known || a == k;
    // Echo at most a prefix of an unknown name: it is attacker-controlled.
    if (!known) throw unknown_field(k.substr(0, 64), allowed_list);
    if (values_.count(k)) throw invalid_field(k, k + ": given more than once");
    if (v.size() > kMaxValueBytes)
      throw invalid_field(k, k + ": longer than " + std::to_string(kMaxValueBytes) + " bytes");
    values_.emplace(k, v);
  }
}

const std::string& QueryParams::required(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) throw missing_field(name);
  return it->second;
}

std::optional<std::string> QueryParams::optional(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

int64_t QueryParams::integer(const std::string& name, int64_t fallback, int64_t lo, int64_t hi) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  const std::string& s = it->second;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size())
    throw invalid_field(name, name + ": expected an integer, got '" + s.substr(0, 64) + "'");
  if (v < lo || v > hi)
    throw invalid_field(name, name + ": " + s + " is outside [" + std::to_string(lo) + ", " +
                                  std::to_string(hi) + "]");
  return v;
}

bool QueryParams::boolean(const std::string& name, bool fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  const std::string& s = it->second;
  if (s == "1" || s == "true") return true;
  if (s == "0" || s == "false") return false;
  throw invalid_field(name, name + ": expected 1, 0, true or false, got '" + s.substr(0, 64) + "'");
}

void check_token_chars(const std::string& field, const std::string& value) {
  if (value.empty()) throw missing_field(field);
  for (unsigned char c : value) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-' || c == ':';
    if (!ok)
      throw invalid_field(field, field + ": only letters, digits and _ . - : are allowed");
  }
}

}  // namespace attnjit::service
