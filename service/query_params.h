// QueryParams: strict access to a request's query string. Construction rejects parameters the
// route does not know, repeated parameters and over-long values, so a typo ("probelm=") is a 400
// naming the field instead of a silently ignored filter.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace attnjit::service {

class QueryParams {
 public:
  // Longest accepted value, in bytes; keys and configs are far shorter.
  static constexpr size_t kMaxValueBytes = 512;

  // Throws ApiError (400) for an unknown, repeated or over-long parameter.
  QueryParams(const std::multimap<std::string, std::string>& raw,
              std::initializer_list<std::string_view> allowed);

  bool has(const std::string& name) const { return values_.count(name) != 0; }
  // Throws missing_field when absent or empty.
  const std::string& required(const std::string& name) const;
  std::optional<std::string> optional(const std::string& name) const;
  // Integer in [lo, hi]; `fallback` when absent.
  int64_t integer(const std::string& name, int64_t fallback, int64_t lo, int64_t hi) const;
  // "1" / "true" / "0" / "false"; `fallback` when absent.
  bool boolean(const std::string& name, bool fallback) const;

 private:
  std::map<std::string, std::string> values_;
};

// Throws invalid_field unless `value` is non-empty and only [A-Za-z0-9_.:-] (the key alphabet
// plus ':' for fingerprints): keeps odd bytes out of logs, keys and the database.
void check_token_chars(const std::string& field, const std::string& value);

}  // namespace attnjit::service
