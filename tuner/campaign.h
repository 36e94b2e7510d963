// A tuning campaign: a problem set × a device × a strategy in, structured events out
// (tuner/campaign_event.h). For each problem it picks the template, runs candidates in this
// process or in isolated workers, tunes (tuner.h) and records into the store. A problem that
// cannot be tuned is reported (problem_done with an error) and the campaign carries on.
#pragma once

#include <string>
#include <vector>

#include "codegen/problem_spec.h"
#include "runtime/backend.h"
#include "tuner/campaign_event.h"
#include "tuner/result_store.h"
#include "tuner/tuner.h"
#include "tuner/worker.h"

namespace attnjit::tuner {

struct CampaignOptions {
  std::vector<ProblemSpec> problems;
  TuneOptions tune;             // strategy (see choose_strategy), budget, measurement, seed
  bool isolate = false;         // candidates in worker processes (worker.exe must be set)
  WorkerOptions worker;         // exe and timeouts when isolated
  int compile_threads = 0;      // 0 = all cores
};

struct CampaignReport {
  std::vector<TuneReport> reports;  // the problems that were tuned (with or without a winner)
  int problems = 0;
  int failed = 0;                   // problems without a correct candidate or not tunable
  double seconds = 0;
};

// `store` may be null; `events` may be empty. Every event is stamped with t_s (seconds since
// the campaign started). Throws only what the store throws on storage failures (DbError) —
// a problem's own failure is an event, not an exception.
CampaignReport run_campaign(Backend& backend, const CampaignOptions& options, ResultStore* store,
                            const EventSink& events);

}  // namespace attnjit::tuner
