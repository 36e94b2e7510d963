#include "db/tuning_result.h"

#include <array>

#include "codegen/types.h"
#include "db/lookup.h"

namespace attnjit {
namespace {

constexpr std::array<std::pair<std::string_view, ResultStatus>, 6> kStatus{{
    {"ok", ResultStatus::Ok},
    {"compile_error", ResultStatus::CompileError},
    {"launch_error", ResultStatus::LaunchError},
    {"wrong_result", ResultStatus::WrongResult},
    {"timeout", ResultStatus::Timeout},
    {"pruned", ResultStatus::Pruned},
}};

}  // namespace

std::string_view to_string(ResultStatus s) {
  for (const auto& [name, v] : kStatus)
    if (v == s) return name;
  return "?";
}

ResultStatus parse_result_status(std::string_view s) {
  for (const auto& [name, v] : kStatus)
    if (name == s) return v;
  std::string allowed;
  for (const auto& [name, v] : kStatus) allowed += (allowed.empty() ? "" : ", ") + std::string(name);
  throw SpecError("status: unknown value '" + std::string(s) + "' (allowed: " + allowed + ")");
}

std::string_view to_string(LookupReason r) {
  switch (r) {
    case LookupReason::Exact: return "exact";
    case LookupReason::NearestBucket: return "nearest_bucket";
    case LookupReason::SameArch: return "same_arch";
    case LookupReason::Default: return "default";
  }
  return "?";
}

}  // namespace attnjit
