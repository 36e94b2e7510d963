#include "service/job_manager.h"

#include <poll.h>
#include <signal.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "codegen/types.h"
#include "service/api_error.h"
#include "tuner/campaign_event.h"
#include "tuner/child_process.h"

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

constexpr JobState kStates[] = {JobState::Queued, JobState::Running, JobState::Succeeded,
                                JobState::Failed, JobState::Interrupted};

// One event in words, for the job's "message".
std::string describe(const tuner::CampaignEvent& e) {
  using tuner::EventKind;
  const std::string where = e.problem.empty() ? std::string() : "[" + std::to_string(e.problem_index) + "/" +
                                                                    std::to_string(e.problem_count) + "] " + e.problem;
  switch (e.kind) {
    case EventKind::CampaignStarted: return "started on " + e.device + " (" + e.strategy + ")";
    case EventKind::ProblemStarted: return where + ": " + std::to_string(e.candidates) + " candidates";
    case EventKind::ProblemDone:
      return where + ": " + (e.best_config.empty() ? e.error : "best " + e.best_config);
    case EventKind::CampaignFinished:
      return "finished: " + std::to_string(e.problems_tuned) + " of " + std::to_string(e.problem_count) +
             " problems tuned";
    default:
      return where + " " + e.phase + " " + std::to_string(e.done) + "/" + std::to_string(e.total) + " " +
             e.config + ": " + std::string(to_string(e.kind));
  }
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

std::optional<JobState> parse_job_state(std::string_view s) {
  for (JobState st : kStates)
    if (to_string(st) == s) return st;
  return std::nullopt;
}

nlohmann::json JobInfo::to_json() const {
  nlohmann::json p = progress.campaign.is_object() ? progress.campaign : nlohmann::json::object();
  p["done"] = progress.done;
  p["total"] = progress.total;
  p["message"] = progress.message;
  nlohmann::json j = {
      {"id", id},
      {"state", to_string(state)},
      {"problems", request.problems},
      {"budget", request.budget},
      {"progress", p},
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

JobRecord JobInfo::to_record() const {
  const nlohmann::json req = {{"problems", request.problems}, {"budget", request.budget}};
  const nlohmann::json p = {{"done", progress.done},       {"total", progress.total},
                            {"message", progress.message}, {"campaign", progress.campaign},
                            {"result", result},            {"output_tail", output_tail}};
  return {.id = id, .state = std::string(to_string(state)), .request_json = req.dump(),
          .progress_json = p.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
          .error = error, .exit_code = exit_code, .created_at_ms = created_unix_ms,
          .started_at_ms = started_unix_ms, .finished_at_ms = finished_unix_ms};
}

JobInfo JobInfo::from_record(const JobRecord& r) {
  auto st = parse_job_state(r.state);
  if (!st) throw SpecError("state: unknown job state '" + r.state + "'");
  JobInfo j{.id = r.id, .state = *st, .error = r.error, .exit_code = r.exit_code,
            .created_unix_ms = r.created_at_ms, .started_unix_ms = r.started_at_ms,
            .finished_unix_ms = r.finished_at_ms};
  const auto req = nlohmann::json::parse(r.request_json, nullptr, false);
  const auto p = nlohmann::json::parse(r.progress_json, nullptr, false);
  if (!req.is_object() || !p.is_object()) throw SpecError("job " + r.id + ": malformed stored JSON");
  try {
    j.request.problems = req.value("problems", std::vector<std::string>{});
    j.request.budget = req.value("budget", 0);
    j.progress.done = p.value("done", int64_t{0});
    j.progress.total = p.value("total", int64_t{0});
    j.progress.message = p.value("message", std::string());
    j.progress.campaign = p.value("campaign", nlohmann::json::object());
    j.result = p.value("result", nlohmann::json());
    j.output_tail = p.value("output_tail", std::string());
  } catch (const nlohmann::json::exception& e) {
    throw SpecError("job " + r.id + ": malformed stored JSON: " + e.what());
  }
  return j;
}

JobManager::JobManager(Options options) : opt_(std::move(options)) {
  if (!opt_.command) throw std::invalid_argument("JobManager: Options::command is required");
  if (!opt_.db_path.empty()) {
    db_ = std::make_unique<Database>(Database::open(opt_.db_path));
    db_->interrupt_unfinished_jobs("the server stopped while the job was queued or running");
  }
  worker_ = std::thread([this] { worker_loop(); });
}

JobManager::~JobManager() { shutdown(); }

void JobManager::save_locked(JobInfo& j) {
  if (!db_) return;
  try {
    db_->save_job(j.to_record());
  } catch (const std::exception& e) {
    // The job goes on; its record may lag. Say so where an operator will look.
    j.output_tail += std::string("\n[attnjit serve] could not save the job: ") + e.what() + "\n";
  }
}

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
  info.progress.total = static_cast<int64_t>(info.request.problems.size());
  std::string id = info.id;
  auto& j = jobs_.emplace(id, std::move(info)).first->second;
  save_locked(j);
  queue_.push_back(id);
  cv_.notify_all();
  return id;
}

std::optional<JobInfo> JobManager::get(const std::string& id) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(id);
    if (it != jobs_.end()) return it->second;
    if (!db_) return std::nullopt;
  }
  // A job of an earlier server process (or one evicted from memory). db_ is only ever read
  // here and written under mu_; Database serializes its own calls.
  std::optional<JobRecord> rec = db_->find_job(id);
  if (!rec) return std::nullopt;
  return JobInfo::from_record(*rec);
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
  for (auto s : kStates) c[std::string(to_string(s))] = 0;
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
        save_locked(j);
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
      save_locked(j);
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
  tuner::ChildProcess::Options co;
  co.argv = opt_.command(request);
  if (co.argv.empty()) throw std::runtime_error("empty tuning command");
  co.argv.push_back("--json");
  co.capture_stdout = true;
  co.capture_stderr = true;
  co.new_process_group = true;  // SIGTERM reaches the tuner and its workers
  tuner::ChildProcess child(std::move(co));

  tuner::CampaignProgress campaign;
  tuner::LineBuffer out_lines(1 << 20);
  std::string tail;
  auto last_save = std::chrono::steady_clock::now();
  auto trim_tail = [&] {
    if (tail.size() > 2 * opt_.output_tail_bytes) tail.erase(0, tail.size() - opt_.output_tail_bytes);
  };
  auto on_event_line = [&](const std::string& line) {
    if (line.find_first_not_of(" \t") == std::string::npos) return;
    std::string message;
    // Parsed without exceptions: a child flooding plain text costs no throw per line.
    const nlohmann::json parsed = nlohmann::json::parse(line, nullptr, false);
    bool event = !parsed.is_discarded();
    if (event) {
      try {
        const tuner::CampaignEvent e = tuner::event_from_json(parsed);
        campaign.apply(e);
        message = describe(e);
      } catch (const std::exception&) {
        event = false;
      }
    }
    if (!event) {
      // Not an event: the child is not speaking the protocol. Keep it for diagnosis.
      tail += "[not an event] " + line.substr(0, 500) + "\n";
      trim_tail();
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto& j = jobs_.at(id);
    j.progress.message = std::move(message);
    j.progress.done = campaign.problems_done();
    if (campaign.problem_count() > 0) j.progress.total = campaign.problem_count();
    j.progress.campaign = campaign.to_json();
    const auto now = std::chrono::steady_clock::now();
    if (now - last_save >= opt_.save_interval) {
      save_locked(j);
      last_save = now;
    }
    cv_.notify_all();
  };
  const auto start = std::chrono::steady_clock::now();
  std::string reason;  // set when we ended it (shutdown / timeout)
  bool out_open = true, err_open = true;
  while (out_open || err_open) {
    pollfd fds[2] = {{out_open ? child.fd_stdout() : -1, POLLIN, 0},
                     {err_open ? child.fd_stderr() : -1, POLLIN, 0}};
    const int rc = ::poll(fds, 2, 100);
    if (rc < 0 && errno != EINTR) throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
    for (int k = 0; k < 2 && rc > 0; ++k) {
      if (fds[k].fd < 0 || !(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      std::string chunk;
      const long n = tuner::read_some(fds[k].fd, chunk, std::chrono::milliseconds(0));
      if (n == 0) {
        (k == 0 ? out_open : err_open) = false;
      } else if (n > 0 && k == 0) {
        out_lines.append(chunk.data(), chunk.size());
        while (auto line = out_lines.pop()) on_event_line(*line);
      } else if (n > 0) {
        tail += chunk;
        trim_tail();
      }
    }
    bool stopping;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping = stopping_;
    }
    if (reason.empty() && (stopping || std::chrono::steady_clock::now() - start > opt_.job_timeout)) {
      reason = stopping ? "server shut down while the job was running"
                        : "timed out after " + std::to_string(opt_.job_timeout.count()) + " s";
      child.stop(opt_.kill_grace);  // the whole group: nothing is left holding the pipes
      break;
    }
    // The child is gone but something it started may still hold the pipes: its group goes too
    // (reaping kills the group), then what is buffered is drained below.
    if (child.try_wait()) break;
  }
  // Drain what is already buffered.
  for (int fd : {child.fd_stdout(), child.fd_stderr()}) {
    std::string chunk;
    while (fd >= 0 && tuner::read_some(fd, chunk, std::chrono::milliseconds(0)) > 0) {
      if (fd == child.fd_stdout()) {
        out_lines.append(chunk.data(), chunk.size());
        while (auto line = out_lines.pop()) on_event_line(*line);
      } else {
        tail += chunk;
      }
      chunk.clear();
    }
  }
  if (std::string rest = out_lines.rest(); !rest.empty()) on_event_line(rest);
  const tuner::ExitStatus status = child.wait();
  child.close_fds();
  trim_tail();
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.at(id).output_tail =
        tail.size() > opt_.output_tail_bytes ? tail.substr(tail.size() - opt_.output_tail_bytes) : tail;
  }

  std::optional<int> code;
  if (status.exited) code = status.code;
  bool interrupted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    interrupted = stopping_;
  }
  if (!reason.empty()) {
    finish(id, interrupted ? JobState::Interrupted : JobState::Failed, reason, code, nullptr);
  } else if (status.ok()) {
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
    std::string why = "tuning process " + status.describe();
    // The campaign's own account of what went wrong, when it gave one.
    if (!campaign.errors().empty()) why += "; " + campaign.errors().back();
    finish(id, interrupted ? JobState::Interrupted : JobState::Failed, why, code, nullptr);
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
  save_locked(j);
  finished_order_.push_back(id);
  evict_locked();
  cv_.notify_all();
}

void JobManager::evict_locked() {
  while (finished_order_.size() > opt_.max_retained) {
    jobs_.erase(finished_order_.front());
    finished_order_.pop_front();
  }
  if (db_ && finished_order_.size() == opt_.max_retained) {
    try {
      db_->prune_finished_jobs(static_cast<int64_t>(opt_.max_retained));
    } catch (const std::exception&) {
      // Old rows stay a little longer; nothing is lost.
    }
  }
}

}  // namespace attnjit::service
