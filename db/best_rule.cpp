#include "db/best_rule.h"

#include <algorithm>
#include <numeric>

namespace attnjit {

bool beats(const BestCandidate& c, const BestCandidate& i, double min_rel_gain) {
  const double margin = std::max(min_rel_gain * i.median_ms, (c.iqr_ms + i.iqr_ms) / 2);
  return i.median_ms - c.median_ms > margin;
}

std::optional<size_t> pick_best(const std::vector<BestCandidate>& ok, std::string_view incumbent,
                                double min_rel_gain) {
  if (ok.empty()) return std::nullopt;
  std::vector<size_t> order(ok.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (ok[a].median_ms != ok[b].median_ms) return ok[a].median_ms < ok[b].median_ms;
    return ok[a].config < ok[b].config;
  });
  size_t inc = order.front();
  for (size_t i = 0; i < ok.size(); ++i)
    if (!incumbent.empty() && ok[i].config == incumbent) inc = i;
  // Sweep until no challenger beats the incumbent: a candidate passed over early (too noisy
  // against the first incumbent) gets another try against a later, quieter one. Each switch
  // lowers the median by more than min_rel_gain (or by a positive IQR margin), so this ends.
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t c : order) {
      if (c == inc) continue;
      if (beats(ok[c], ok[inc], min_rel_gain)) {
        inc = c;
        changed = true;
      }
    }
  }
  return inc;
}

}  // namespace attnjit
