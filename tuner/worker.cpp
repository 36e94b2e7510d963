#include "codegen/registry.h"
#include "tuner/worker.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "tuner/backend_factory.h"
#include "tuner/result_json.h"

namespace attnjit::tuner {

namespace {

std::runtime_error sys_error(const std::string& call) {
  return std::runtime_error("tune worker: " + call + " failed: " + std::strerror(errno));
}

// Writes all of `line` + '\n'. MSG_NOSIGNAL: a dead peer is an error, not a SIGPIPE.
bool send_line(int fd, const std::string& line) {
  std::string s = line + '\n';
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

double now_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace

std::string default_worker_exe() {
  if (const char* e = std::getenv("ATTNJIT_TUNER_WORKER"); e && *e) return e;
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec && self.filename() == "attnjit") return self.string();
  return {};
}

// ---------------------------------------------------------------- WorkerProcess (parent side)

WorkerProcess::WorkerProcess(std::string exe) : exe_(std::move(exe)) {}
WorkerProcess::~WorkerProcess() { kill(); }

void WorkerProcess::start() {
  if (running()) return;
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) throw sys_error("socketpair");
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(sv[0]);
    ::close(sv[1]);
    throw sys_error("fork");
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);  // the tuner died before prctl took effect
    if (sv[1] == 3) {
      ::fcntl(3, F_SETFD, 0);
    } else if (::dup2(sv[1], 3) < 0) {
      ::_exit(127);
    }
    char fd_arg[] = "3";
    char sub[] = "tune-worker";
    char flag[] = "--fd";
    char* argv[] = {const_cast<char*>(exe_.c_str()), sub, flag, fd_arg, nullptr};
    ::execv(exe_.c_str(), argv);
    ::_exit(127);
  }
  ::close(sv[1]);
  pid_ = pid;
  fd_ = sv[0];
  buffer_.clear();
  failure_ = {};
}

void WorkerProcess::reap(bool timed_out) {
  if (pid_ <= 0) return;
  if (timed_out) ::kill(pid_, SIGKILL);
  int status = 0;
  // A worker that closed its socket exits promptly; give it a moment, then make sure.
  for (int i = 0; i < 500; ++i) {
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) break;
    if (r < 0 && errno != EINTR) break;
    if (i == 499) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  failure_.timed_out = timed_out;
  if (timed_out) {
    failure_.what = "did not answer in time and was killed";
  } else if (WIFSIGNALED(status)) {
    failure_.what = "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
                    ::strsignal(WTERMSIG(status)) + ")";
  } else if (WIFEXITED(status)) {
    failure_.what = "exited with status " + std::to_string(WEXITSTATUS(status)) +
                    (WEXITSTATUS(status) == 127 ? " (could not exec " + exe_ + ")" : "");
  } else {
    failure_.what = "ended";
  }
  ::close(fd_);
  fd_ = -1;
  pid_ = -1;
}

void WorkerProcess::kill() {
  if (pid_ > 0) reap(true);
}

std::optional<nlohmann::json> WorkerProcess::request(const nlohmann::json& msg, double timeout_s) {
  if (!running()) throw std::runtime_error("tune worker: request on a worker that is not running");
  if (!send_line(fd_, msg.dump())) {
    reap(false);
    return std::nullopt;
  }
  return next_line(timeout_s);
}

std::optional<nlohmann::json> WorkerProcess::next_line(double timeout_s) {
  const double deadline = now_s() + timeout_s;
  while (true) {
    if (size_t nl = buffer_.find('\n'); nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      try {
        return nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception&) {
        reap(true);
        failure_.timed_out = false;
        failure_.what = "sent a malformed reply: " + line.substr(0, 200);
        return std::nullopt;
      }
    }
    const double left = deadline - now_s();
    if (left <= 0) {
      reap(true);
      return std::nullopt;
    }
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::min(left * 1000, 1e9)) + 1);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw sys_error("poll");
    }
    if (r == 0) continue;
    char buf[65536];
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      reap(false);
      return std::nullopt;
    }
    if (n == 0) {  // EOF: the worker died or exited
      reap(false);
      return std::nullopt;
    }
    buffer_.append(buf, static_cast<size_t>(n));
  }
}

