// The connection model and the cost limits, over real sockets (issue 14, failures 4 and 6):
// slow and idle clients never hold the threads others need, and kernel compiles for requests
// without a token are capped.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "raw_http.h"
#include "test_server.h"

namespace attnjit::service {
namespace {

using namespace std::chrono_literals;
using testing::RawConn;
using testing::raw_head;
using testing::TestServer;

double health_seconds(int port) {
  auto t0 = std::chrono::steady_clock::now();
  RawConn c(port);
  c.send_all(raw_head("GET", "/v1/health", ""));
  auto r = c.read_response(30s);
  EXPECT_TRUE(r && r->status == 200);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Failure 4: 64 clients sending their headers slowly held all worker threads and /v1/health
// took 23.5 s. Here 4 threads face 100 such clients: health answers at once, and each slow
// client gets a 408 once the head deadline passes.
TEST(Connections, SlowHeadersDoNotStarveOthersAndTimeOut) {
  TestServer srv(TestServer::Config{.threads = 4, .header_timeout_s = 2});
  std::vector<std::unique_ptr<RawConn>> slow;
  const std::string head = raw_head("GET", "/v1/health", "X-Pad: 0123456789\r\n");
  for (int i = 0; i < 100; ++i) {
    slow.push_back(std::make_unique<RawConn>(srv.port));
    slow.back()->send_all(head.substr(0, 5));
  }
  auto start = std::chrono::steady_clock::now();
  for (size_t k = 5; k < 12; ++k) {  // a byte each, every 100 ms
    for (auto& c : slow) c->send_all(head.substr(k, 1));
    EXPECT_LT(health_seconds(srv.port), 1.0);
    std::this_thread::sleep_for(100ms);
  }
  int timed_out = 0;
  for (auto& c : slow) {
    auto r = c->read_response(10s);
    if (r && r->status == 408) ++timed_out;
    EXPECT_TRUE(c->closed_by_peer(5s));
  }
  EXPECT_EQ(timed_out, 100);
  // Not before the head deadline (2 s after each head's first byte).
  EXPECT_GE(std::chrono::steady_clock::now() - start, 1500ms);
  EXPECT_LT(health_seconds(srv.port), 1.0);
}

// Idle keep-alive connections cost no thread either, and are closed after the idle timeout.
TEST(Connections, IdleKeepAliveConnectionsHoldNoThreads) {
  TestServer srv(TestServer::Config{.threads = 2, .keep_alive_timeout_s = 1});
  std::vector<std::unique_ptr<RawConn>> idle;
  for (int i = 0; i < 200; ++i) {
    idle.push_back(std::make_unique<RawConn>(srv.port));
    if (i % 2) {  // half of them after one request (keep-alive), half never sent anything
      idle.back()->send_all(raw_head("GET", "/v1/health", ""));
      ASSERT_TRUE(idle.back()->read_response(5s));
    }
  }
  EXPECT_LT(health_seconds(srv.port), 1.0);
  for (auto& c : idle) EXPECT_TRUE(c->closed_by_peer(5s));
}

// A head over the size limit is refused (431) instead of being buffered without end.
TEST(Connections, HugeHeadIs431) {
  TestServer srv;
  RawConn c(srv.port);
  std::string head = "GET /v1/health HTTP/1.1\r\n";
  for (int i = 0; i < 2000; ++i) head += "X-H" + std::to_string(i) + ": " + std::string(30, 'x') + "\r\n";
  c.send_all(head, 5s);  // may stop part way: the server closes once the limit is passed
  auto r = c.read_response(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_TRUE(c.closed_by_peer(5s));
}

// Failure 6: anyone could make the server compile kernels. Without the token at most
// `max_anonymous_compiles` compiles run at once; others get 503 + Retry-After; cache hits and
// token holders are not limited.
TEST(Connections, AnonymousCompilesAreCapped) {
  TestServer srv(TestServer::Config{.max_anonymous_compiles = 1, .compile_ms = 1500});
  const auto& s = srv.seed;
  const std::string base = "/v1/kernel?problem=" + s.problem.key() + "&arch=sm_80&cubin=1&source=0&config=";
  std::thread first([&] {
    RawConn c(srv.port);
    c.send_all(raw_head("GET", base + s.slow.key(), ""));
    auto r = c.read_response(30s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
  });
  while (srv.compiles.load() == 0) std::this_thread::sleep_for(5ms);
  {
    RawConn c(srv.port);  // a second anonymous compile while the first runs
    c.send_all(raw_head("GET", base + s.fast.key(), ""));
    auto r = c.read_response(10s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503) << r->body;
    EXPECT_EQ(r->header("retry-after"), "1");
    EXPECT_EQ(r->json()["error"].value("field", ""), "cubin") << r->body;
  }
  {
    RawConn c(srv.port);  // the token holder is not capped
    c.send_all(raw_head("GET", base + s.fast.key(), std::string("Authorization: Bearer ") + testing::kToken + "\r\n"));
    auto r = c.read_response(30s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
  }
  first.join();
  EXPECT_EQ(srv.compiles.load(), 2);
  RawConn c(srv.port);  // a cached CUBIN needs no slot
  c.send_all(raw_head("GET", base + s.fast.key(), ""));
  auto r = c.read_response(10s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->json()["cubin"]["cached"], true);
}

TEST(Connections, CacheOnlyModeForAnonymousCompiles) {
  TestServer srv(TestServer::Config{.max_anonymous_compiles = 0});
  RawConn c(srv.port);
  c.send_all(raw_head("GET", "/v1/kernel?problem=" + srv.seed.problem.key() + "&arch=sm_80&cubin=1", ""));
  auto r = c.read_response(10s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_EQ(srv.compiles.load(), 0);
}

// Writes made through the server are visible to the next read at once, though reads are
// served from the response cache.
TEST(Connections, CachedReadsSeeWritesImmediately) {
  TestServer srv;
  auto cli = srv.client();
  const std::string q = "/v1/results?limit=100";
  auto before = cli.Get(q);
  ASSERT_TRUE(before);
  ASSERT_EQ(cli.Get(q)->body, before->body);  // served again (from the cache)
  TileConfig t = srv.seed.slow;
  t.order = 42;
  auto w = cli.Post("/v1/results", {{"Authorization", std::string("Bearer ") + testing::kToken}},
                    srv.seed.export_line(t, 0.9, 1'800'000'000'000), "application/x-ndjson");
  ASSERT_TRUE(w);
  ASSERT_EQ(w->status, 200) << w->body;
  auto after = cli.Get(q);
  ASSERT_TRUE(after);
  EXPECT_NE(after->body.find(t.key()), std::string::npos);
  // And writes by another process (another connection to the file) as well.
  TileConfig u = srv.seed.slow;
  u.order = 43;
  {
    Database db = Database::open(srv.db_path);
    db.record_result(srv.seed.result(u, 0.8));
  }
  // The file's WAL changed, so almost always at once; at worst after the cache's max age.
  auto deadline = std::chrono::steady_clock::now() + 2s;
  while (cli.Get(q)->body.find(u.key()) == std::string::npos && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  EXPECT_NE(cli.Get(q)->body.find(u.key()), std::string::npos);
}

}  // namespace
}  // namespace attnjit::service
