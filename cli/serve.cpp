// `attnjit serve`: the tuning database over HTTP (service/). Binds 127.0.0.1 unless told
// otherwise; SIGINT / SIGTERM / SIGHUP stop it gracefully (no new connections, requests in
// flight finish, a running tuning job is interrupted and marked so, the database is closed
// cleanly). SIGHUP too: a server left in a closed terminal or told to restart by a supervisor
// must not die mid-request.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>

#include "cli/command.h"
#include "service/api.h"
#include "service/server.h"

namespace attnjit::cli {
namespace {

struct ServeArgs {
  std::string db, host = "127.0.0.1", token_file, tune_exe;
  int port = 8080;
  int threads = 0;  // 0: HttpServer::default_threads()
  int64_t max_body_mb = 16;
  int anonymous_compiles = 2;
  bool no_tune = false;
};

// This executable, for the tuning child processes.
std::string self_exe() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw std::runtime_error("readlink /proc/self/exe failed; pass --tune-exe");
  return std::string(buf, static_cast<size_t>(n));
}

void run_serve(const ServeArgs& a) {
  if (a.port < 0 || a.port > 65535) throw UsageError("--port: must be in [0, 65535]");
  if (a.threads < 0 || a.threads > 1024) throw UsageError("--threads: must be in [0, 1024] (0 = twice the cores, at least 4)");
  const int threads = a.threads > 0 ? a.threads : service::HttpServer::default_threads();
  if (a.max_body_mb < 1 || a.max_body_mb > 4096)
    throw UsageError("--max-body-mb: must be in [1, 4096], got " + std::to_string(a.max_body_mb));
  if (a.anonymous_compiles < 0 || a.anonymous_compiles > 1024)
    throw UsageError("--anonymous-compiles: must be in [0, 1024]");

  // Block the stop signals before any thread exists, so every thread inherits the mask and
  // only the sigwait thread below ever sees them.
  sigset_t stop_set;
  sigemptyset(&stop_set);
  sigaddset(&stop_set, SIGINT);
  sigaddset(&stop_set, SIGTERM);
  sigaddset(&stop_set, SIGHUP);
  if (int rc = pthread_sigmask(SIG_BLOCK, &stop_set, nullptr))
    throw std::runtime_error(std::string("pthread_sigmask: ") + std::strerror(rc));

  service::Api::Options opt;
  opt.db_path = a.db;
  opt.db_readers = threads;
  opt.max_anonymous_compiles = a.anonymous_compiles;
  if (!a.token_file.empty()) opt.auth = service::TokenAuth::from_file(a.token_file);
  const bool in_memory = a.db == ":memory:";
  if (!a.no_tune && !in_memory) {
    std::string exe = a.tune_exe.empty() ? self_exe() : a.tune_exe;
    std::string db = a.db;
    opt.tune_command = [exe, db](const service::TuneRequest& r) {
      std::vector<std::string> argv = {exe, "tune", "--db", db};
      for (const auto& p : r.problems) {
        argv.push_back("--problem");
        argv.push_back(p);
      }
      if (r.budget > 0) {
        // A budget is a number of candidates: the random strategy samples that many (always
        // including the default config). Said explicitly, so the job does not depend on
        // what `tune --budget N` alone picks.
        argv.push_back("--strategy");
        argv.push_back("random");
        argv.push_back("--budget");
        argv.push_back(std::to_string(r.budget));
      }
      return argv;
    };
  }
  service::Api api(std::move(opt));

  service::HttpServer::Options so;
  so.host = a.host;
  so.port = a.port;
  so.threads = threads;
  so.max_body_bytes = static_cast<size_t>(a.max_body_mb) << 20;
  service::HttpServer server(api, so);
  int port = server.bind();
  std::printf("attnjit serve: listening on http://%s:%d (db %s, %d threads, writes %s, tuning %s)\n",
              a.host.c_str(), port, a.db.c_str(), threads,
              a.token_file.empty() ? "disabled (no --token-file)" : "need the bearer token",
              a.no_tune || in_memory ? "disabled" : "enabled");
  std::fflush(stdout);

  std::atomic<bool> done{false};
  std::thread signals([&] {
    int count = 0;
    while (true) {
      int sig = 0;
      if (sigwait(&stop_set, &sig) != 0 || done.load()) return;
      if (++count == 1) {
        std::fprintf(stderr, "attnjit serve: %s received, finishing requests in flight (again to force)\n",
                     sig == SIGINT ? "SIGINT" : sig == SIGHUP ? "SIGHUP" : "SIGTERM");
        server.stop();
      } else {
        std::fprintf(stderr, "attnjit serve: second signal, exiting now\n");
        std::_Exit(130);
      }
    }
  });
  server.run();  // returns once stopped and every accepted request is answered
  done = true;
  pthread_kill(signals.native_handle(), SIGTERM);  // wakes the signal thread's sigwait
  signals.join();
  api.shutdown();
  std::fprintf(stderr, "attnjit serve: stopped\n");
}

const RegisterCommand reg("serve", [](CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  auto* c = app.add_subcommand("serve", "Serve the tuning database over HTTP (JSON API under /v1)");
  c->add_option("--db", a->db, "SQLite tuning database (created if missing; :memory: for a scratch one)")->required();
  c->add_option("--host", a->host, "address to bind (use 0.0.0.0 to expose it)")->capture_default_str();
  c->add_option("--port", a->port, "TCP port (0 = any free port)")->capture_default_str();
  c->add_option("--token-file", a->token_file, "file holding the bearer token that writes need (>= 16 chars)");
  c->add_option("--threads", a->threads, "worker threads, busy only while serving a request (0 = twice the cores, at least 4)")->capture_default_str();
  c->add_option("--max-body-mb", a->max_body_mb, "largest request body accepted, in MiB (1..4096)")->capture_default_str();
  c->add_option("--anonymous-compiles", a->anonymous_compiles,
                "concurrent CUBIN compiles for requests without the token (0 = cached CUBINs only)")->capture_default_str();
  c->add_option("--tune-exe", a->tune_exe, "attnjit executable for tuning jobs (default: this one)");
  c->add_flag("--no-tune", a->no_tune, "refuse POST /v1/tune");
  c->callback([a] { run_serve(*a); });
});

}  // namespace
}  // namespace attnjit::cli
