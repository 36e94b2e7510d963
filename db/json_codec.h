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

// One exported line: {"version":1,"device":{...},"template":{...},"result":{...}}.
// result.device / result.template_hash repeat the nested objects' keys (checked on import).
nlohmann::json export_line(const DeviceInfo& d, const TemplateInfo& t, const TuningResult& r);

}  // namespace attnjit
