#include "tuner/selection.h"

#include <algorithm>

namespace attnjit::tuner {

bool beats(const Measurement& c, const Measurement& i, const SelectionPolicy& policy) {
  const double margin = std::max(policy.min_rel_gain * i.median_ms, (c.iqr_ms + i.iqr_ms) / 2);
  return i.median_ms - c.median_ms > margin;
}

std::optional<size_t> select_best(const std::vector<CandidateResult>& results,
                                  const TileConfig& default_config,
                                  const SelectionPolicy& policy) {
  std::vector<size_t> ok;
  for (size_t i = 0; i < results.size(); ++i)
    if (results[i].status == CandidateStatus::Ok) ok.push_back(i);
  if (ok.empty()) return std::nullopt;

  const std::string default_key = default_config.key();
  auto key_of = [&](size_t i) { return results[i].key(); };
  std::optional<size_t> incumbent;
  for (size_t i : ok)
    if (key_of(i) == default_key) incumbent = i;
  if (!incumbent)
    incumbent = *std::min_element(ok.begin(), ok.end(),
                                  [&](size_t a, size_t b) { return key_of(a) < key_of(b); });

  std::sort(ok.begin(), ok.end(), [&](size_t a, size_t b) {
    const double ma = results[a].time.median_ms, mb = results[b].time.median_ms;
    if (ma != mb) return ma < mb;
    return key_of(a) < key_of(b);
  });
  // Sweep until no challenger beats the incumbent: a candidate passed over early (too noisy
  // against the first incumbent) gets another try against the later, quieter one. Each switch
  // lowers the median by > min_rel_gain, so this ends.
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t c : ok) {
      if (c == *incumbent) continue;
      if (beats(results[c].time, results[*incumbent].time, policy)) {
        incumbent = c;
        changed = true;
      }
    }
  }
  return incumbent;
}

}  // namespace attnjit::tuner
