// The Python package's one contact with the tuning library: tuning problems into a database
// and reading the best config back. Everything the package needs from tuner/ goes through
// these functions, so when the tuner becomes a campaign only tune_layer.cpp changes.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/config_provider.h"
#include "attnjit/attnjit.h"

namespace attnjit::python {

// One progress event, already flattened for Python (a dict there).
struct TuneEvent {
  std::string kind;       // "problem_started" | "candidate" | "problem_done" | "problem_failed"
  std::string problem;    // problem key
  int index = 0, count = 0;      // the problem's place in the run (1-based)
  std::string phase;      // candidate: "compile", "measure", ...
  std::string config;     // candidate: config key; problem_done: the best config ("" = none)
  std::string status;     // candidate: "ok", "compile_error", ...; problem_failed: the reason
  int done = 0, total = 0;       // candidate: progress within the problem
  double median_ms = 0;   // candidate: its median; problem_done: the best's median
  double best_ms = 0;     // candidate: fastest correct so far (0 = none)
};

struct TuneRequest {
  std::vector<std::string> problems;  // problem keys
  std::string db;
  std::string backend = "auto";       // "auto" | "cpu" | "cuda" | "gpu"
  std::string strategy = "exhaustive";
  std::string budget;                 // "N" | "Ns" | "N,Ms" | "" (none)
  double measure_seconds = 1.0;
  uint64_t seed = 0;
  int threads = 0;                    // compile threads, 0 = all cores
  // Polled before each measurement: true ends the run (the rest are reported as skipped).
  std::function<bool()> should_stop;
};

struct CandidateRow {
  std::string config, status, reason;
  double median_ms = 0, iqr_ms = 0, tflops = 0, gbps = 0;
  bool from_db = false;
};

struct ProblemReport {
  std::string problem, template_name, default_config;
  std::optional<std::string> best;     // config key
  double best_ms = 0, default_ms = 0, speedup = 1, seconds = 0;
  std::vector<CandidateRow> candidates;
  std::string error;                   // set when the problem could not be tuned at all
};

// Tunes each problem in process (a faulting candidate is caught; on GPUs the worker process
// of `attnjit tune` isolates better) and records every candidate in `db`. `on_event` is
// called from the calling thread. SpecError for bad keys / strategy / budget before any work.
std::vector<ProblemReport> tune(const TuneRequest& req, const std::function<void(const TuneEvent&)>& on_event);

struct BestAnswer {
  std::string problem, config, source;   // source: "db:exact", "db:nearest_bucket:<key>", "default", ...
  std::string explanation;
  std::optional<double> median_ms;       // from the database, when it had an entry
};
// What a runtime on `backend` would run for the problem with `db` as its config provider.
BestAnswer best(const std::string& problem_key, const std::string& db, Backend& backend);

// A DbConfigProvider for a runtime on `backend` (the device identity the tuner records).
std::shared_ptr<ConfigProvider> make_db_provider(const std::string& db, const Backend& backend);

}  // namespace attnjit::python
