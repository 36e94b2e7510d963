// JobManager: queues tuning jobs and runs each in a child process (by default `attnjit tune
// ... --db FILE`), one at a time, so a kernel that crashes the tuner cannot take the server down
// and two jobs never time kernels against each other. Progress is read from the child's output;
// a child that dies by a signal or a non-zero exit marks its job failed. shutdown() stops the
// queue, terminates the running child (SIGTERM, then SIGKILL after a grace period) and marks
// every unfinished job interrupted. Jobs live in memory: the database is the durable state.
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

namespace attnjit::service {

enum class JobState { Queued, Running, Succeeded, Failed, Interrupted };
std::string_view to_string(JobState s);

// What a client asked to tune.
struct TuneRequest {
  std::vector<std::string> problems;  // canonical ProblemSpec keys
  int budget = 0;                     // max configs per problem; 0 = the tuner's default
};

struct JobProgress {
  int64_t done = 0;
  int64_t total = 0;
  std::string message;   // the child's latest output line
};

struct JobInfo {
  std::string id;
  JobState state = JobState::Queued;
  TuneRequest request;
  JobProgress progress;
  std::string error;        // why it failed / was interrupted
  std::optional<int> exit_code;
  nlohmann::json result;    // filled by the on_success hook
  std::string output_tail;  // last lines of the child's output, for diagnosis
  int64_t created_unix_ms = 0, started_unix_ms = 0, finished_unix_ms = 0;

  nlohmann::json to_json() const;
};

// Parses one output line of the child for progress: a JSON object with "done" and "total"
// (and optionally "message"), or text containing "[done/total]". Returns false otherwise.
bool parse_progress_line(const std::string& line, JobProgress& progress);

class JobManager {
 public:
  struct Options {
    // Builds the child's argv (argv[0] = executable path) for a request.
    std::function<std::vector<std::string>(const TuneRequest&)> command;
    // Called after a child exits 0; its JSON becomes JobInfo::result. May throw: the job then
    // fails with that message.
    std::function<nlohmann::json(const TuneRequest&)> on_success;
    size_t max_queued = 64;              // submit() beyond this throws ApiError 429
    size_t max_retained = 1000;          // finished jobs kept for GET /v1/jobs/{id}
    std::chrono::seconds job_timeout{3600};
    std::chrono::milliseconds kill_grace{3000};
    size_t output_tail_bytes = 8192;
  };

  explicit JobManager(Options options);
  ~JobManager();  // shutdown()
  JobManager(const JobManager&) = delete;
  JobManager& operator=(const JobManager&) = delete;

  // Queues a job and returns its id. Throws ApiError 429 when the queue is full, 503 after
  // shutdown().
  std::string submit(TuneRequest request);
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

  Options opt_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;   // queue changes, job state changes
  std::map<std::string, JobInfo> jobs_;
  std::deque<std::string> queue_;
  std::deque<std::string> finished_order_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace attnjit::service
