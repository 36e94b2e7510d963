#include "tuner/measurement.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

namespace attnjit::tuner {

double quantile(std::vector<double> v, double q) {
  if (v.empty()) throw std::invalid_argument("quantile: no samples");
  std::sort(v.begin(), v.end());
  double pos = q * static_cast<double>(v.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  size_t hi = std::min(lo + 1, v.size() - 1);
  double frac = pos - static_cast<double>(lo);
  return v[lo] + (v[hi] - v[lo]) * frac;
}

Measurement summarize(const std::vector<double>& s) {
  if (s.empty()) throw std::invalid_argument("summarize: no samples");
  Measurement m;
  m.median_ms = quantile(s, 0.5);
  m.iqr_ms = quantile(s, 0.75) - quantile(s, 0.25);
  m.min_ms = *std::min_element(s.begin(), s.end());
  m.max_ms = *std::max_element(s.begin(), s.end());
  m.samples = static_cast<int>(s.size());
  return m;
}

Clock steady_clock_seconds() {
  return [] {
    using namespace std::chrono;
    return duration<double>(steady_clock::now().time_since_epoch()).count();
  };
}

Measurement measure_until_settled(const TimedRunner& run, const MeasureOptions& opt,
                                  const Clock& clock) {
  if (opt.min_samples < 1 || opt.max_samples < opt.min_samples)
    throw std::invalid_argument("measure: need 1 <= min_samples <= max_samples");
  const double start = clock();
  std::vector<double> samples = run(opt.warmup, opt.min_samples);
  if (samples.empty()) throw std::runtime_error("measure: the runner returned no timings");
  Measurement m = summarize(samples);
  while (true) {
    if (m.rel_iqr() <= opt.target_rel_iqr) {
      m.settled = true;
      break;
    }
    const double elapsed = clock() - start;
    const double left = opt.max_seconds - elapsed;
    if (left <= 0 || m.samples >= opt.max_samples) break;
    // Size the next batch to ~1/5 of the remaining budget from the median so far, so the loop
    // re-checks the spread a few times without overshooting the cap by more than one batch.
    double per_run_s = std::max(m.median_ms, 1e-6) / 1e3;
    // Capped while still a double: a large budget over a fast kernel (1e9 s / 1 ms) is far
    // beyond int, and converting such a double (or a NaN) to int is undefined behaviour.
    const int room = opt.max_samples - m.samples;
    const double want = left / 5 / per_run_s;
    const int reps = !(want < room) ? room : std::max(1, static_cast<int>(want));
    std::vector<double> more = run(0, reps);
    if (more.empty()) throw std::runtime_error("measure: the runner returned no timings");
    samples.insert(samples.end(), more.begin(), more.end());
    m = summarize(samples);
  }
  return m;
}

}  // namespace attnjit::tuner
