// DbConfigProvider: the Runtime's config choice backed by the tuning database.
//
//   auto dev = attnjit::tuner::device_info_for(rt->backend());
//   auto p = std::make_shared<attnjit::DbConfigProvider>("attnjit.db", dev, opts);
//   rt->set_config_provider(p);
//
// choose() looks the problem up (api/tuned_config.h, the rule the service uses too; db/lookup.h:
// exact -> nearest bucket -> same arch -> default),
// says where the config came from in ConfigChoice::source ("db:exact",
// "db:nearest_bucket:<tuned problem>", "db:same_arch:<tuned problem>", "default"), and keeps
// the whole LookupResult for last_lookup(). It never blocks on tuning and never throws for a
// database problem (the default config is used and the source says why).
//
// With tune_on_miss, a problem without an exact entry is queued for background tuning: one
// thread tunes queued problems one at a time into the same database (its own connection; WAL
// lets choose() read meanwhile), then calls on_tuned — where an application typically calls
// Runtime::clear_plans() so the next call picks the tuned config up.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "api/config_provider.h"
#include "db/database.h"
#include "tuner/tuner.h"

namespace attnjit {

struct DbConfigProviderOptions {
  bool tune_on_miss = false;
  // What background tuning runs: by default a random sample of 12 candidates, 0.5 s each.
  tuner::TuneOptions tune = [] {
    tuner::TuneOptions o;
    o.strategy = tuner::Strategy::Random;
    o.budget.candidates = 12;
    o.measure.max_seconds = 0.5;
    return o;
  }();
  // Non-empty: candidates run in `attnjit tune-worker` processes (recommended on GPUs, where
  // a faulting candidate would poison the application's CUDA context); else in process on a
  // backend of the target's platform that the tuning thread opens for itself.
  std::string worker_exe;
  int compile_threads = 0;
  size_t max_queue = 256;    // further misses are dropped (and counted) until there is room
  // Called from the tuning thread after each queued problem (ok = a config was chosen).
  std::function<void(const std::string& problem_key, bool ok)> on_tuned;
};

class DbConfigProvider final : public ConfigProvider {
 public:
  // Opens the database (creating it). `device` must identify the device the Runtime runs on;
  // tuner::device_info_for(runtime.backend()) gives the same identity the offline tuner uses.
  // Templates passed to choose() must outlive the provider (the registry's are static).
  DbConfigProvider(const std::string& db_path, DeviceInfo device, DbConfigProviderOptions options = {});
  ~DbConfigProvider() override;  // stops the tuning thread (the running problem ends early)

  ConfigChoice choose(const KernelTemplate& tmpl, const ProblemSpec& spec, const Target& target) override;

  // The lookup behind the latest choice for a problem key.
  std::optional<LookupResult> last_lookup(const std::string& problem_key) const;

  struct Stats {
    size_t lookups = 0, exact = 0, fallbacks = 0;  // fallbacks: nearest / same arch / default
    size_t queued = 0, tuned = 0, failed = 0, dropped = 0;
  };
  Stats stats() const;
  // Blocks until the tuning queue is empty and nothing is being tuned (tests, shutdown).
  void wait_idle();

 private:
  struct Job {
    const KernelTemplate* tmpl;
    ProblemSpec spec;
    Target target;
  };
  void enqueue(const KernelTemplate& tmpl, const ProblemSpec& spec, const Target& target);
  void tuning_loop();
  bool tune_one(const Job& job);

  std::string path_;
  DeviceInfo device_;
  DbConfigProviderOptions opt_;
  Database db_;  // reads; serialized by its own mutex

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, LookupResult> last_;
  std::deque<Job> queue_;
  std::set<std::string> seen_;  // problems queued once: never queued again by this provider
  bool busy_ = false;
  bool stop_ = false;
  Stats stats_;
  std::thread thread_;
};

}  // namespace attnjit
