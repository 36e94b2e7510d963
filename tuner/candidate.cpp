#include "tuner/candidate.h"

#include <string>

#include "codegen/types.h"

namespace attnjit::tuner {

namespace {
constexpr std::pair<CandidateStatus, std::string_view> kNames[] = {
    {CandidateStatus::Ok, "ok"},
    {CandidateStatus::CompileError, "compile_error"},
    {CandidateStatus::Pruned, "pruned"},
    {CandidateStatus::WrongResult, "wrong_result"},
    {CandidateStatus::LaunchError, "launch_error"},
    {CandidateStatus::Timeout, "timeout"},
    {CandidateStatus::Skipped, "skipped"},
};
}  // namespace

std::string_view to_string(CandidateStatus s) {
  for (const auto& [v, n] : kNames)
    if (v == s) return n;
  return "unknown";
}

CandidateStatus parse_candidate_status(std::string_view s) {
  std::string allowed;
  for (const auto& [v, n] : kNames) {
    if (n == s) return v;
    allowed += (allowed.empty() ? "" : ", ") + std::string(n);
  }
  throw SpecError("status: unknown value '" + std::string(s) + "' (allowed: " + allowed + ")");
}

}  // namespace attnjit::tuner
