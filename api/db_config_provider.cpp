#include "api/db_config_provider.h"

#include <cstdio>

#include "api/tuned_config.h"
#include "tuner/backend_factory.h"
#include "tuner/worker.h"

namespace attnjit {

DbConfigProvider::DbConfigProvider(const std::string& db_path, DeviceInfo device,
                                   DbConfigProviderOptions options)
    : path_(db_path), device_(std::move(device)), opt_(std::move(options)), db_(Database::open(db_path)) {
  if (opt_.tune_on_miss && path_ == ":memory:")
    throw SpecError("db_path: background tuning needs a database file (':memory:' is private to one connection)");
  if (opt_.tune_on_miss) thread_ = std::thread([this] { tuning_loop(); });
}

DbConfigProvider::~DbConfigProvider() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

ConfigChoice DbConfigProvider::choose(const KernelTemplate& tmpl, const ProblemSpec& spec,
                                      const Target& target) {
  ConfigChoice choice;
  LookupResult lr;
  try {
    TunedConfig t = choose_tuned_config(db_, device_, tmpl, spec, target);
    choice = {t.config, t.source};
    lr = std::move(t.lookup);
  } catch (const std::exception& e) {
    // Never throws for a database problem: the default, and the source says why.
    lr.explanation = std::string("database lookup failed: ") + e.what();
    choice = {tmpl.default_config(spec, target), "default (" + lr.explanation + ")"};
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++stats_.lookups;
    if (lr.reason == LookupReason::Exact) ++stats_.exact;
    else ++stats_.fallbacks;
    last_[spec.key()] = lr;
  }
  if (lr.reason != LookupReason::Exact && opt_.tune_on_miss) enqueue(tmpl, spec, target);
  return choice;
}

std::optional<LookupResult> DbConfigProvider::last_lookup(const std::string& problem_key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = last_.find(problem_key);
  if (it == last_.end()) return std::nullopt;
  return it->second;
}

DbConfigProvider::Stats DbConfigProvider::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void DbConfigProvider::wait_idle() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return (queue_.empty() && !busy_) || stop_; });
}

void DbConfigProvider::enqueue(const KernelTemplate& tmpl, const ProblemSpec& spec, const Target& target) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (seen_.count(spec.key())) return;
    if (queue_.size() >= opt_.max_queue) {
      ++stats_.dropped;
      return;
    }
    seen_.insert(spec.key());
    queue_.push_back(Job{&tmpl, spec, target});
    ++stats_.queued;
  }
  cv_.notify_all();
}

bool DbConfigProvider::tune_one(const Job& job) {
  // Its own connection and (in process) its own backend: nothing here waits on the callers.
  Database db = Database::open(path_);
  tuner::DbResultStore store(db, device_);
  tuner::TuneOptions o = opt_.tune;
  o.should_stop = [this] {
    std::lock_guard<std::mutex> lock(mu_);
    return stop_;
  };
  if (!opt_.worker_exe.empty()) {
    tuner::WorkerOptions wo;
    wo.exe = opt_.worker_exe;
    wo.platform = job.target.platform;
    wo.compile_threads = opt_.compile_threads;
    tuner::WorkerExecutor ex(job.spec, wo);
    return tuner::tune_problem(ex, *job.tmpl, job.target, job.spec, o, &store).best.has_value();
  }
  std::unique_ptr<Backend> backend = tuner::make_backend(job.target.platform);
  tuner::InProcessExecutor ex(*backend, *job.tmpl, job.spec, tuner::EvaluatorOptions{}, opt_.compile_threads);
  return tuner::tune_problem(ex, *job.tmpl, backend->target(), job.spec, o, &store).best.has_value();
}

void DbConfigProvider::tuning_loop() {
  while (true) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      job = queue_.front();
      queue_.pop_front();
      busy_ = true;
    }
    bool ok = false;
    try {
      ok = tune_one(job);
    } catch (const std::exception& e) {
      // Background work has no caller to throw to: say why on stderr and count it.
      std::fprintf(stderr, "attnjit: background tuning of %s failed: %s\n", job.spec.key().c_str(), e.what());
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      busy_ = false;
      if (ok) ++stats_.tuned;
      else ++stats_.failed;
    }
    if (opt_.on_tuned) opt_.on_tuned(job.spec.key(), ok);
    cv_.notify_all();
  }
}

}  // namespace attnjit
