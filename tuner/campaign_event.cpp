#include "tuner/campaign_event.h"

#include <array>
#include <cmath>
#include <vector>

#include "codegen/types.h"

namespace attnjit::tuner {

namespace {

using nlohmann::json;

constexpr std::array<std::pair<std::string_view, EventKind>, 9> kKinds{{
    {"campaign_started", EventKind::CampaignStarted},
    {"problem_started", EventKind::ProblemStarted},
    {"candidate_compiled", EventKind::CandidateCompiled},
    {"candidate_pruned", EventKind::CandidatePruned},
    {"candidate_verified", EventKind::CandidateVerified},
    {"candidate_timed", EventKind::CandidateTimed},
    {"candidate_failed", EventKind::CandidateFailed},
    {"problem_done", EventKind::ProblemDone},
    {"campaign_finished", EventKind::CampaignFinished},
}};

using E = CampaignEvent;
using Str = std::string E::*;
using Int = int E::*;
using Num = double E::*;

// The fields each kind carries: one table serves both directions.
struct Fields {
  std::vector<std::pair<const char*, Str>> strs;
  std::vector<std::pair<const char*, Int>> ints;
  std::vector<std::pair<const char*, Num>> nums;
  bool counts = false;
};

const Fields& fields(EventKind k) {
  static const std::pair<const char*, Str> problem{"problem", &E::problem};
  static const std::pair<const char*, Int> index{"problem_index", &E::problem_index};
  static const std::vector<std::pair<const char*, Str>> cand_s = {problem, {"config", &E::config}, {"phase", &E::phase}};
  static const std::vector<std::pair<const char*, Int>> cand_i = {
      index, {"problem_count", &E::problem_count}, {"done", &E::done}, {"total", &E::total}};
  static const std::vector<std::pair<const char*, Num>> cand_n = {{"eta_s", &E::eta_s}, {"best_ms", &E::best_ms}};
  auto cand = [&](std::vector<std::pair<const char*, Str>> s, std::vector<std::pair<const char*, Int>> i,
                  std::vector<std::pair<const char*, Num>> n) {
    Fields f{cand_s, cand_i, cand_n, false};
    f.strs.insert(f.strs.end(), s.begin(), s.end());
    f.ints.insert(f.ints.end(), i.begin(), i.end());
    f.nums.insert(f.nums.end(), n.begin(), n.end());
    return f;
  };
  static const std::map<EventKind, Fields> table = {
      {EventKind::CampaignStarted,
       {{{"device", &E::device}, {"strategy", &E::strategy}, {"isolation", &E::isolation}},
        {{"problem_count", &E::problem_count}},
        {}}},
      {EventKind::ProblemStarted,
       {{problem, {"template_name", &E::template_name}},
        {index, {"problem_count", &E::problem_count}, {"candidates", &E::candidates}, {"reused", &E::reused}},
        {}}},
      {EventKind::CandidateCompiled, cand({}, {}, {{"compile_ms", &E::compile_ms}})},
      {EventKind::CandidatePruned, cand({{"reason", &E::reason}}, {}, {{"compile_ms", &E::compile_ms}})},
      {EventKind::CandidateVerified, cand({}, {}, {{"max_error", &E::max_error}, {"tolerance", &E::tolerance}})},
      {EventKind::CandidateTimed,
       cand({}, {{"samples", &E::samples}},
            {{"median_ms", &E::median_ms}, {"iqr_ms", &E::iqr_ms}, {"min_ms", &E::min_ms}, {"max_ms", &E::max_ms}})},
      {EventKind::CandidateFailed,
       cand({{"status", &E::status}, {"reason", &E::reason}}, {},
            {{"max_error", &E::max_error}, {"tolerance", &E::tolerance}})},
      {EventKind::ProblemDone,
       {{problem, {"template_name", &E::template_name}, {"best_config", &E::best_config},
         {"default_config", &E::default_config}, {"error", &E::error}, {"note", &E::note}},
        {index, {"problem_count", &E::problem_count}, {"reused", &E::reused}, {"compiled", &E::compiled},
         {"measured", &E::measured}},
        {{"best_median_ms", &E::best_median_ms}, {"default_median_ms", &E::default_median_ms},
         {"speedup", &E::speedup}, {"seconds", &E::seconds}},
        true}},
      {EventKind::CampaignFinished,
       {{},
        {{"problem_count", &E::problem_count}, {"problems_tuned", &E::problems_tuned},
         {"problems_failed", &E::problems_failed}},
        {{"seconds", &E::seconds}}}},
  };
  return table.at(k);
}

}  // namespace

std::string_view to_string(EventKind k) {
  for (const auto& [name, v] : kKinds)
    if (v == k) return name;
  return "?";
}

EventKind parse_event_kind(std::string_view s) {
  for (const auto& [name, v] : kKinds)
    if (name == s) return v;
  std::string allowed;
  for (const auto& [name, v] : kKinds) allowed += (allowed.empty() ? "" : ", ") + std::string(name);
  throw SpecError("event: unknown value '" + std::string(s.substr(0, 64)) + "' (allowed: " + allowed + ")");
}

json to_json(const CampaignEvent& e) {
  json j = {{"event", std::string(to_string(e.kind))}, {"t_s", e.t_s}};
  const Fields& f = fields(e.kind);
  for (const auto& [name, m] : f.strs) j[name] = e.*m;
  for (const auto& [name, m] : f.ints) j[name] = e.*m;
  for (const auto& [name, m] : f.nums) j[name] = std::isfinite(e.*m) ? json(e.*m) : json(nullptr);
  if (f.counts) j["counts"] = e.counts;
  return j;
}

CampaignEvent event_from_json(const json& j) {
  if (!j.is_object()) throw SpecError("event: expected a JSON object");
  auto k = j.find("event");
  if (k == j.end() || !k->is_string()) throw SpecError("event: missing or not a string");
  CampaignEvent e;
  e.kind = parse_event_kind(k->get<std::string>());
  auto number = [&](const char* name, const json& v) -> double {
    if (v.is_null()) return std::nan("");
    if (!v.is_number()) throw SpecError(std::string(name) + ": expected a number");
    return v.get<double>();
  };
  if (auto t = j.find("t_s"); t != j.end()) e.t_s = number("t_s", *t);
  const Fields& f = fields(e.kind);
  for (const auto& [name, m] : f.strs)
    if (auto v = j.find(name); v != j.end()) {
      if (!v->is_string()) throw SpecError(std::string(name) + ": expected a string");
      e.*m = v->get<std::string>();
    }
  for (const auto& [name, m] : f.ints)
    if (auto v = j.find(name); v != j.end()) {
      if (!v->is_number_integer() || v->get<int64_t>() < INT32_MIN || v->get<int64_t>() > INT32_MAX)
        throw SpecError(std::string(name) + ": expected a 32-bit integer");
      e.*m = static_cast<int>(v->get<int64_t>());
    }
  for (const auto& [name, m] : f.nums)
    if (auto v = j.find(name); v != j.end()) e.*m = number(name, *v);
  if (f.counts)
    if (auto c = j.find("counts"); c != j.end()) {
      if (!c->is_object()) throw SpecError("counts: expected an object");
      for (const auto& [status, n] : c->items()) {
        if (!n.is_number_integer()) throw SpecError("counts." + status + ": expected an integer");
        e.counts[status] = n.get<int>();
      }
    }
  return e;
}

}  // namespace attnjit::tuner
