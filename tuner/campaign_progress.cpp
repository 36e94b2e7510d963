#include "tuner/campaign_progress.h"

#include <algorithm>
#include <cmath>

namespace attnjit::tuner {

ProblemProgress& CampaignProgress::at(const CampaignEvent& e) {
  const int n = std::max({e.problem_index, e.problem_count, problem_count_});
  // Problems are announced by index; a reader that joins late (or a campaign_started that was
  // lost) still gets a slot per problem.
  if (n > static_cast<int>(problems_.size()) && n <= 1000000) problems_.resize(static_cast<size_t>(n));
  if (e.problem_index < 1 || e.problem_index > static_cast<int>(problems_.size())) {
    static thread_local ProblemProgress scratch;
    scratch = {};
    return scratch;
  }
  ProblemProgress& p = problems_[static_cast<size_t>(e.problem_index - 1)];
  if (p.problem.empty()) p.problem = e.problem;
  return p;
}

void CampaignProgress::apply(const CampaignEvent& e) {
  if (std::isfinite(e.t_s)) t_s_ = std::max(t_s_, e.t_s);
  switch (e.kind) {
    case EventKind::CampaignStarted:
      started_ = true;
      problem_count_ = e.problem_count;
      device_ = e.device;
      strategy_ = e.strategy;
      if (problem_count_ > 0 && problem_count_ <= 1000000) problems_.resize(static_cast<size_t>(problem_count_));
      return;
    case EventKind::ProblemStarted: {
      ProblemProgress& p = at(e);
      p.state = "running";
      p.candidates = e.candidates;
      p.reused = e.reused;
      p.phase.clear();
      p.done = p.total = 0;
      phase_eta_s_ = -1;
      return;
    }
    case EventKind::CandidateCompiled:
    case EventKind::CandidatePruned:
    case EventKind::CandidateVerified:
    case EventKind::CandidateTimed:
    case EventKind::CandidateFailed: {
      ProblemProgress& p = at(e);
      p.state = "running";
      p.phase = e.phase;
      p.done = e.done;
      p.total = e.total;
      if (e.best_ms > 0 && std::isfinite(e.best_ms)) p.best_ms = e.best_ms;
      phase_eta_s_ = std::isfinite(e.eta_s) ? e.eta_s : -1;
      if (e.kind == EventKind::CandidatePruned) ++p.counts["pruned"];
      if (e.kind == EventKind::CandidateTimed) ++p.counts["ok"];
      if (e.kind == EventKind::CandidateFailed) {
        ++p.counts[e.status];
        errors_.push_back(e.problem + " " + e.config + ": " + e.status + ": " + e.reason.substr(0, 300));
      }
      break;
    }
    case EventKind::ProblemDone: {
      ProblemProgress& p = at(e);
      p.state = e.best_config.empty() ? "failed" : "done";
      if (!e.counts.empty()) p.counts = e.counts;
      p.best_config = e.best_config;
      if (e.best_median_ms > 0) p.best_ms = e.best_median_ms;
      p.default_ms = e.default_median_ms;
      p.speedup = e.speedup;
      p.error = e.error;
      p.phase.clear();
      ++problems_done_;
      if (p.state == "failed") {
        ++problems_failed_;
        errors_.push_back(e.problem + ": " + e.error);
      }
      done_seconds_ += e.seconds;
      phase_eta_s_ = -1;
      break;
    }
    case EventKind::CampaignFinished:
      finished_ = true;
      phase_eta_s_ = 0;
      return;
  }
  if (errors_.size() > max_errors_) errors_.erase(errors_.begin(), errors_.end() - static_cast<long>(max_errors_));
}

double CampaignProgress::eta_s() const {
  if (finished_) return 0;
  int not_started = 0;
  for (const ProblemProgress& p : problems_) not_started += p.state == "queued";
  if (not_started == 0) return phase_eta_s_;
  if (problems_done_ == 0) return -1;
  const double per_problem = done_seconds_ / problems_done_;
  return std::max(0.0, phase_eta_s_) + per_problem * not_started;
}

std::map<std::string, int> CampaignProgress::total_counts() const {
  std::map<std::string, int> c;
  for (const ProblemProgress& p : problems_)
    for (const auto& [k, v] : p.counts) c[k] += v;
  return c;
}

nlohmann::json CampaignProgress::to_json() const {
  nlohmann::json ps = nlohmann::json::array();
  for (const ProblemProgress& p : problems_) {
    nlohmann::json j = {{"problem", p.problem}, {"state", p.state}, {"candidates", p.candidates},
                        {"reused", p.reused}, {"counts", p.counts}};
    if (!p.phase.empty()) j["phase"] = {{"name", p.phase}, {"done", p.done}, {"total", p.total}};
    if (p.best_ms > 0) j["best_ms"] = p.best_ms;
    if (!p.best_config.empty()) j["best_config"] = p.best_config;
    if (p.default_ms > 0) {
      j["default_ms"] = p.default_ms;
      j["speedup"] = p.speedup;
    }
    if (!p.error.empty()) j["error"] = p.error;
    ps.push_back(std::move(j));
  }
  const double eta = eta_s();
  return {{"problem_count", problem_count()},
          {"problems_done", problems_done_},
          {"problems_failed", problems_failed_},
          {"elapsed_s", t_s_},
          {"eta_s", eta >= 0 ? nlohmann::json(eta) : nlohmann::json(nullptr)},
          {"problems", ps},
          {"errors", errors_}};
}

}  // namespace attnjit::tuner
