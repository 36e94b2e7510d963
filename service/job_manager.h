// JobManager: queues tuning jobs and runs each as a campaign in a child process (by default
// `attnjit tune --json ... --db FILE`), one at a time, so a kernel that crashes the tuner cannot
// take the server down and two jobs never time kernels against each other. The child speaks the
// campaign's JSON lines (tuner/campaign_event.h) on stdout; the manager folds them into the
// job's progress (tuner/campaign_progress.h: per-problem progress, best so far, errors) and
// keeps the child's stderr as the output tail. Processes come from tuner/child_process.h.
//
// Jobs live in the database (schema v3 `jobs` table) as well as in memory: every state change
// and, at most every `save_interval`, the progress is written, so GET /v1/jobs/{id} answers for
// jobs of an earlier server process, and a job cut off by a restart (queued or running when the
// server died) reads `interrupted` once the next server starts. shutdown() stops the queue,
// terminates the running child (SIGTERM to its process group, SIGKILL after a grace period)
// and marks every unfinished job interrupted.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "db/database.h"
#include "tuner/campaign_progress.h"

namespace attnjit::service {

enum class JobState { Queued, Running, Succeeded, Failed, Interrupted };
std::string_view to_string(JobState s);
std::optional<JobState> parse_job_state(std::string_view s);

// What a client asked to tune.
struct TuneRequest {
  std::vector<std::string> problems;  // canonical ProblemSpec keys
  int budget = 0;                     // max configs per problem; 0 = the tuner's default
};

struct JobProgress {
  int64_t done = 0;       // problems done
  int64_t total = 0;      // problems in the job
  std::string message;    // the latest event, in words
  nlohmann::json campaign = nlohmann::json::object();  // CampaignProgress::to_json()
};

struct JobInfo {
  std::string id;
  JobState state = JobState::Queued;
  TuneRequest request;
  JobProgress progress;
  std::string error;        // why it failed / was interrupted
  std::optional<int> exit_code;
  nlohmann::json result;    // filled by the on_success hook
  std::string output_tail;  // last bytes of the child's stderr, for diagnosis
  int64_t created_unix_ms = 0, started_unix_ms = 0, finished_unix_ms = 0;

  nlohmann::json to_json() const;
  JobRecord to_record() const;
  // Throws SpecError for a record this server cannot read (unknown state, malformed JSON).
  static JobInfo from_record(const JobRecord& r);
};

class JobManager {
 public:
  struct Options {
    // Builds the child's argv (argv[0] = executable path) for a request. The manager appends
    // "--json": the child must print campaign events as JSON lines on stdout.
    std::function<std::vector<std::string>(const TuneRequest&)> command;
    // Called after a child exits 0; its JSON becomes JobInfo::result. May throw: the job then
    // fails with that message.
    std::function<nlohmann::json(const TuneRequest&)> on_success;
    // Where jobs are kept across restarts; "" = memory only. Opened read-write by the manager.
    std::string db_path;
    size_t max_queued = 64;              // submit() beyond this throws ApiError 429
    size_t max_retained = 1000;          // finished jobs kept (memory and database)
    std::chrono::seconds job_timeout{3600};
    std::chrono::milliseconds kill_grace{3000};
    std::chrono::milliseconds save_interval{500};
    size_t output_tail_bytes = 8192;
  };

  // Opens the database (when set) and marks the jobs an earlier process left queued or running
  // as interrupted. Throws DbError when the database cannot be opened.
  explicit JobManager(Options options);
  ~JobManager();  // shutdown()
  JobManager(const JobManager&) = delete;
  JobManager& operator=(const JobManager&) = delete;

  // Queues a job and returns its id. Throws ApiError 429 when the queue is full, 503 after
  // shutdown().
  std::string submit(TuneRequest request);
  // From memory, else from the database (a job of an earlier server process).
  std::optional<JobInfo> get(const std::string& id) const;
  // Jobs per state, every state present (for /metrics).
  std::map<std::string, double> counts() const;
  // Blocks until the job leaves Queued/Running or the timeout passes; returns its info.
  std::optional<JobInfo> wait(const std::string& id, std::chrono::milliseconds timeout) const;

  // Idempotent. Interrupts the running child and every queued job, then joins the worker.
  void shutdown();

 private:
  void worker_loop();
  void run_job(const std::string& id);
  void finish(const std::string& id, JobState state, std::string error, std::optional<int> exit_code,
              nlohmann::json result);
  void evict_locked();
  // Writes the job to the database (if any). A failing write is logged in the job's output
  // tail, never fatal: the job itself goes on.
  void save_locked(JobInfo& j);

  Options opt_;
  std::unique_ptr<Database> db_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;   // queue changes, job state changes
  std::map<std::string, JobInfo> jobs_;
  std::deque<std::string> queue_;
  std::deque<std::string> finished_order_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace attnjit::service