// ---------------------------------------------------------------- WorkerExecutor

WorkerExecutor::WorkerExecutor(const ProblemSpec& spec, WorkerOptions options)
    : spec_(spec), opt_(std::move(options)), proc_(opt_.exe) {
  if (opt_.exe.empty())
    throw SpecError("worker: no attnjit executable to run candidates in (set ATTNJIT_TUNER_WORKER)");
}

void WorkerExecutor::ensure_worker() {
  if (proc_.running() && initialized_) return;
  proc_.start();
  ++restarts_;
  initialized_ = false;
  nlohmann::json init = {{"op", "init"},
                         {"platform", std::string(to_string(opt_.platform))},
                         {"problem", spec_.key()},
                         {"seed", opt_.eval.seed},
                         {"check_tuning_shape", opt_.eval.check_tuning_shape},
                         {"compile_threads", opt_.compile_threads}};
  if (opt_.eval.shape) {
    const RunShape& s = *opt_.eval.shape;
    init["shape"] = {s.batch, s.heads_q, s.heads_kv, s.seqlen_q, s.seqlen_k};
  }
  auto reply = proc_.request(init, opt_.compile_timeout_s);
  if (!reply) throw std::runtime_error("tune worker " + proc_.failure().what + " during start-up");
  if (!reply->value("ok", false)) {
    proc_.kill();
    throw std::runtime_error("tune worker could not start: " + reply->value("error", std::string("?")));
  }
  initialized_ = true;
}

CandidateResult WorkerExecutor::failed(const TileConfig& cfg, const char* during) {
  CandidateResult r;
  r.config = cfg;
  r.status = proc_.failure().timed_out ? CandidateStatus::Timeout : CandidateStatus::LaunchError;
  r.reason = std::string("worker ") + proc_.failure().what + " while " + during + " " + cfg.key();
  initialized_ = false;
  return r;
}

std::vector<CandidateResult> WorkerExecutor::compile_all(
    const std::vector<TileConfig>& configs,
    const std::function<void(const CandidateResult&)>& on_done) {
  std::vector<CandidateResult> out(configs.size());
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < configs.size(); ++i) index.emplace(configs[i].key(), i);
  std::set<size_t> pending;
  for (size_t i = 0; i < configs.size(); ++i) pending.insert(i);
  // First one batch (the worker compiles it in parallel). If the worker dies mid-batch the
  // culprit is unknown, so the rest go one per request, which pins down any further death.
  bool one_by_one = false;
  while (!pending.empty()) {
    ensure_worker();
    std::vector<size_t> batch;
    if (one_by_one) batch = {*pending.begin()};
    else batch.assign(pending.begin(), pending.end());
    nlohmann::json keys = nlohmann::json::array();
    for (size_t i : batch) keys.push_back(configs[i].key());
    auto line = proc_.request({{"op", "compile"}, {"configs", keys}}, opt_.compile_timeout_s);
    while (line && !line->contains("done")) {
      if (line->contains("error")) throw std::runtime_error("tune worker: " + line->at("error").get<std::string>());
      CandidateResult r = candidate_from_json(line->at("result"));
      auto it = index.find(r.key());
      if (it == index.end() || !pending.count(it->second))
        throw std::runtime_error("tune worker: unexpected result for " + r.key());
      out[it->second] = r;
      pending.erase(it->second);
      if (on_done) on_done(r);
      line = proc_.next_line(opt_.compile_timeout_s);
    }
    if (line) continue;  // batch done
    if (batch.size() == 1 || pending.size() == 1) {
      const size_t i = *pending.begin();
      out[i] = failed(configs[i], "compiling");
      if (out[i].status == CandidateStatus::LaunchError) out[i].status = CandidateStatus::CompileError;
      pending.erase(i);
      if (on_done) on_done(out[i]);
    }
    one_by_one = true;
    initialized_ = false;
  }
  return out;
}

