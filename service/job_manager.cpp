#include "service/job_manager.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>
#include <regex>

#include "service/api_error.h"

extern char** environ;

namespace attnjit::service {

namespace {

int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string new_job_id() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard<std::mutex> lock(mu);
  char buf[32];
  std::snprintf(buf, sizeof buf, "job-%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

std::string errno_text(const char* call) { return std::string(call) + ": " + std::strerror(errno); }

// Owns a posix_spawn attribute / file-action object.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnSetup() {
    if (int rc = posix_spawn_file_actions_init(&actions))
      throw std::runtime_error(std::string("posix_spawn_file_actions_init: ") + std::strerror(rc));
    if (int rc = posix_spawnattr_init(&attr)) {
      posix_spawn_file_actions_destroy(&actions);
      throw std::runtime_error(std::string("posix_spawnattr_init: ") + std::strerror(rc));
    }
  }
  ~SpawnSetup() {
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
  }
};

void check_rc(int rc, const char* what) {
  if (rc != 0) throw std::runtime_error(std::string(what) + ": " + std::strerror(rc));
}

// Starts argv with stdout+stderr on `out_fd`, stdin on /dev/null, in its own process group
// (so signals can reach its whole tree) and with default signal handling even though the
// server blocks SIGINT / SIGTERM in its threads.
pid_t spawn_child(const std::vector<std::string>& argv, int out_fd) {
  SpawnSetup s;
  check_rc(posix_spawn_file_actions_addopen(&s.actions, 0, "/dev/null", O_RDONLY, 0), "posix_spawn addopen");
  check_rc(posix_spawn_file_actions_adddup2(&s.actions, out_fd, 1), "posix_spawn adddup2");
  check_rc(posix_spawn_file_actions_adddup2(&s.actions, out_fd, 2), "posix_spawn adddup2");
  sigset_t empty, defaults;
  sigemptyset(&empty);
  sigemptyset(&defaults);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD}) sigaddset(&defaults, sig);
  check_rc(posix_spawnattr_setsigmask(&s.attr, &empty), "posix_spawnattr_setsigmask");
  check_rc(posix_spawnattr_setsigdefault(&s.attr, &defaults), "posix_spawnattr_setsigdefault");
  check_rc(posix_spawnattr_setpgroup(&s.attr, 0), "posix_spawnattr_setpgroup");
  check_rc(posix_spawnattr_setflags(&s.attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                 POSIX_SPAWN_SETSIGDEF),
           "posix_spawnattr_setflags");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, args[0], &s.actions, &s.attr, args.data(), environ);
  if (rc != 0) throw std::runtime_error("cannot start '" + argv[0] + "': " + std::strerror(rc));
  return pid;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);
    return std::string("killed by signal ") + (name ? std::string("SIG") + name : std::to_string(sig));
  }
  return "ended with wait status " + std::to_string(status);
}

}  // namespace

std::string_view to_string(JobState s) {
  switch (s) {
    case JobState::Queued: return "queued";
    case JobState::Running: return "running";
    case JobState::Succeeded: return "succeeded";
    case JobState::Failed: return "failed";
    case JobState::Interrupted: return "interrupted";
  }
  return "unknown";
}

nlohmann::json JobInfo::to_json() const {
  nlohmann::json j = {
      {"id", id},
      {"state", to_string(state)},
      {"problems", request.problems},
      {"budget", request.budget},
      {"progress", {{"done", progress.done}, {"total", progress.total}, {"message", progress.message}}},
      {"created_unix_ms", created_unix_ms},
  };
  if (started_unix_ms) j["started_unix_ms"] = started_unix_ms;
  if (finished_unix_ms) j["finished_unix_ms"] = finished_unix_ms;
  if (!error.empty()) j["error"] = error;
  if (exit_code) j["exit_code"] = *exit_code;
  if (!result.is_null()) j["result"] = result;
  if (state != JobState::Queued) j["output_tail"] = output_tail;
  return j;
}

