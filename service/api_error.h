// ApiError: every failure a handler reports, with the HTTP status, a stable machine-readable
// code and the request field at fault. error_json() is the one place such an error becomes the
// wire form {"error": {"code": ..., "field": ..., "message": ...}}.
#pragma once

#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace attnjit::service {

struct ApiError : std::runtime_error {
  ApiError(int status, std::string code, std::string field, const std::string& message)
      : std::runtime_error(message), status(status), code(std::move(code)), field(std::move(field)) {}

  int status;
  std::string code;   // e.g. "invalid_parameter", "unauthorized"
  std::string field;  // the parameter / body field at fault; "" when none
  int retry_after_s = 0;  // > 0: sent as Retry-After (503 busy)
};

// 400s naming the field.
ApiError invalid_field(const std::string& field, const std::string& message);
ApiError missing_field(const std::string& field);
ApiError unknown_field(const std::string& field, const std::string& allowed);

// {"error": {"code": ..., "field": ... (omitted when empty), "message": ...}}. Messages are
// clipped to kMaxErrorMessageBytes: they may quote request values, which can be megabytes.
inline constexpr size_t kMaxErrorMessageBytes = 512;
nlohmann::json error_json(const std::string& code, const std::string& field, const std::string& message);
nlohmann::json error_json(const ApiError& e);

// The canonical code for a bare HTTP status produced outside our handlers (404, 413, 414, ...).
std::string code_for_status(int status);

}  // namespace attnjit::service