CandidateResult WorkerExecutor::evaluate(const TileConfig& cfg, const MeasureOptions& measure) {
  ensure_worker();
  auto reply = proc_.request({{"op", "evaluate"}, {"config", cfg.key()}, {"measure", to_json(measure)}},
                             opt_.evaluate_timeout_s);
  if (!reply) return failed(cfg, "evaluating");
  if (reply->contains("error")) {
    CandidateResult r;
    r.config = cfg;
    r.status = CandidateStatus::LaunchError;
    r.reason = reply->at("error").get<std::string>();
    return r;
  }
  note_ = reply->value("note", note_);
  return candidate_from_json(reply->at("result"));
}

std::string WorkerExecutor::baseline_note() { return note_; }

// ---------------------------------------------------------------- the worker itself

namespace {

void inject_fault(const std::string& config) {
  const char* env = std::getenv("ATTNJIT_TUNER_FAULT");
  if (!env) return;
  std::string s = env;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t end = s.find(',', pos);
    if (end == std::string::npos) end = s.size();
    std::string item = s.substr(pos, end - pos);
    pos = end + 1;
    size_t eq = item.find('=');
    if (eq == std::string::npos || item.substr(0, eq) != config) continue;
    const std::string what = item.substr(eq + 1);
    if (what == "abort") std::abort();
    if (what == "segv") ::raise(SIGSEGV);
    if (what == "exit") std::_Exit(3);
    if (what == "hang")
      while (true) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

}  // namespace

int run_tune_worker(int fd) {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<CandidateEvaluator> eval;
  int threads = 0;
  std::mutex write_mu;
  auto reply = [&](const nlohmann::json& j) {
    std::lock_guard<std::mutex> lock(write_mu);
    if (!send_line(fd, j.dump())) std::_Exit(0);  // the tuner is gone
  };
  std::string buffer;
  char buf[65536];
  while (true) {
    size_t nl;
    while ((nl = buffer.find('\n')) == std::string::npos) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return 0;  // EOF: the tuner is done with us
      buffer.append(buf, static_cast<size_t>(n));
    }
    const std::string line = buffer.substr(0, nl);
    buffer.erase(0, nl + 1);
    try {
      const nlohmann::json msg = nlohmann::json::parse(line);
      const std::string op = msg.at("op").get<std::string>();
      if (op == "init") {
        const ProblemSpec spec = ProblemSpec::parse(msg.at("problem").get<std::string>());
        backend = make_backend(parse_platform(msg.at("platform").get<std::string>()));
        EvaluatorOptions eo;
        eo.seed = msg.at("seed").get<uint64_t>();
        eo.check_tuning_shape = msg.at("check_tuning_shape").get<bool>();
        if (msg.contains("shape")) {
          const auto& a = msg.at("shape");
          eo.shape = RunShape{a.at(0).get<int64_t>(), a.at(1).get<int64_t>(), a.at(2).get<int64_t>(),
                              a.at(3).get<int64_t>(), a.at(4).get<int64_t>()};
        }
        threads = msg.at("compile_threads").get<int>();
        const KernelTemplate& t = select_template(spec, backend->target());
        eval = std::make_unique<CandidateEvaluator>(*backend, t, spec, eo);
        reply({{"ok", true}, {"device", backend->describe()}});
        continue;
      }
      if (!eval) throw std::runtime_error("worker: '" + op + "' before init");
      if (op == "compile") {
        std::vector<TileConfig> cfgs;
        for (const auto& k : msg.at("configs")) cfgs.push_back(TileConfig::parse(k.get<std::string>()));
        parallel_for(cfgs.size(), threads, [&](size_t i) {
          reply({{"result", to_json(eval->compile(cfgs[i]))}});
        });
        reply({{"done", true}});
      } else if (op == "evaluate") {
        const std::string key = msg.at("config").get<std::string>();
        inject_fault(key);
        const CandidateResult r = eval->evaluate(TileConfig::parse(key), measure_from_json(msg.at("measure")));
        reply({{"result", to_json(r)}, {"note", eval->baseline_note()}});
      } else {
        throw std::runtime_error("worker: unknown op '" + op + "'");
      }
    } catch (const std::exception& e) {
      if (!backend || !eval) {
        reply({{"ok", false}, {"error", e.what()}});
      } else {
        reply({{"error", e.what()}});
      }
    }
  }
}

}  // namespace attnjit::tuner
