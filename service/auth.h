// Bearer-token authorization for writes. The token is compared in constant time so response
// timing leaks nothing about how many leading bytes matched.
#pragma once

#include <string>
#include <string_view>

namespace attnjit::service {

// True when a == b, in time that depends only on the lengths.
bool constant_time_equals(std::string_view a, std::string_view b);

class TokenAuth {
 public:
  // No token: every write is refused (403) with a message saying how to enable writes.
  TokenAuth() = default;
  explicit TokenAuth(std::string token);
  // Reads the token from a file (surrounding whitespace trimmed). Throws std::runtime_error
  // naming the file when it cannot be read or holds an empty / short (< 16 chars) token.
  static TokenAuth from_file(const std::string& path);

  bool enabled() const { return !token_.empty(); }

  // Checks an Authorization header value. Throws ApiError 401 when it is missing or not
  // "Bearer <token>", 403 when the token is wrong or writes are disabled.
  void check(const std::string& authorization_header) const;
  // The same check as a yes / no: the header carries the valid token.
  bool accepts(const std::string& authorization_header) const;

 private:
  std::string token_;
};

}  // namespace attnjit::service
