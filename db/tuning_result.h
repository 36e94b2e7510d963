// The rows of the tuning database as plain structs: one measured (device, problem, template,
// config) candidate, the chosen best per (device, problem, template), and template identity.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace attnjit {

// What happened to one candidate. Only Ok results are ever chosen or returned by lookup.
// Pruned (schema v3): compiled, but its resources (spills, registers, shared memory) rule it
// out; before v3 it was stored as compile_error with an error text starting "pruned".
enum class ResultStatus { Ok, CompileError, LaunchError, WrongResult, Timeout, Pruned };

std::string_view to_string(ResultStatus s);  // "ok" | "compile_error" | "launch_error" | ... | "pruned"
// Throws SpecError("status: unknown value 'x' (allowed: ...)").
ResultStatus parse_result_status(std::string_view s);

// A kernel template version: results are only valid for the exact template hash they were
// measured with (KernelTemplate::version_hash()).
struct TemplateInfo {
  std::string hash;               // KernelTemplate::version_hash()
  std::string name;               // "prefill_sm80"
  std::string family;             // "prefill" | "decode"
  std::string generator_version;  // attnjit version that generated it

  bool operator==(const TemplateInfo&) const = default;
};

// One measured candidate. Unique key: (device, problem, template_hash, config).
struct TuningResult {
  int64_t id = 0;                 // row id (set by the database; the pagination cursor)
  std::string device;             // DeviceInfo::fingerprint() (must be upserted first)
  std::string problem;            // ProblemSpec::key()
  std::string template_name;      // "prefill_sm80" (used when the template is not known yet)
  std::string template_hash;      // KernelTemplate::version_hash()
  std::string config;             // TileConfig::key()
  ResultStatus status = ResultStatus::Ok;
  std::string error;              // why it is not ok (compiler log excerpt, fault, ...); "" if ok
  double median_ms = 0, min_ms = 0, max_ms = 0;  // 0 when not timed (status != ok)
  double iqr_ms = 0;              // interquartile range of the timed runs (stored since v3)
  int runs = 0;                   // timed repetitions
  double tflops = 0;              // achieved TFLOP/s (prefill), 0 if not meaningful
  double gbps = 0;                // achieved GB/s (decode: K+V bytes read), 0 if not meaningful
  double max_error = 0;           // max |out - reference|
  double tolerance = 0;           // the bound max_error was checked against
  int registers = 0;              // per thread (GPU; 0 on CPU)
  int spill_bytes = 0;            // spill stores + loads reported by ptxas
  int smem_bytes = 0;             // static + dynamic shared memory per block
  int64_t measured_at_ms = 0;     // unix time in ms; 0 = "now" when recorded
  std::string tuner_version;      // attnjit version of the tuner that measured it

  bool operator==(const TuningResult&) const = default;
};

// The chosen config for (device, problem, template_hash), by the one rule of db/best_rule.h.
struct BestEntry {
  std::string device;             // fingerprint
  std::string target;             // the device's target key
  std::string problem;            // the problem it was tuned for
  std::string template_name;
  std::string template_hash;
  std::string config;             // TileConfig::key()
  double median_ms = 0;
  double tflops = 0;
  double gbps = 0;
  int64_t result_id = 0;          // the TuningResult row it points at
  int64_t updated_at_ms = 0;      // when this entry was (re)chosen

  bool operator==(const BestEntry&) const = default;
};

}  // namespace attnjit
