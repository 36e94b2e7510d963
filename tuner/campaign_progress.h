// A campaign's state folded from its events: per problem, where it is (phase, done/total), the
// fates of its candidates so far, its best so far and its errors; for the whole campaign,
// problems done and an ETA. The CLI draws its progress bars from it; the service keeps one per
// job and shows it at GET /v1/jobs/{id}. Both see the same numbers because both fold the same
// events.
#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tuner/campaign_event.h"

namespace attnjit::tuner {

struct ProblemProgress {
  std::string problem;
  std::string state = "queued";  // queued | running | done | failed
  std::string phase;             // "compile", "measure", "halving round 2/3"
  int done = 0, total = 0;       // within the phase
  int candidates = 0, reused = 0;
  std::map<std::string, int> counts;  // candidate fates by status ("ok", "pruned", ...)
  std::string best_config;            // the winner once done
  double best_ms = 0;                 // fastest verified median so far (0 = none)
  double default_ms = 0, speedup = 0;
  std::string error;                  // why it could not be tuned
};

class CampaignProgress {
 public:
  // At most this many candidate errors are kept (the latest), so a job's record stays small.
  explicit CampaignProgress(size_t max_errors = 50) : max_errors_(max_errors) {}

  void apply(const CampaignEvent& e);

  bool started() const { return started_; }
  bool finished() const { return finished_; }
  // As announced by campaign_started, or as many as later events have named.
  int problem_count() const { return std::max(problem_count_, static_cast<int>(problems_.size())); }
  int problems_done() const { return problems_done_; }
  int problems_failed() const { return problems_failed_; }
  const std::string& device() const { return device_; }
  const std::string& strategy() const { return strategy_; }
  const std::vector<ProblemProgress>& problems() const { return problems_; }
  // "problem config: status: reason" of failed candidates and problems, oldest first.
  const std::vector<std::string>& errors() const { return errors_; }
  // Seconds left for the whole campaign (< 0: unknown): the current phase's estimate plus, per
  // problem not started, the mean time of the problems done so far.
  double eta_s() const;
  double elapsed_s() const { return t_s_; }
  // Candidate fates summed over every problem.
  std::map<std::string, int> total_counts() const;

  // {"problems_done", "problem_count", "problems_failed", "eta_s", "problems": [...], "errors": [...]}
  nlohmann::json to_json() const;

 private:
  ProblemProgress& at(const CampaignEvent& e);
  size_t max_errors_;
  bool started_ = false, finished_ = false;
  int problem_count_ = 0, problems_done_ = 0, problems_failed_ = 0;
  std::string device_, strategy_;
  std::vector<ProblemProgress> problems_;
  std::vector<std::string> errors_;
  double t_s_ = 0, phase_eta_s_ = -1, done_seconds_ = 0;
};

}  // namespace attnjit::tuner
