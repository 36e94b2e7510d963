// Progress of a tuning run. Cold compiles that look like a hang are the first complaint about
// JIT autotuners, so every phase says what it is doing: a bar redrawn in place on a terminal,
// plain lines otherwise (logs, CI), and a summary table at the end.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "codegen/problem_spec.h"
#include "tuner/candidate.h"

namespace attnjit::tuner {

struct TuneReport;

class ProgressSink {
 public:
  virtual ~ProgressSink() = default;
  // A problem starts; `index`/`count` place it in the whole run (1-based).
  virtual void begin_problem(const ProblemSpec& spec, int index, int count, int candidates,
                             int reused) = 0;
  // One candidate finished a phase ("compile", "measure", "halving round 2/3").
  // `best_ms` is the fastest correct median so far (0 = none yet); `eta_s` < 0 = unknown.
  virtual void step(const std::string& phase, const CandidateResult& r, int done, int total,
                    double best_ms, double eta_s) = 0;
  virtual void end_problem(const TuneReport& report) = 0;
};

class ConsoleProgress final : public ProgressSink {
 public:
  // `out` usually stderr; the bar is used only when `out` is a terminal.
  explicit ConsoleProgress(std::FILE* out);
  void begin_problem(const ProblemSpec& spec, int index, int count, int candidates, int reused) override;
  void step(const std::string& phase, const CandidateResult& r, int done, int total, double best_ms,
            double eta_s) override;
  void end_problem(const TuneReport& report) override;

 private:
  std::FILE* out_;
  bool tty_;
  std::string problem_;
};

// The end-of-run table: one row per problem — default vs tuned time, ratio, candidates and
// their fates, time spent.
std::string summary_table(const std::vector<TuneReport>& reports);

}  // namespace attnjit::tuner
