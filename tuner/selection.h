// Choosing the winner of a tuning run: the database's one "best" rule (db/best_rule.h) applied
// to CandidateResults, with the built-in default config as the first incumbent — so a tuned
// entry replaces the default only when it is faster beyond noise.
#pragma once

#include <optional>
#include <vector>

#include "db/best_rule.h"
#include "tuner/candidate.h"

namespace attnjit::tuner {

struct SelectionPolicy {
  double min_rel_gain = kDefaultBestMargin;  // never switch for less than 2%
};

// db/best_rule.h's beats() on two measurements.
bool beats(const Measurement& challenger, const Measurement& incumbent,
           const SelectionPolicy& policy = {});

// The chosen candidate among those with status Ok (index into `results`), or nullopt if none:
// pick_best() with the default config as the incumbent when it is Ok.
std::optional<size_t> select_best(const std::vector<CandidateResult>& results,
                                  const TileConfig& default_config,
                                  const SelectionPolicy& policy = {});

}  // namespace attnjit::tuner
