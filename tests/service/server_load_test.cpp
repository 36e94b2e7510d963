// 64 concurrent keep-alive clients x 1000 /v1/best lookups against one server: zero errors,
// every answer the same as the single-threaded one.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "test_server.h"

namespace attnjit::service {
namespace {

using testing::TestServer;

TEST(ServerLoad, SixtyFourClientsThousandLookupsEachWithoutErrors) {
  TestServer::Config cfg;
  cfg.threads = 4;  // far fewer threads than clients: no connection holds one between requests
  TestServer srv(cfg);
  const auto& s = srv.seed;
  const std::string by_fp = "/v1/best?problem=" + s.problem.key() + "&device=" + s.device.fingerprint();
  const std::string by_arch = "/v1/best?problem=" + s.problem.key() + "&device=sm_80";
  const std::string expected = "\"config\":\"" + s.fast.key() + "\"";

  constexpr int kClients = 64, kLookups = 1000;
  std::atomic<int> errors{0}, wrong{0}, ok{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      auto cli = srv.client();
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < kLookups; ++i) {
        auto r = cli.Get((i + c) % 2 ? by_fp : by_arch);
        if (!r || r->status != 200) {
          if (errors.fetch_add(1) < 5)
            ADD_FAILURE() << "client " << c << " request " << i << ": "
                          << (r ? std::to_string(r->status) + " " + r->body : httplib::to_string(r.error()));
          continue;
        }
        if (r->body.find(expected) == std::string::npos) wrong.fetch_add(1);
        else ok.fetch_add(1);
      }
    });
  }
  auto t0 = std::chrono::steady_clock::now();
  go = true;
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ load ] %d requests in %.2f s = %.0f req/s (server %d threads, clients in-process)\n",
              kClients * kLookups, secs, kClients * kLookups / secs, cfg.threads);
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(ok.load(), kClients * kLookups);
  EXPECT_EQ(testing::settled_count(*srv.api, "/v1/best", "GET", 200, kClients * kLookups),
            uint64_t(kClients * kLookups));
}

}  // namespace
}  // namespace attnjit::service
