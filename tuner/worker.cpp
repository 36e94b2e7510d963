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

#include "runtime/thread_pool.h"
#include "tuner/backend_factory.h"
#include "tuner/clock.h"
#include "tuner/result_json.h"

namespace attnjit::tuner {

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
  ChildProcess::Options o;
  o.argv = {exe_, "tune-worker", "--fd", "3"};
  o.socket_fd3 = true;
  o.stdin_null = false;     // the worker inherits stdin / stdout / stderr (its logs show)
  o.die_with_parent = true;
  child_ = std::make_unique<ChildProcess>(std::move(o));
  lines_ = LineBuffer(64 << 20);
  failure_ = {};
}

void WorkerProcess::reap(bool timed_out) {
  if (!child_) return;
  ExitStatus st;
  if (timed_out) {
    st = child_->kill();
  } else {
    // A worker that closed its socket exits promptly; give it a moment, then make sure.
    st = child_->wait_or_kill(std::chrono::milliseconds(5000));
  }
  failure_.timed_out = timed_out;
  if (timed_out) {
    failure_.what = "did not answer in time and was killed";
  } else {
    failure_.what = st.describe();
    if (st.exited && st.code == 127) failure_.what += " (" + exe_ + ")";
  }
  child_.reset();
}

void WorkerProcess::kill() {
  if (running()) reap(true);
  child_.reset();
}

std::optional<nlohmann::json> WorkerProcess::request(const nlohmann::json& msg, double timeout_s) {
  if (!running()) throw std::runtime_error("tune worker: request on a worker that is not running");
  if (!write_all(child_->fd_channel(), msg.dump() + "\n")) {
    reap(false);
    return std::nullopt;
  }
  return next_line(timeout_s);
}

std::optional<nlohmann::json> WorkerProcess::next_line(double timeout_s) {
  const double deadline = now_s() + timeout_s;
  while (true) {
    if (std::optional<std::string> line = lines_.pop()) {
      try {
        return nlohmann::json::parse(*line);
      } catch (const nlohmann::json::exception&) {
        reap(true);
        failure_.timed_out = false;
        failure_.what = "sent a malformed reply: " + line->substr(0, 200);
        return std::nullopt;
      }
    }
    const double left = deadline - now_s();
    if (left <= 0) {
      reap(true);
      return std::nullopt;
    }
    std::string chunk;
    const long n = read_some(child_->fd_channel(), chunk,
                             std::chrono::milliseconds(static_cast<long long>(std::min(left * 1000, 1e9)) + 1));
    if (n == 0) {  // EOF: the worker died or exited
      reap(false);
      return std::nullopt;
    }
    if (n > 0) lines_.append(chunk.data(), chunk.size());
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
    if (what == "segv") {
      // Dies the way an unhandled crash does, whatever handler is installed (AddressSanitizer's
      // turns a SIGSEGV into "exit 1", which is not the fault being planted).
      ::signal(SIGSEGV, SIG_DFL);
      ::raise(SIGSEGV);
    }
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
    if (!write_all(fd, j.dump() + "\n")) std::_Exit(0);  // the tuner is gone
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
        ThreadPool::shared().for_each(static_cast<int64_t>(cfgs.size()), threads, [&](int64_t i) {
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
