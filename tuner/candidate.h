// One candidate's fate in a tuning run: how it compiled, whether it computed the right answer,
// how fast it ran. Every candidate is recorded, failures included, so a later run (or a reader
// of the database) knows why a config was never chosen.
#pragma once

#include <string>
#include <string_view>

#include "codegen/tile_config.h"
#include "runtime/backend.h"
#include "tuner/measurement.h"

namespace attnjit::tuner {

enum class CandidateStatus {
  Ok,            // correct and timed
  CompileError,  // the compiler rejected it
  Pruned,        // compiled, but its resources rule it out (spills, registers, shared memory)
  WrongResult,   // ran, output outside the tolerance (or NaN / unwritten)
  LaunchError,   // launch failed, or the worker process died (signal / non-zero exit)
  Timeout,       // the worker did not answer in time and was killed
  Skipped,       // not measured (budget exhausted, eliminated early by successive halving)
};

// "ok" | "compile_error" | "pruned" | "wrong_result" | "launch_error" | "timeout" | "skipped"
std::string_view to_string(CandidateStatus s);
// Throws SpecError naming the allowed values.
CandidateStatus parse_candidate_status(std::string_view s);

struct CandidateResult {
  TileConfig config;
  CandidateStatus status = CandidateStatus::Skipped;
  std::string reason;            // why it failed / was pruned; empty when ok
  ResourceUsage resources;
  double compile_ms = 0;
  double max_error = 0;          // worst |out - expected| over the checks that ran
  double tolerance = 0;          // the bound that max_error was held to (same check)
  Measurement time;              // valid when status == Ok
  double tflops = 0;             // prefill: 4·B·H·Sq·Sk·D (halved for causal) / time
  double gbps = 0;               // decode: K+V bytes / time
  bool from_db = false;          // reused from an earlier run, not re-measured

  std::string key() const { return config.key(); }
};

}  // namespace attnjit::tuner