bool parse_progress_line(const std::string& line, JobProgress& p) {
  auto first = line.find_first_not_of(" \t");
  if (first != std::string::npos && line[first] == '{') {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("done") && j.contains("total") && j["done"].is_number_integer() &&
        j["total"].is_number_integer()) {
      p.done = j["done"].get<int64_t>();
      p.total = j["total"].get<int64_t>();
      p.message = j.value("message", line);
      return true;
    }
  }
  static const std::regex kBracket(R"(\[\s*(\d{1,9})\s*/\s*(\d{1,9})\s*\])");
  std::smatch m;
  if (std::regex_search(line, m, kBracket)) {
    p.done = std::stoll(m[1].str());
    p.total = std::stoll(m[2].str());
    p.message = line;
    return true;
  }
  return false;
}

JobManager::JobManager(Options options) : opt_(std::move(options)) {
  if (!opt_.command) throw std::invalid_argument("JobManager: Options::command is required");
  worker_ = std::thread([this] { worker_loop(); });
}

JobManager::~JobManager() { shutdown(); }

std::string JobManager::submit(TuneRequest request) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) throw ApiError(503, "unavailable", "", "the server is shutting down");
  if (queue_.size() >= opt_.max_queued)
    throw ApiError(429, "too_many_requests", "",
                   "the tuning queue is full (" + std::to_string(opt_.max_queued) + " jobs)");
  JobInfo info;
  info.id = new_job_id();
  info.request = std::move(request);
  info.created_unix_ms = now_unix_ms();
  std::string id = info.id;
  jobs_.emplace(id, std::move(info));
  queue_.push_back(id);
  cv_.notify_all();
  return id;
}

std::optional<JobInfo> JobManager::get(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return std::nullopt;
  return it->second;
}

std::optional<JobInfo> JobManager::wait(const std::string& id, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout, [&] {
    auto it = jobs_.find(id);
    return it == jobs_.end() ||
           (it->second.state != JobState::Queued && it->second.state != JobState::Running);
  });
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return std::nullopt;
  return it->second;
}

std::map<std::string, double> JobManager::counts() const {
  std::map<std::string, double> c;
  for (auto s : {JobState::Queued, JobState::Running, JobState::Succeeded, JobState::Failed,
                 JobState::Interrupted})
    c[std::string(to_string(s))] = 0;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, j] : jobs_) c[std::string(to_string(j.state))] += 1;
  return c;
}

void JobManager::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      stopping_ = true;
      // Queued jobs never start.
      for (const auto& id : queue_) {
        auto& j = jobs_.at(id);
        j.state = JobState::Interrupted;
        j.error = "server shut down before the job started";
        j.finished_unix_ms = now_unix_ms();
        finished_order_.push_back(id);
      }
      queue_.clear();
    }
    cv_.notify_all();
  }
  if (worker_.joinable()) worker_.join();
}

void JobManager::worker_loop() {
  while (true) {
    std::string id;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      id = queue_.front();
      queue_.pop_front();
      auto& j = jobs_.at(id);
      j.state = JobState::Running;
      j.started_unix_ms = now_unix_ms();
      cv_.notify_all();
    }
    try {
      run_job(id);
    } catch (const std::exception& e) {
      finish(id, JobState::Failed, e.what(), std::nullopt, nullptr);
    }
  }
}

