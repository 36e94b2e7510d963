// The one rule that picks "best" among a problem's verified results. Every reader and writer
// uses it: the tuner when a run ends, the database whenever a result is recorded or imported
// (so the service's POST /v1/results and `attnjit db import` agree with `attnjit tune`), and
// through the stored best entry, lookup, api/ and the service's /v1/best.
//
// Timings jitter; a pick that flips between two configs within noise makes two runs over the
// same data disagree. So a challenger replaces the incumbent only when it is faster beyond the
// measured noise and by more than a minimum gain, and exact ties go to the smaller config key.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace attnjit {

// One verified (status ok) result as the rule sees it.
struct BestCandidate {
  std::string config;    // TileConfig::key()
  double median_ms = 0;
  double iqr_ms = 0;
};

// The default minimum gain: never switch for less than 2%.
inline constexpr double kDefaultBestMargin = 0.02;

// Whether `challenger` is faster than `incumbent` beyond noise: its median is lower by more than
// max(min_rel_gain · incumbent median, (IQR_c + IQR_i) / 2) — the two "median ± IQR/2"
// intervals do not overlap and the gain is worth a switch.
bool beats(const BestCandidate& challenger, const BestCandidate& incumbent, double min_rel_gain);

// The chosen index into `ok`, or nullopt when it is empty. The incumbent starts as the candidate
// whose config is `incumbent` (the stored best entry, or the built-in default for a fresh
// tuning run) when there is one, else the fastest (ties by key); challengers are tried
// fastest-median first, sweeping again until none beats the incumbent — so no candidate beats
// the one returned, and the answer depends on the data only, not on the order it came in.
std::optional<size_t> pick_best(const std::vector<BestCandidate>& ok, std::string_view incumbent,
                                double min_rel_gain);

}  // namespace attnjit
