#include "cli/tune_progress.h"

#include <unistd.h>

#include <algorithm>
#include <sstream>

namespace attnjit::cli {

using tuner::CampaignEvent;
using tuner::CandidateResult;
using tuner::CandidateStatus;
using tuner::EventKind;
using tuner::TuneReport;

namespace {

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

std::string ms_text(double ms) { return ms > 0 ? fmt("%.4g ms", ms) : std::string("-"); }

// "ok 12, pruned 3, wrong_result 1" (zero counts left out).
std::string counts_text(const std::map<std::string, int>& c) {
  std::string s;
  for (const auto& [k, v] : c)
    if (v > 0) s += (s.empty() ? "" : ", ") + k + " " + std::to_string(v);
  return s.empty() ? "no candidates yet" : s;
}

}  // namespace

std::string progress_bar(int done, int total, int width) {
  const int filled = total > 0 ? std::min(width, std::max(0, done) * width / total) : 0;
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(static_cast<size_t>(width), '.');
  return "[" + bar + "] " + std::to_string(done) + "/" + std::to_string(total);
}

std::string eta_text(double s) {
  if (s < 0) return "?";
  if (s < 90) return fmt("%.0fs", s);
  if (s < 5400) return fmt("%.0fm", s / 60);
  return fmt("%.1fh", s / 3600);
}

ConsoleProgress::ConsoleProgress(std::FILE* out, bool force_tty)
    : out_(out), tty_(force_tty || ::isatty(::fileno(out)) == 1) {}

void ConsoleProgress::bars(const CampaignEvent& e) {
  const tuner::ProblemProgress& p = state_.problems().at(static_cast<size_t>(e.problem_index - 1));
  // Two lines redrawn in place: move up one line after the first draw of a problem.
  std::fprintf(out_, "\r\033[2K  problems %s  %s  eta %s\n\033[2K  %-17.17s %s  best %s\033[1A\r",
               progress_bar(state_.problems_done(), state_.problem_count(), 16).c_str(),
               counts_text(state_.total_counts()).c_str(), eta_text(state_.eta_s()).c_str(),
               p.phase.c_str(), progress_bar(p.done, p.total, 24).c_str(), ms_text(p.best_ms).c_str());
}

void ConsoleProgress::operator()(const CampaignEvent& e) {
  state_.apply(e);
  switch (e.kind) {
    case EventKind::CampaignStarted:
      std::fprintf(out_, "attnjit tune: %d problems on %s, strategy %s, isolation %s\n", e.problem_count,
                   e.device.c_str(), e.strategy.c_str(), e.isolation.c_str());
      break;
    case EventKind::ProblemStarted:
      std::fprintf(out_, "[%d/%d] %s: %d candidates (%d already in the database)\n", e.problem_index,
                   e.problem_count, e.problem.c_str(), e.candidates, e.reused);
      break;
    case EventKind::CandidateVerified:
      return;  // its candidate_timed follows at once
    case EventKind::CandidateCompiled:
    case EventKind::CandidatePruned:
    case EventKind::CandidateTimed:
    case EventKind::CandidateFailed:
      if (tty_) {
        bars(e);
      } else {
        std::string what = e.kind == EventKind::CandidateTimed    ? ms_text(e.median_ms)
                           : e.kind == EventKind::CandidatePruned ? std::string("pruned")
                           : e.kind == EventKind::CandidateFailed ? e.status
                                                                  : std::string("compiled");
        std::fprintf(out_, "  %s %d/%d %s: %s | best %s | eta %s\n", e.phase.c_str(), e.done, e.total,
                     e.config.c_str(), what.c_str(), ms_text(e.best_ms).c_str(),
                     eta_text(state_.eta_s()).c_str());
      }
      break;
    case EventKind::ProblemDone:
      if (tty_) std::fprintf(out_, "\r\033[2K\n\033[2K\033[1A\r");  // clear both bars
      if (!e.best_config.empty())
        std::fprintf(out_, "  -> %s %.4g ms, %.2fx the default %s, %.1fs (%s)\n", e.best_config.c_str(),
                     e.best_median_ms, e.speedup, e.default_config.c_str(), e.seconds,
                     counts_text(e.counts).c_str());
      else
        std::fprintf(out_, "  -> %s: %s\n", e.problem.c_str(), e.error.c_str());
      if (!e.note.empty()) std::fprintf(out_, "  note: %s\n", e.note.c_str());
      break;
    case EventKind::CampaignFinished:
      std::fprintf(out_, "attnjit tune: %d of %d problems tuned in %.1fs (%s)\n", e.problems_tuned,
                   e.problem_count, e.seconds, counts_text(state_.total_counts()).c_str());
      break;
  }
  std::fflush(out_);
}

std::string summary_table(const std::vector<TuneReport>& reports) {
  std::ostringstream s;
  s << "| problem | best config | ms | TFLOP/s (decode: GB/s) | default ms | speedup | ok / wrong / failed / pruned | reused | s |\n"
    << "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  for (const TuneReport& r : reports) {
    s << "| " << r.spec.key() << " | ";
    if (r.best) {
      const CandidateResult& b = r.results[*r.best];
      s << b.key() << " | " << fmt("%.4g", b.time.median_ms) << " | "
        << (r.spec.family == Family::Decode ? fmt("%.4g GB/s", b.gbps) : fmt("%.3g", b.tflops)) << " | ";
    } else {
      s << "none | - | - | ";
    }
    if (r.default_index && r.results[*r.default_index].status == CandidateStatus::Ok)
      s << fmt("%.4g", r.results[*r.default_index].time.median_ms);
    else
      s << "-";
    const int failed = r.count(CandidateStatus::CompileError) + r.count(CandidateStatus::LaunchError) +
                       r.count(CandidateStatus::Timeout);
    s << " | " << fmt("%.2fx", r.speedup()) << " | " << r.count(CandidateStatus::Ok) << " / "
      << r.count(CandidateStatus::WrongResult) << " / " << failed << " / " << r.count(CandidateStatus::Pruned)
      << " | " << r.reused << " | " << fmt("%.1f", r.seconds) << " |\n";
  }
  return s.str();
}

}  // namespace attnjit::cli
