#include "tuner/result_json.h"

#include <cmath>
#include <limits>

#include "codegen/types.h"

namespace attnjit::tuner {

namespace {

// JSON has no infinity: a NaN/unwritten output's error travels as null.
nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }
double get_num(const nlohmann::json& j, const char* f) {
  if (!j.contains(f)) throw SpecError(std::string("worker result: missing field '") + f + "'");
  if (j.at(f).is_null()) return std::numeric_limits<double>::infinity();
  if (!j.at(f).is_number()) throw SpecError(std::string("worker result: field '") + f + "' is not a number");
  return j.at(f).get<double>();
}

}  // namespace

nlohmann::json to_json(const CandidateResult& r) {
  return {
      {"config", r.config.key()},
      {"status", std::string(to_string(r.status))},
      {"reason", r.reason},
      {"registers", r.resources.registers},
      {"spill_store_bytes", r.resources.spill_store_bytes},
      {"spill_load_bytes", r.resources.spill_load_bytes},
      {"smem_static_bytes", r.resources.smem_static_bytes},
      {"stack_frame_bytes", r.resources.stack_frame_bytes},
      {"compile_ms", r.compile_ms},
      {"max_error", num(r.max_error)},
      {"tolerance", num(r.tolerance)},
      {"median_ms", r.time.median_ms},
      {"iqr_ms", r.time.iqr_ms},
      {"min_ms", r.time.min_ms},
      {"max_ms", r.time.max_ms},
      {"samples", r.time.samples},
      {"settled", r.time.settled},
      {"tflops", r.tflops},
      {"gbps", r.gbps},
  };
}

CandidateResult candidate_from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw SpecError("worker result: expected a JSON object");
  try {
    CandidateResult r;
    r.config = TileConfig::parse(j.at("config").get<std::string>());
    r.status = parse_candidate_status(j.at("status").get<std::string>());
    r.reason = j.at("reason").get<std::string>();
    r.resources.registers = j.at("registers").get<int>();
    r.resources.spill_store_bytes = j.at("spill_store_bytes").get<int>();
    r.resources.spill_load_bytes = j.at("spill_load_bytes").get<int>();
    r.resources.smem_static_bytes = j.at("smem_static_bytes").get<int>();
    r.resources.stack_frame_bytes = j.at("stack_frame_bytes").get<int>();
    r.compile_ms = get_num(j, "compile_ms");
    r.max_error = get_num(j, "max_error");
    r.tolerance = get_num(j, "tolerance");
    r.time.median_ms = get_num(j, "median_ms");
    r.time.iqr_ms = get_num(j, "iqr_ms");
    r.time.min_ms = get_num(j, "min_ms");
    r.time.max_ms = get_num(j, "max_ms");
    r.time.samples = j.at("samples").get<int>();
    r.time.settled = j.at("settled").get<bool>();
    r.tflops = get_num(j, "tflops");
    r.gbps = get_num(j, "gbps");
    return r;
  } catch (const nlohmann::json::exception& e) {
    throw SpecError(std::string("worker result: ") + e.what());
  }
}

nlohmann::json to_json(const MeasureOptions& m) {
  return {{"warmup", m.warmup},
          {"min_samples", m.min_samples},
          {"max_samples", m.max_samples},
          {"target_rel_iqr", m.target_rel_iqr},
          {"max_seconds", m.max_seconds}};
}

MeasureOptions measure_from_json(const nlohmann::json& j) {
  try {
    MeasureOptions m;
    m.warmup = j.at("warmup").get<int>();
    m.min_samples = j.at("min_samples").get<int>();
    m.max_samples = j.at("max_samples").get<int>();
    m.target_rel_iqr = j.at("target_rel_iqr").get<double>();
    m.max_seconds = j.at("max_seconds").get<double>();
    return m;
  } catch (const nlohmann::json::exception& e) {
    throw SpecError(std::string("measure options: ") + e.what());
  }
}

}  // namespace attnjit::tuner
