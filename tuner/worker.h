// Fault isolation. A kernel that faults poisons its CUDA context (and a bad CPU kernel takes
// the whole process with it), so candidates run in a worker process: the tuner fork+execs
// `attnjit tune-worker --fd 3`, talks to it over a socket pair with one JSON object per line
// (candidate in, result out), and when the worker dies (signal, non-zero exit) or stays silent
// past a timeout (SIGKILL), records the candidate as launch_error / timeout and carries on
// with a fresh worker. The worker dies with the tuner (PR_SET_PDEATHSIG).
//
// Protocol (each message one line):
//   -> {"op":"init","platform":"cpu","problem":KEY,"seed":N,"shape":[b,hq,hkv,sq,sk],
//       "check_tuning_shape":true,"compile_threads":N}       <- {"ok":true} | {"ok":false,"error":..}
//   -> {"op":"compile","configs":[KEY,...]}                  <- {"result":{..}} per config, then {"done":true}
//   -> {"op":"evaluate","config":KEY,"measure":{..}}         <- {"result":{..},"note":".."}
//   (EOF on the socket ends the worker.)
//
// Debugging / testing faults: ATTNJIT_TUNER_FAULT="CONFIG=abort|segv|hang|exit[,...]" makes the
// worker abort, segfault, sleep forever or exit(3) when asked to evaluate CONFIG. Only the
// worker reads it; the tuner never runs a candidate in its own process when isolated.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "tuner/child_process.h"
#include "tuner/executor.h"

namespace attnjit::tuner {

struct WorkerOptions {
  std::string exe;                   // the attnjit executable (runs `tune-worker`)
  Platform platform = Platform::Cpu;
  EvaluatorOptions eval;             // seed, shape, tuning-shape check (rotation caps stay default)
  int compile_threads = 0;
  double evaluate_timeout_s = 120;   // per candidate: check + measurement
  double compile_timeout_s = 600;    // silence allowed while compiling a batch
};

// The executable to fork+exec: $ATTNJIT_TUNER_WORKER if set, else this process's own binary
// when it is the attnjit CLI (/proc/self/exe ends in "attnjit"), else "" (no isolation possible).
std::string default_worker_exe();

// One worker child (tuner/child_process.h) and its socket. Not thread-safe.
class WorkerProcess {
 public:
  explicit WorkerProcess(std::string exe);
  ~WorkerProcess();
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  // Throws std::runtime_error naming the failed system call.
  void start();
  bool running() const { return child_ && child_->running(); }
  // Sends one message and waits up to `timeout_s` for one reply line. On death or timeout the
  // worker is reaped (killed first on timeout), nullopt is returned and `failure()` says why.
  std::optional<nlohmann::json> request(const nlohmann::json& msg, double timeout_s);
  // Waits for one more line (a multi-line reply); same failure handling.
  std::optional<nlohmann::json> next_line(double timeout_s);
  // Kills (SIGKILL) and reaps the child if it is running.
  void kill();

  struct Failure {
    bool timed_out = false;
    std::string what;  // "killed by signal 11 (Segmentation fault)", "exited with status 3", ...
  };
  const Failure& failure() const { return failure_; }

 private:
  void reap(bool timed_out);
  std::string exe_;
  std::unique_ptr<ChildProcess> child_;
  LineBuffer lines_;
  Failure failure_;
};

class WorkerExecutor final : public Executor {
 public:
  // Throws SpecError if options.exe is empty.
  WorkerExecutor(const ProblemSpec& spec, WorkerOptions options);
  std::vector<CandidateResult> compile_all(
      const std::vector<TileConfig>& configs,
      const std::function<void(const CandidateResult&)>& on_done) override;
  CandidateResult evaluate(const TileConfig& cfg, const MeasureOptions& measure) override;
  // The note from the latest evaluation a worker answered (no request: the worker may be gone).
  std::string baseline_note() override;

  int restarts() const { return restarts_; }

 private:
  // Starts (or restarts) the worker and sends init; throws std::runtime_error if init fails.
  void ensure_worker();
  CandidateResult failed(const TileConfig& cfg, const char* during);

  ProblemSpec spec_;
  WorkerOptions opt_;
  WorkerProcess proc_;
  bool initialized_ = false;
  std::string note_;
  int restarts_ = -1;  // the first start is not a restart
};

// The worker's side: serves requests on `fd` until EOF. Returns the process exit code.
int run_tune_worker(int fd);

}  // namespace attnjit::tuner
