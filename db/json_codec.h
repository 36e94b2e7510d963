// JSON forms of the database records (nlohmann-json), shared by import/export (JSON Lines) and
// the HTTP service. Field names are the struct's member names; enums use their canonical
// strings. The *_from_json functions throw SpecError naming the missing or ill-typed field.
#pragma once

#include <nlohmann/json.hpp>

#include "db/device_info.h"
#include "db/lookup.h"
#include "db/tuning_result.h"

namespace attnjit {

nlohmann::json to_json(const DeviceInfo& d);      // + "fingerprint"
nlohmann::json to_json(const TemplateInfo& t);
nlohmann::json to_json(const TuningResult& r);
nlohmann::json to_json(const BestEntry& b);
nlohmann::json to_json(const LookupResult& l);    // reason, distance, explanation, entry|null

DeviceInfo device_from_json(const nlohmann::json& j);
TemplateInfo template_from_json(const nlohmann::json& j);
TuningResult result_from_json(const nlohmann::json& j);

// One exported line: {"version":2,"device":{...},"template":{...},"result":{...}}.
// result.device / result.template_hash repeat the nested objects' keys (checked on import).
// Version 2 (schema v3) adds result.iqr_ms and the status "pruned"; version 1 lines still import.
inline constexpr int kExportVersion = 2;
nlohmann::json export_line(const DeviceInfo& d, const TemplateInfo& t, const TuningResult& r);

// A version-1 line's result in today's terms: compile_error with an error text starting
// "pruned" is Pruned, and an ok result without a stored IQR gets legacy_iqr_ms().
void upgrade_v1_result(TuningResult& r);
// The IQR a result from before schema v3 is given (the schema migration uses the same formula):
// min(2 (median - min), max - min) — exact for a symmetric spread, an upper bound otherwise, so
// an old result is never taken for quieter than it was.
double legacy_iqr_ms(double median_ms, double min_ms, double max_ms);

}  // namespace attnjit
