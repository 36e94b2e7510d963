#include "service/auth.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "service/api_error.h"

namespace attnjit::service {

bool constant_time_equals(std::string_view a, std::string_view b) {
  // Always walk the expected length; fold the length difference into the result.
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < b.size(); ++i) {
    unsigned char ca = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    diff |= static_cast<unsigned char>(ca ^ static_cast<unsigned char>(b[i]));
  }
  // Keep the compiler from short-circuiting through the volatile read.
  volatile unsigned char sink = diff;
  return sink == 0;
}

TokenAuth::TokenAuth(std::string token) : token_(std::move(token)) {}

TokenAuth TokenAuth::from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("token file '" + path + "': cannot open for reading");
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw std::runtime_error("token file '" + path + "': read failed");
  std::string t = ss.str();
  const char* ws = " \t\r\n";
  auto b = t.find_first_not_of(ws);
  auto e = t.find_last_not_of(ws);
  t = b == std::string::npos ? "" : t.substr(b, e - b + 1);
  if (t.size() < 16)
    throw std::runtime_error("token file '" + path + "': token must be at least 16 characters");
  for (unsigned char c : t)
    if (c < 0x21 || c > 0x7e)
      throw std::runtime_error("token file '" + path + "': token must be printable ASCII without spaces");
  return TokenAuth(std::move(t));
}

void TokenAuth::check(const std::string& header) const {
  static constexpr std::string_view kScheme = "Bearer ";
  if (header.empty())
    throw ApiError(401, "unauthorized", "Authorization",
                   "writes need 'Authorization: Bearer <token>'");
  if (header.size() <= kScheme.size() || std::string_view(header).substr(0, kScheme.size()) != kScheme)
    throw ApiError(401, "unauthorized", "Authorization",
                   "Authorization: expected the Bearer scheme");
  if (!enabled())
    throw ApiError(403, "forbidden", "Authorization",
                   "writes are disabled: the server was started without --token-file");
  if (!constant_time_equals(std::string_view(header).substr(kScheme.size()), token_))
    throw ApiError(403, "forbidden", "Authorization", "invalid token");
}

}  // namespace attnjit::service

namespace attnjit::service {

bool TokenAuth::accepts(const std::string& header) const {
  static constexpr std::string_view kScheme = "Bearer ";
  return enabled() && header.size() > kScheme.size() &&
         std::string_view(header).substr(0, kScheme.size()) == kScheme &&
         constant_time_equals(std::string_view(header).substr(kScheme.size()), token_);
}

}  // namespace attnjit::service
