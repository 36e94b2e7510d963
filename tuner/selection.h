// Choosing the winner deterministically. Timings jitter; a pick that flips between two configs
// within noise makes ranks of one job (or two runs of one tuner) disagree. So a challenger
// replaces the incumbent only when it is faster beyond the measured noise, the incumbent starts
// as the built-in default, and exact ties go to the smaller config key.
#pragma once

#include <optional>
#include <vector>

#include "tuner/candidate.h"

namespace attnjit::tuner {

struct SelectionPolicy {
  double min_rel_gain = 0.02;  // never switch for less than 2%
};

// Whether `challenger` is faster than `incumbent` beyond noise: its median is lower by more than
// max(min_rel_gain · incumbent median, (IQR_c + IQR_i) / 2) — i.e. the two "median ± IQR/2"
// intervals do not overlap and the gain is worth a switch.
bool beats(const Measurement& challenger, const Measurement& incumbent,
           const SelectionPolicy& policy = {});

// The chosen candidate among those with status Ok (index into `results`), or nullopt if none.
// The incumbent starts as the default config when it is Ok (else the Ok candidate with the
// smallest key); challengers are tried fastest-median first (ties by key), sweeping again
// until none beats the incumbent — so no Ok candidate beats the one returned.
std::optional<size_t> select_best(const std::vector<CandidateResult>& results,
                                  const TileConfig& default_config,
                                  const SelectionPolicy& policy = {});

}  // namespace attnjit::tuner
