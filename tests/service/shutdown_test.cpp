// Graceful shutdown: stop() while writes and reads are in flight. Every write the server
// acknowledged is in the database afterwards, every reply that arrived is complete, and the
// database opens cleanly. Plus the real `attnjit serve` process on SIGTERM.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "raw_http.h"
#include "test_server.h"

extern char** environ;

namespace attnjit::service {
namespace {

using namespace std::chrono_literals;
using testing::TestServer;

TEST(Shutdown, StopDuringWritesLosesNothingAcknowledged) {
  TestServer srv;
  const auto& s = srv.seed;
  std::mutex mu;
  std::set<std::string> acknowledged;
  std::atomic<int> incomplete{0}, sent{0};
  std::atomic<bool> halt{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      auto cli = srv.client();
      httplib::Headers h = {{"Authorization", std::string("Bearer ") + testing::kToken}};
      for (int i = 0; !halt.load() && i < 100000; ++i) {
        TileConfig cfg = s.slow;
        cfg.order = 1000 + w * 100000 + i;  // a distinct result key per request
        // Several lines per request: a transaction that must land whole or not at all.
        std::string body;
        for (int k = 0; k < 3; ++k) {
          TileConfig c = cfg;
          c.splits = k + 1;
          body += s.export_line(c, 1.0 + k, 1'800'000'000'000 + i) + "\n";
        }
        sent.fetch_add(1);
        auto r = cli.Post("/v1/results", h, body, "application/x-ndjson");
        if (!r) break;  // server gone: refused or closed before answering
        auto j = nlohmann::json::parse(r->body, nullptr, false);
        if (j.is_discarded()) { incomplete.fetch_add(1); continue; }
        if (r->status == 200 && j.value("stored", 0) == 3) {
          std::lock_guard<std::mutex> lock(mu);
          acknowledged.insert(cfg.key());
        }
      }
    });
  }
  std::thread reader([&] {
    auto cli = srv.client();
    while (!halt.load()) {
      auto r = cli.Get("/v1/best?problem=" + s.problem.key() + "&device=sm_80");
      if (!r) break;
      if (nlohmann::json::parse(r->body, nullptr, false).is_discarded()) incomplete.fetch_add(1);
    }
  });
  while (sent.load() < 40) std::this_thread::sleep_for(1ms);
  srv.stop();  // returns after in-flight requests were answered
  halt = true;
  for (auto& t : writers) t.join();
  reader.join();

  EXPECT_EQ(incomplete.load(), 0);
  ASSERT_GT(acknowledged.size(), 0u);
  // Reopen the file as a new process would.
  srv.api.reset();
  Database db = Database::open(srv.db_path);
  std::map<std::string, int> rows_per_order;
  int64_t after = 0;
  while (true) {
    ResultFilter f;
    f.device = s.device.fingerprint();
    ResultPage page = db.query_results(f, after, 1000);
    for (const auto& r : page.rows) {
      TileConfig c = TileConfig::parse(r.config);
      c.splits = 0;
      rows_per_order[c.key()] += 1;
    }
    if (!page.next_cursor) break;
    after = *page.next_cursor;
  }
  for (const auto& key : acknowledged) EXPECT_EQ(rows_per_order[key], 3) << key;
  // Nothing half-imported either: every request's lines landed together.
  for (const auto& [key, n] : rows_per_order)
    if (key.find("_o") != std::string::npos) EXPECT_EQ(n, 3) << key;
}

TEST(Shutdown, StopInterruptsRunningJob) {
  TestServer::Config cfg;
  cfg.tune_command = [](const TuneRequest&) {
    return std::vector<std::string>{"/bin/sh", "-c",
                                    R"(echo '{"event":"campaign_started","problem_count":5}'; sleep 30)"};
  };
  TestServer srv(cfg);
  auto cli = srv.client();
  auto r = cli.Post("/v1/tune", {{"Authorization", std::string("Bearer ") + testing::kToken}},
                    R"({"problems": [")" + srv.seed.problem.key() + R"("]})", "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  std::string id = nlohmann::json::parse(r->body)["id"];
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (srv.api->jobs().get(id)->progress.total != 5) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(10ms);
  }
  auto t0 = std::chrono::steady_clock::now();
  srv.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  auto info = srv.api->jobs().get(id);
  EXPECT_EQ(info->state, JobState::Interrupted);
  EXPECT_NE(info->error.find("shut down"), std::string::npos) << info->error;
}

// The real executable, started with a token on a free port.
struct ServeProcess {
  testing::TempDir dir;
  std::string db = dir.file("tune.db");
  pid_t pid = -1;
  int port = 0;

  ServeProcess() {
    std::string token = dir.file("token");
    std::ofstream(token) << testing::kToken << "\n";
    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    std::vector<std::string> args = {ATTNJIT_CLI_PATH, "serve", "--db", db, "--port", "0", "--threads", "4",
                                     "--token-file", token};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    if (rc != 0) throw std::runtime_error("posix_spawn failed");
    // "attnjit serve: listening on http://127.0.0.1:PORT (...)"
    std::string line;
    char c;
    while (read(out[0], &c, 1) == 1 && c != '\n') line += c;
    close(out[0]);
    auto at = line.find("127.0.0.1:");
    if (at == std::string::npos) throw std::runtime_error("no listening line: " + line);
    port = std::stoi(line.substr(at + 10));
  }
  ~ServeProcess() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  // The exit status after `sig`.
  int stop_with(int sig) {
    if (kill(pid, sig) != 0) return -1;
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) return -1;
    pid = -1;
    return status;
  }
};

// Starts, answers, and exits 0 on SIGTERM.
TEST(Shutdown, ServeProcessExitsCleanlyOnSigterm) {
  ServeProcess p;
  httplib::Client cli("127.0.0.1", p.port);
  auto r = cli.Get("/v1/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(nlohmann::json::parse(r->body)["writes_enabled"], true);
  int status = p.stop_with(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "wait status " << status;
  EXPECT_NO_THROW(Database::open(p.db));
}

// Failure 8: SIGHUP killed the server at once. Now it stops like SIGTERM: a request whose body
// is still arriving when the signal comes is finished and answered, then the process exits 0.
TEST(Shutdown, SighupIsGracefulAndFinishesTheRequestInFlight) {
  ServeProcess p;
  testing::Seed seed;
  std::string lines;
  for (int i = 0; i < 3; ++i) {
    TileConfig t = seed.slow;
    t.order = 900 + i;
    lines += seed.export_line(t, 1.0 + i, 1'800'000'000'000) + "\n";
  }
  testing::RawConn c(p.port);
  ASSERT_TRUE(c.send_all(testing::raw_head("POST", "/v1/results",
                                           std::string("Authorization: Bearer ") + testing::kToken +
                                               "\r\nTransfer-Encoding: chunked\r\n") +
                         testing::chunk(lines.substr(0, 100))));
  std::this_thread::sleep_for(300ms);  // the server is now reading this body
  ASSERT_EQ(kill(p.pid, SIGHUP), 0);
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(c.send_all(testing::chunk(lines.substr(100)) + "0\r\n\r\n"));
  auto r = c.read_response(20s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->json()["stored"], 3) << r->body;
  EXPECT_EQ(r->header("connection"), "close");
  int status = 0;
  ASSERT_EQ(waitpid(p.pid, &status, 0), p.pid);
  p.pid = -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "wait status " << status;
  Database db = Database::open(p.db);
  EXPECT_EQ(db.stats().results, 3);
}

}  // namespace
}  // namespace attnjit::service
