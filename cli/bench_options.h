// What the benchmark commands (bench, bench-decode) share: their timing, device and database
// options, the check of the timing values, the runtime they time on, and their JSON report's head.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "attnjit/attnjit.h"

namespace attnjit::cli {

void add_bench_options(CLI::App& c, int& warmup, int& reps, int& device, std::string& db);

// Throws UsageError naming --warmup or --reps.
void check_bench_timing(int warmup, int reps);

// The runtime on `backend` (auto | cuda | cpu) with `opts`; with a database, its tuned configs
// (exact -> nearest bucket -> same arch -> default) instead of the defaults.
std::unique_ptr<Runtime> bench_runtime(const std::string& backend, const RuntimeOptions& opts, const std::string& db);

// Hands out one fixed config (the --config option of bench and bench-decode).
std::shared_ptr<ConfigProvider> forced_config_provider(TileConfig config);

// The device, its target key and the backend that ran.
nlohmann::json bench_report_head(Runtime& rt);

}  // namespace attnjit::cli
