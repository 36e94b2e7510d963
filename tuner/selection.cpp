#include "tuner/selection.h"

namespace attnjit::tuner {

bool beats(const Measurement& c, const Measurement& i, const SelectionPolicy& policy) {
  return attnjit::beats({"", c.median_ms, c.iqr_ms}, {"", i.median_ms, i.iqr_ms}, policy.min_rel_gain);
}

std::optional<size_t> select_best(const std::vector<CandidateResult>& results,
                                  const TileConfig& default_config,
                                  const SelectionPolicy& policy) {
  std::vector<BestCandidate> ok;
  std::vector<size_t> index;
  for (size_t i = 0; i < results.size(); ++i) {
    if (results[i].status != CandidateStatus::Ok) continue;
    ok.push_back({results[i].key(), results[i].time.median_ms, results[i].time.iqr_ms});
    index.push_back(i);
  }
  const std::optional<size_t> pick = pick_best(ok, default_config.key(), policy.min_rel_gain);
  if (!pick) return std::nullopt;
  return index[*pick];
}

}  // namespace attnjit::tuner
