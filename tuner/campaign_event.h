// What a tuning campaign tells the world, as values: the CLI renders them as progress bars,
// `attnjit tune --json` prints one JSON object per line, and the service's job manager reads
// those lines from its child and keeps the job's progress (no one parses human-readable text).
//
//   campaign_started    problem_count, device, strategy, isolation
//   problem_started     problem_index, problem, template_name, candidates, reused
//   candidate_compiled  config, compile_ms, done/total of the compile phase, eta_s
//   candidate_pruned    config, reason (spills, registers, shared memory)
//   candidate_verified  config, max_error, tolerance (its output matched the reference)
//   candidate_timed     config, median_ms, iqr_ms, min_ms, max_ms, samples, best_ms so far
//   candidate_failed    config, status (compile_error | wrong_result | launch_error | timeout), reason
//   problem_done        best_config, best_median_ms, default_config, default_median_ms, speedup,
//                       counts by status, reused, compiled, measured, seconds; error when the
//                       problem could not be tuned at all
//   campaign_finished   problems_tuned, problems_failed, seconds
// Every event carries "event" (the kind) and "t_s" (seconds since the campaign started);
// candidate events also carry phase ("compile", "measure", "halving round 2/3"), done, total
// and eta_s (< 0: unknown) of that phase.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace attnjit::tuner {

enum class EventKind {
  CampaignStarted,
  ProblemStarted,
  CandidateCompiled,
  CandidatePruned,
  CandidateVerified,
  CandidateTimed,
  CandidateFailed,
  ProblemDone,
  CampaignFinished,
};
std::string_view to_string(EventKind k);  // "campaign_started", ...
EventKind parse_event_kind(std::string_view s);  // SpecError naming the allowed values

struct CampaignEvent {
  EventKind kind = EventKind::CampaignStarted;
  double t_s = 0;

  // campaign_started / campaign_finished
  int problem_count = 0;
  std::string device, strategy, isolation;
  int problems_tuned = 0, problems_failed = 0;

  // problem-scoped (every event but the campaign ones)
  int problem_index = 0;  // 1-based
  std::string problem;    // ProblemSpec::key()
  std::string template_name;
  int candidates = 0, reused = 0;

  // candidate-scoped
  std::string config, status, reason, phase;
  int done = 0, total = 0;
  double eta_s = -1;
  double compile_ms = 0, max_error = 0, tolerance = 0;
  double median_ms = 0, iqr_ms = 0, min_ms = 0, max_ms = 0;
  int samples = 0;
  double best_ms = 0;  // fastest verified median of this problem so far (0 = none yet)

  // problem_done (seconds also for campaign_finished)
  std::string best_config, default_config, error, note;
  double best_median_ms = 0, default_median_ms = 0, speedup = 1, seconds = 0;
  std::map<std::string, int> counts;  // by status: "ok", "pruned", "compile_error", ...
  int compiled = 0, measured = 0;

  bool operator==(const CampaignEvent&) const = default;
};

// The fields of its kind only. Non-finite numbers are written as null.
nlohmann::json to_json(const CampaignEvent& e);
// Throws SpecError naming the field on malformed input (an unknown kind, a wrong type).
CampaignEvent event_from_json(const nlohmann::json& j);

using EventSink = std::function<void(const CampaignEvent&)>;

}  // namespace attnjit::tuner
