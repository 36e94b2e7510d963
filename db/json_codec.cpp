#include "db/json_codec.h"

#include <cstdint>
#include <limits>

#include <algorithm>
#include <cmath>
#include <string>

#include "codegen/types.h"

namespace attnjit {
namespace {

using nlohmann::json;

const json& field(const json& j, const char* name) {
  if (!j.is_object()) throw SpecError(std::string(name) + ": expected a JSON object around it");
  auto it = j.find(name);
  if (it == j.end()) throw SpecError(std::string(name) + ": missing");
  return *it;
}

std::string req_str(const json& j, const char* name) {
  const json& v = field(j, name);
  if (!v.is_string()) throw SpecError(std::string(name) + ": expected a string");
  return v.get<std::string>();
}

std::string opt_str(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return {};
  if (!it->is_string()) throw SpecError(std::string(name) + ": expected a string");
  return it->get<std::string>();
}

template <class T>
T opt_num(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return T{};
  if (!it->is_number()) throw SpecError(std::string(name) + ": expected a number");
  if constexpr (std::is_integral_v<T>) {
    if (!it->is_number_integer()) throw SpecError(std::string(name) + ": expected an integer");
    // get<T>() would truncate silently (2^32 + 1 -> 1): refuse what T cannot hold.
    const bool fits = it->is_number_unsigned()
                          ? it->template get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max())
                          : it->template get<int64_t>() >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
                                it->template get<int64_t>() <= static_cast<int64_t>(std::numeric_limits<T>::max());
    if (!fits)
      throw SpecError(std::string(name) + ": out of range (" + std::to_string(std::numeric_limits<T>::min()) +
                      ".." + std::to_string(std::numeric_limits<T>::max()) + ")");
  }
  return it->get<T>();
}

}  // namespace

json to_json(const DeviceInfo& d) {
  return {{"fingerprint", d.fingerprint()}, {"target", d.target},
          {"name", d.name},                 {"cc_major", d.cc_major},
          {"cc_minor", d.cc_minor},         {"sm_count", d.sm_count},
          {"memory_bytes", d.memory_bytes}, {"driver_version", d.driver_version},
          {"compiler_version", d.compiler_version}, {"isa", d.isa}};
}

json to_json(const TemplateInfo& t) {
  return {{"hash", t.hash}, {"name", t.name}, {"family", t.family},
          {"generator_version", t.generator_version}};
}

json to_json(const TuningResult& r) {
  return {{"device", r.device},
          {"problem", r.problem},
          {"template_name", r.template_name},
          {"template_hash", r.template_hash},
          {"config", r.config},
          {"status", std::string(to_string(r.status))},
          {"error", r.error},
          {"median_ms", r.median_ms},
          {"min_ms", r.min_ms},
          {"max_ms", r.max_ms},
          {"iqr_ms", r.iqr_ms},
          {"runs", r.runs},
          {"tflops", r.tflops},
          {"gbps", r.gbps},
          {"max_error", r.max_error},
          {"tolerance", r.tolerance},
          {"registers", r.registers},
          {"spill_bytes", r.spill_bytes},
          {"smem_bytes", r.smem_bytes},
          {"measured_at_ms", r.measured_at_ms},
          {"tuner_version", r.tuner_version}};
}

json to_json(const BestEntry& b) {
  return {{"device", b.device},         {"target", b.target},
          {"problem", b.problem},       {"template_name", b.template_name},
          {"template_hash", b.template_hash}, {"config", b.config},
          {"median_ms", b.median_ms},   {"tflops", b.tflops},
          {"gbps", b.gbps},             {"result_id", b.result_id},
          {"updated_at_ms", b.updated_at_ms}};
}

json to_json(const LookupResult& l) {
  return {{"reason", std::string(to_string(l.reason))},
          {"distance", l.distance},
          {"explanation", l.explanation},
          {"entry", l.entry ? to_json(*l.entry) : json(nullptr)}};
}

DeviceInfo device_from_json(const json& j) {
  const DeviceInfo d{.target = req_str(j, "target"),
                     .name = opt_str(j, "name"),
                     .cc_major = opt_num<int>(j, "cc_major"),
                     .cc_minor = opt_num<int>(j, "cc_minor"),
                     .sm_count = opt_num<int>(j, "sm_count"),
                     .memory_bytes = opt_num<int64_t>(j, "memory_bytes"),
                     .driver_version = opt_str(j, "driver_version"),
                     .compiler_version = opt_str(j, "compiler_version"),
                     .isa = opt_str(j, "isa")};
  // A stated fingerprint must be the hash of the stated fields: a hand-edited line must not
  // attach results to a device it does not describe.
  std::string fp = opt_str(j, "fingerprint");
  if (!fp.empty() && fp != d.fingerprint())
    throw SpecError("fingerprint: '" + fp + "' does not match the device fields (expected '" +
                    d.fingerprint() + "')");
  return d;
}

TemplateInfo template_from_json(const json& j) {
  return {.hash = req_str(j, "hash"), .name = req_str(j, "name"), .family = opt_str(j, "family"),
          .generator_version = opt_str(j, "generator_version")};
}

TuningResult result_from_json(const json& j) {
  TuningResult r;
  r.device = req_str(j, "device");
  r.problem = req_str(j, "problem");
  r.template_name = opt_str(j, "template_name");
  r.template_hash = req_str(j, "template_hash");
  r.config = req_str(j, "config");
  r.status = parse_result_status(req_str(j, "status"));
  r.error = opt_str(j, "error");
  r.median_ms = opt_num<double>(j, "median_ms");
  r.min_ms = opt_num<double>(j, "min_ms");
  r.max_ms = opt_num<double>(j, "max_ms");
  r.iqr_ms = opt_num<double>(j, "iqr_ms");
  r.runs = opt_num<int>(j, "runs");
  r.tflops = opt_num<double>(j, "tflops");
  r.gbps = opt_num<double>(j, "gbps");
  // JSON has no infinity: a non-finite error (a wrong result) is written as null.
  auto me = j.find("max_error");
  r.max_error = (me != j.end() && me->is_null()) ? INFINITY : opt_num<double>(j, "max_error");
  r.tolerance = opt_num<double>(j, "tolerance");
  r.registers = opt_num<int>(j, "registers");
  r.spill_bytes = opt_num<int>(j, "spill_bytes");
  r.smem_bytes = opt_num<int>(j, "smem_bytes");
  r.measured_at_ms = opt_num<int64_t>(j, "measured_at_ms");
  r.tuner_version = opt_str(j, "tuner_version");
  return r;
}

json export_line(const DeviceInfo& d, const TemplateInfo& t, const TuningResult& r) {
  json res = to_json(r);
  res.erase("template_name");  // carried by the template object
  return {{"version", kExportVersion}, {"device", to_json(d)}, {"template", to_json(t)}, {"result", res}};
}

void upgrade_v1_result(TuningResult& r) {
  if (r.status == ResultStatus::CompileError && r.error.rfind("pruned", 0) == 0)
    r.status = ResultStatus::Pruned;
  if (r.status == ResultStatus::Ok) r.iqr_ms = legacy_iqr_ms(r.median_ms, r.min_ms, r.max_ms);
}

double legacy_iqr_ms(double median_ms, double min_ms, double max_ms) {
  return std::max(0.0, std::min(2 * (median_ms - min_ms), max_ms - min_ms));
}

}  // namespace attnjit