void JobManager::run_job(const std::string& id) {
  TuneRequest request;
  {
    std::lock_guard<std::mutex> lock(mu_);
    request = jobs_.at(id).request;
  }
  std::vector<std::string> argv = opt_.command(request);
  if (argv.empty()) throw std::runtime_error("empty tuning command");

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(errno_text("pipe2"));
  pid_t pid;
  try {
    pid = spawn_child(argv, fds[1]);
  } catch (...) {
    close(fds[0]);
    close(fds[1]);
    throw;
  }
  close(fds[1]);

  const auto start = std::chrono::steady_clock::now();
  std::optional<std::chrono::steady_clock::time_point> term_sent;
  bool killed = false;
  std::string reason;  // set when we ended it (shutdown / timeout)
  std::string pending, tail;
  int status = 0;
  bool reaped = false, eof = false;
  char buf[4096];

  auto on_line = [&](std::string line) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::lock_guard<std::mutex> lock(mu_);
    auto& j = jobs_.at(id);
    if (!parse_progress_line(line, j.progress) && !line.empty()) j.progress.message = line;
    cv_.notify_all();
  };
  auto consume = [&](const char* data, size_t n) {
    tail.append(data, n);
    if (tail.size() > 2 * opt_.output_tail_bytes) tail.erase(0, tail.size() - opt_.output_tail_bytes);
    pending.append(data, n);
    size_t pos;
    while ((pos = pending.find('\n')) != std::string::npos) {
      on_line(pending.substr(0, pos));
      pending.erase(0, pos + 1);
    }
    if (pending.size() > 65536) pending.clear();  // a runaway line without newline
  };

  while (!eof || !reaped) {
    if (!eof) {
      pollfd p{fds[0], POLLIN, 0};
      int rc = poll(&p, 1, 100);
      if (rc < 0 && errno != EINTR) {
        reason = errno_text("poll");
        eof = true;
      } else if (rc > 0) {
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n > 0) consume(buf, static_cast<size_t>(n));
        else if (n == 0 || (errno != EINTR && errno != EAGAIN)) eof = true;
      }
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!reaped) {
      pid_t w = waitpid(pid, &status, WNOHANG);
      if (w == pid) {
        reaped = true;
        // The child is gone; whatever else holds the pipe (a grandchild) must not keep us.
        kill(-pid, SIGKILL);
      } else if (w < 0 && errno != EINTR) {
        reason = errno_text("waitpid");
        reaped = true;
      }
    }
    if (reaped) {
      // Drain what is already buffered, then stop.
      while (!eof) {
        pollfd p{fds[0], POLLIN, 0};
        if (poll(&p, 1, 0) <= 0) break;
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n > 0) consume(buf, static_cast<size_t>(n));
        else break;
      }
      eof = true;
      continue;
    }
    bool stopping;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping = stopping_;
    }
    auto now = std::chrono::steady_clock::now();
    if (!term_sent && (stopping || now - start > opt_.job_timeout)) {
      reason = stopping ? "server shut down while the job was running"
                        : "timed out after " + std::to_string(opt_.job_timeout.count()) + " s";
      kill(-pid, SIGTERM);
      term_sent = now;
    } else if (term_sent && !killed && now - *term_sent > opt_.kill_grace) {
      kill(-pid, SIGKILL);
      killed = true;
    }
  }
  close(fds[0]);
  if (!pending.empty()) on_line(pending);
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.at(id).output_tail =
        tail.size() > opt_.output_tail_bytes ? tail.substr(tail.size() - opt_.output_tail_bytes) : tail;
  }

  std::optional<int> code;
  if (WIFEXITED(status)) code = WEXITSTATUS(status);
  bool interrupted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    interrupted = stopping_;
  }
  if (!reason.empty()) {
    finish(id, interrupted ? JobState::Interrupted : JobState::Failed, reason, code, nullptr);
  } else if (code && *code == 0) {
    nlohmann::json result;
    try {
      if (opt_.on_success) result = opt_.on_success(request);
    } catch (const std::exception& e) {
      finish(id, JobState::Failed, std::string("tuning finished but reading its results failed: ") + e.what(),
             code, nullptr);
      return;
    }
    finish(id, JobState::Succeeded, "", code, std::move(result));
  } else {
    finish(id, interrupted ? JobState::Interrupted : JobState::Failed,
           "tuning process " + describe_status(status), code, nullptr);
  }
}

void JobManager::finish(const std::string& id, JobState state, std::string error,
                        std::optional<int> exit_code, nlohmann::json result) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& j = jobs_.at(id);
  j.state = state;
  j.error = std::move(error);
  j.exit_code = exit_code;
  j.result = std::move(result);
  j.finished_unix_ms = now_unix_ms();
  finished_order_.push_back(id);
  evict_locked();
  cv_.notify_all();
}

void JobManager::evict_locked() {
  while (finished_order_.size() > opt_.max_retained) {
    jobs_.erase(finished_order_.front());
    finished_order_.pop_front();
  }
}

}  // namespace attnjit::service
