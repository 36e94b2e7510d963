// Timing one candidate: warm-up, then repeated batches of timed runs until the spread settles
// (relative IQR below a target) or a time / sample cap is hit. The statistic is the median,
// the noise estimate the interquartile range — both robust to the occasional preempted run.
//
// The runner and the clock are injected so the loop (and everything built on it) can be tested
// with a deterministic fake clock.
#pragma once

#include <functional>
#include <vector>

namespace attnjit::tuner {

// Summary of repeated timings of one candidate, in milliseconds per call.
struct Measurement {
  double median_ms = 0;
  double iqr_ms = 0;    // Q3 - Q1
  double min_ms = 0;
  double max_ms = 0;
  int samples = 0;
  bool settled = false; // relative IQR reached the target before a cap

  double rel_iqr() const { return median_ms > 0 ? iqr_ms / median_ms : 0; }
};

// Median / quartiles with linear interpolation (numpy's default); throws std::invalid_argument
// on an empty input.
double quantile(std::vector<double> v, double q);
Measurement summarize(const std::vector<double>& samples_ms);

struct MeasureOptions {
  int warmup = 2;              // unmeasured runs before the first batch
  int min_samples = 5;         // never judge the spread on fewer
  int max_samples = 200;
  double target_rel_iqr = 0.02;
  double max_seconds = 1.0;    // wall-time cap for one candidate's measurement
};

// Seconds since an arbitrary epoch. The real one is a steady clock.
using Clock = std::function<double()>;
Clock steady_clock_seconds();

// Runs `reps` timed repetitions after `warmup` unmeasured ones; returns one time per
// repetition in ms (Backend::time, or a fake in tests).
using TimedRunner = std::function<std::vector<double>(int warmup, int reps)>;

// The adaptive loop: a first batch sized to `min_samples`, then batches sized so that each
// takes about a fifth of the remaining time budget, until settled or capped.
Measurement measure_until_settled(const TimedRunner& run, const MeasureOptions& opt,
                                  const Clock& clock);

}  // namespace attnjit::tuner
