#include "service/request_guard.h"

#include <strings.h>

#include <limits>

namespace attnjit::service {

namespace {

std::string trimmed(const std::string& s) {
  const char* ws = " \t";
  auto b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

}  // namespace

std::optional<uint64_t> parse_content_length(const std::string& value) {
  std::string v = trimmed(value);
  if (v.empty() || v.size() > 19) return std::nullopt;  // 19 digits always fit in 63 bits
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

std::optional<ApiError> check_body_framing(const httplib::Request& req, bool route_takes_body,
                                           size_t max_body_bytes) {
  const bool has_te = req.has_header("Transfer-Encoding");
  const size_t n_cl = req.get_header_value_count("Content-Length");
  std::optional<uint64_t> length;
  if (n_cl > 0) {
    length = parse_content_length(req.get_header_value("Content-Length", 0));
    for (size_t i = 1; i < n_cl && length; ++i)
      if (parse_content_length(req.get_header_value("Content-Length", i)) != length) length.reset();
    if (!length)
      return ApiError(400, "bad_request", "Content-Length", "Content-Length: expected one non-negative integer");
  }
  const bool has_body = has_te || (length && *length > 0);
  if (has_body && !route_takes_body)
    return ApiError(400, "body_not_allowed", "body", "body: this endpoint takes no request body");
  if (has_te) {
    if (req.get_header_value_count("Transfer-Encoding") != 1 ||
        strcasecmp(trimmed(req.get_header_value("Transfer-Encoding")).c_str(), "chunked") != 0)
      return ApiError(501, "not_implemented", "Transfer-Encoding",
                      "Transfer-Encoding: only 'chunked' is supported");
    if (n_cl > 0)
      return ApiError(400, "bad_request", "Content-Length",
                      "Content-Length: not allowed together with Transfer-Encoding");
  }
  if (length && *length > max_body_bytes)
    return ApiError(413, "payload_too_large", "body",
                    "body: " + std::to_string(*length) + " bytes is over the server's limit of " +
                        std::to_string(max_body_bytes));
  if (route_takes_body && !has_te && !length)
    return ApiError(411, "length_required", "Content-Length",
                    "Content-Length: required (or Transfer-Encoding: chunked)");
  if (req.has_header("Content-Encoding")) {
    std::string enc = trimmed(req.get_header_value("Content-Encoding"));
    if (req.get_header_value_count("Content-Encoding") != 1 || strcasecmp(enc.c_str(), "identity") != 0)
      return ApiError(415, "unsupported_media_type", "Content-Encoding",
                      "Content-Encoding: compressed request bodies are not accepted; send it uncompressed");
  }
  if (has_body && req.is_multipart_form_data())
    return ApiError(415, "unsupported_media_type", "Content-Type",
                    "Content-Type: multipart bodies are not accepted; send JSON or JSON Lines");
  return std::nullopt;
}

}  // namespace attnjit::service
