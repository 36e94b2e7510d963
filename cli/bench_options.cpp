#include "cli/bench_options.h"

#include "api/db_config_provider.h"
#include "cli/command.h"
#include "runtime/backend.h"
#include "tuner/result_store.h"

namespace attnjit::cli {

void add_bench_options(CLI::App& c, int& warmup, int& reps, int& device, std::string& db) {
  c.add_option("--warmup", warmup, "unmeasured runs first")->capture_default_str();
  c.add_option("--reps", reps, "measured runs (the median is reported)")->capture_default_str();
  c.add_option("--device", device, "CUDA device ordinal (-1 = current / 0)")->capture_default_str();
  c.add_option("--db", db, "tuning database: time the tuned configs (default: built-in defaults)");
}

void check_bench_timing(int warmup, int reps) {
  if (warmup < 0) throw UsageError("--warmup: must be >= 0, got " + std::to_string(warmup));
  if (reps < 1) throw UsageError("--reps: must be >= 1, got " + std::to_string(reps));
}

std::unique_ptr<Runtime> bench_runtime(const std::string& backend, const RuntimeOptions& opts, const std::string& db) {
  auto rt = Runtime::create(parse_backend_kind(backend), opts);
  if (!db.empty())
    rt->set_config_provider(std::make_shared<DbConfigProvider>(db, tuner::device_info_for(rt->backend())));
  return rt;
}

namespace {
class ForcedConfig final : public ConfigProvider {
 public:
  explicit ForcedConfig(TileConfig c) : c_(std::move(c)) {}
  ConfigChoice choose(const KernelTemplate&, const ProblemSpec&, const Target&) override { return {c_, "forced"}; }

 private:
  TileConfig c_;
};
}  // namespace

std::shared_ptr<ConfigProvider> forced_config_provider(TileConfig config) {
  return std::make_shared<ForcedConfig>(std::move(config));
}

nlohmann::json bench_report_head(Runtime& rt) {
  return {{"device", rt.target().device_name}, {"target", rt.target().key()}, {"backend", rt.backend().describe()}};
}

}  // namespace attnjit::cli
