// Lookup: the config to run for (device, problem, template) and WHY it was chosen.
//
// Order (first hit wins; a result that is not Ok is never returned):
//   Exact          best entry for this device, problem key and template hash
//   NearestBucket  same device, template, family, dtype, head dim and mask kind (+ same window
//                  for sliding window, same page size for decode); smallest
//                  |log2 q - log2 q'| + |log2 k - log2 k'|; ties: closest GQA group, same
//                  "even" flag, then problem key (ascending) — deterministic across processes
//   SameArch       another device with the same target key: exact problem first, else the
//                  nearest bucket as above; ties: same device name, closest SM count, fingerprint
//   Default        nothing usable: the caller runs the template's default_config()
// The returned config was legal where it was tuned; the caller must still check
// KernelTemplate::can_implement for the problem at hand and fall back to the default if not.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "db/tuning_result.h"

namespace attnjit {

enum class LookupReason { Exact, NearestBucket, SameArch, Default };

std::string_view to_string(LookupReason r);  // "exact" | "nearest_bucket" | "same_arch" | "default"

struct LookupResult {
  LookupReason reason = LookupReason::Default;
  std::optional<BestEntry> entry;  // set unless reason == Default; entry->problem = tuned problem
  double distance = 0;             // bucket distance (0 for exact problem matches)
  std::string explanation;         // one human-readable line, e.g. "nearest bucket on this
                                   // device: tuned for prefill_..._q2048_k2048 (distance 2)"
};

}  // namespace attnjit
