#include "service/api_error.h"

namespace attnjit::service {

ApiError invalid_field(const std::string& field, const std::string& message) {
  return ApiError(400, "invalid_parameter", field, message);
}

ApiError missing_field(const std::string& field) {
  return ApiError(400, "missing_parameter", field, field + ": required");
}

ApiError unknown_field(const std::string& field, const std::string& allowed) {
  return ApiError(400, "unknown_parameter", field,
                  field + ": unknown parameter (allowed: " + allowed + ")");
}

nlohmann::json error_json(const std::string& code, const std::string& field, const std::string& message) {
  std::string clipped = message;
  if (message.size() > kMaxErrorMessageBytes) {
    size_t cut = kMaxErrorMessageBytes;
    while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80) --cut;  // whole UTF-8 characters
    clipped = message.substr(0, cut) + "... (" + std::to_string(message.size()) + " bytes in all)";
  }
  nlohmann::json e = {{"code", code}, {"message", std::move(clipped)}};
  if (!field.empty()) e["field"] = field;
  return {{"error", std::move(e)}};
}

nlohmann::json error_json(const ApiError& e) { return error_json(e.code, e.field, e.what()); }

std::string code_for_status(int status) {
  switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 408: return "request_timeout";
    case 413: return "payload_too_large";
    case 414: return "uri_too_long";
    case 415: return "unsupported_media_type";
    case 429: return "too_many_requests";
    case 503: return "unavailable";
    default: return status >= 500 ? "internal" : "error";
  }
}

}  // namespace attnjit::service
