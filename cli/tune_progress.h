// Rendering a tuning campaign's events (tuner/campaign_event.h) for people. Cold compiles that
// look like a hang are the first complaint about JIT autotuners, so every phase says what it is
// doing: on a terminal two bars redrawn in place (the campaign: problems done, candidate fates,
// ETA; the current problem: its phase, done/total, best so far), plain lines otherwise (logs,
// CI); and a summary table at the end.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "tuner/campaign_event.h"
#include "tuner/campaign_progress.h"
#include "tuner/tuner.h"

namespace attnjit::cli {

class ConsoleProgress {
 public:
  // `out` usually stderr; bars are drawn only when `out` is a terminal (or `force_tty`).
  explicit ConsoleProgress(std::FILE* out, bool force_tty = false);
  void operator()(const tuner::CampaignEvent& e);
  const tuner::CampaignProgress& state() const { return state_; }

 private:
  void bars(const tuner::CampaignEvent& e);
  std::FILE* out_;
  bool tty_;
  tuner::CampaignProgress state_;
};

// "[########........] 3/8" with `width` cells.
std::string progress_bar(int done, int total, int width);
// "42s", "7m", "1.5h"; "?" when negative.
std::string eta_text(double seconds);

// The end-of-run table: one row per problem — default vs tuned time, ratio, candidates and
// their fates, time spent.
std::string summary_table(const std::vector<tuner::TuneReport>& reports);

}  // namespace attnjit::cli
