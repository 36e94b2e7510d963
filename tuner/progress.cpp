#include "tuner/progress.h"

#include <unistd.h>

#include <sstream>

#include "tuner/tuner.h"

namespace attnjit::tuner {

namespace {

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

std::string eta_text(double s) {
  if (s < 0) return "?";
  if (s < 90) return fmt("%.0fs", s);
  if (s < 5400) return fmt("%.0fm", s / 60);
  return fmt("%.1fh", s / 3600);
}

}  // namespace

ConsoleProgress::ConsoleProgress(std::FILE* out) : out_(out), tty_(::isatty(::fileno(out)) == 1) {}

void ConsoleProgress::begin_problem(const ProblemSpec& spec, int index, int count, int candidates,
                                    int reused) {
  problem_ = spec.key();
  std::fprintf(out_, "[%d/%d] %s: %d candidates (%d already in the database)\n", index, count,
               problem_.c_str(), candidates, reused);
  std::fflush(out_);
}

void ConsoleProgress::step(const std::string& phase, const CandidateResult& r, int done, int total,
                           double best_ms, double eta_s) {
  const std::string best = best_ms > 0 ? fmt("%.4g ms", best_ms) : std::string("-");
  if (tty_) {
    const int width = 24;
    const int filled = total > 0 ? done * width / total : width;
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(width, '.');
    std::fprintf(out_, "\r  %-9.9s [%s] %d/%d  best %s  eta %s   ", phase.c_str(), bar.c_str(), done,
                 total, best.c_str(), eta_text(eta_s).c_str());
    if (done == total) std::fputc('\n', out_);
  } else {
    std::string what(to_string(r.status));
    if (r.status == CandidateStatus::Ok && r.time.samples > 0) what = fmt("%.4g ms", r.time.median_ms);
    std::fprintf(out_, "  %s %d/%d %s: %s | best %s | eta %s\n", phase.c_str(), done, total,
                 r.key().c_str(), what.c_str(), best.c_str(), eta_text(eta_s).c_str());
  }
  std::fflush(out_);
}

void ConsoleProgress::end_problem(const TuneReport& rep) {
  if (rep.best) {
    const CandidateResult& b = rep.results[*rep.best];
    const bool dec = rep.spec.family == Family::Decode;  // decode: GB/s of K+V read
    std::fprintf(out_, "  -> %s %.4g ms (%.3g %s), %.2fx the default %s, %.1fs\n", b.key().c_str(),
                 b.time.median_ms, dec ? b.gbps : b.tflops, dec ? "GB/s" : "TFLOP/s", rep.speedup(),
                 rep.default_config.key().c_str(), rep.seconds);
  } else {
    std::fprintf(out_, "  -> no correct candidate (%.1fs)\n", rep.seconds);
  }
  if (rep.compiled > 0 || rep.measured > 0)
    std::fprintf(out_, "  compiled %d in %.1fs (%.2f/s), %d measurements in %.1fs\n", rep.compiled,
                 rep.compile_seconds, rep.compile_seconds > 0 ? rep.compiled / rep.compile_seconds : 0.0,
                 rep.measured, rep.measure_seconds);
  if (!rep.baseline_note.empty()) std::fprintf(out_, "  note: %s\n", rep.baseline_note.c_str());
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
      s << b.key() << " | " << fmt("%.4g", b.time.median_ms) << " | " << (r.spec.family == Family::Decode ? fmt("%.4g GB/s", b.gbps) : fmt("%.3g", b.tflops)) << " | ";
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

}  // namespace attnjit::tuner
