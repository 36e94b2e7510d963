// CandidateResult <-> JSON: the worker protocol's payload (tuner/worker.h).
#pragma once

#include <nlohmann/json.hpp>

#include "tuner/candidate.h"
#include "tuner/measurement.h"

namespace attnjit::tuner {

nlohmann::json to_json(const CandidateResult& r);
// Throws SpecError naming the field on malformed input.
CandidateResult candidate_from_json(const nlohmann::json& j);

nlohmann::json to_json(const MeasureOptions& m);
MeasureOptions measure_from_json(const nlohmann::json& j);

}  // namespace attnjit::tuner
