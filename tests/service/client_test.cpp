#include "codegen/registry.h"
#include "service/client.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "test_server.h"

namespace attnjit::service {
namespace {

using namespace std::chrono_literals;
using testing::TestServer;

// A loopback port with nothing listening (bound once, then released).
int closed_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

TEST(Client, BestFromServerThenFromCache) {
  TestServer srv;
  Client::Options o;
  o.server = srv.url();
  Client c(o);
  const auto& s = srv.seed;
  BestConfig b = c.best(s.problem, s.target, s.device.fingerprint());
  EXPECT_TRUE(b.from_server);
  EXPECT_FALSE(b.from_cache);
  EXPECT_EQ(b.why, "exact");
  EXPECT_EQ(b.config, s.fast);
  EXPECT_EQ(b.template_hash, s.template_hash);
  EXPECT_FALSE(b.measured.is_null());
  BestConfig again = c.best(s.problem, s.target, s.device.fingerprint());
  EXPECT_TRUE(again.from_cache);
  EXPECT_EQ(again.config, s.fast);
  EXPECT_EQ(testing::settled_count(*srv.api, "/v1/best", "GET", 200, 1), 1u);
  // Without a fingerprint the arch is asked.
  EXPECT_EQ(c.best(s.problem, s.target).why, "same_arch");
}

TEST(Client, BadInputIsAClientErrorNotAFallback) {
  TestServer srv;
  Client::Options o;
  o.server = srv.url();
  Client c(o);
  try {
    c.best(srv.seed.problem, srv.seed.target, "0000000000000000");
    ADD_FAILURE() << "expected ClientError";
  } catch (const ClientError& e) {
    EXPECT_EQ(e.status, 404);
    EXPECT_EQ(e.field, "device");
  }
}

TEST(Client, UnreachableServerFallsBackToLocalDefault) {
  Client::Options o;
  o.server = "http://127.0.0.1:" + std::to_string(closed_port());
  o.connect_timeout = 500ms;
  Client c(o);
  ProblemSpec p = ProblemSpec::parse("prefill_bf16_hd128_causal_g1_q1024_k1024");
  Target t = Target::cuda("sm_80");
  const KernelTemplate& tmpl = select_template(p, t);
  auto t0 = std::chrono::steady_clock::now();
  BestConfig b = c.best(p, t);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_FALSE(b.from_server);
  EXPECT_EQ(b.why, "default");
  EXPECT_EQ(b.config, tmpl.default_config(p, t));
  EXPECT_NE(b.fallback_reason.find("unreachable"), std::string::npos) << b.fallback_reason;

  KernelArtifact k = c.kernel(p, t);
  EXPECT_FALSE(k.from_server);
  EXPECT_EQ(k.config, tmpl.default_config(p, t));
  EXPECT_EQ(k.source.hash, tmpl.render(p, k.config, t).hash);  // rendered locally
  EXPECT_TRUE(k.cubin.empty());
  EXPECT_THROW(c.health(), ServerUnavailable);
}

TEST(Client, SilentServerTimesOutAndFallsBack) {
  // Accepts connections (kernel backlog) but never answers.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  Client::Options o;
  o.server = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
  o.timeout = 300ms;
  Client c(o);
  ProblemSpec p = ProblemSpec::parse("prefill_bf16_hd128_causal_g1_q1024_k1024");
  auto t0 = std::chrono::steady_clock::now();
  BestConfig b = c.best(p, Target::cuda("sm_80"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  EXPECT_FALSE(b.from_server);
  EXPECT_EQ(b.why, "default");
  close(fd);
}

TEST(Client, KernelWithCubinAndResultsAndJobs) {
  TestServer srv;
  Client::Options o;
  o.server = srv.url();
  o.token = testing::kToken;
  Client c(o);
  const auto& s = srv.seed;
  KernelArtifact k = c.kernel(s.problem, s.target, s.slow, /*want_cubin=*/true);
  EXPECT_TRUE(k.from_server);
  EXPECT_EQ(k.config, s.slow);
  EXPECT_EQ(k.source.hash, select_template(s.problem, s.target).render(s.problem, s.slow, s.target).hash);
  EXPECT_EQ(k.cubin.substr(0, 4), "\x7f" "ELF");
  EXPECT_EQ(k.lowered_name, "_Z6kernelv");
  auto page = c.results({{"problem", s.problem.key()}, {"limit", "1"}});
  EXPECT_EQ(page["results"].size(), 1u);
  TileConfig cfg = s.slow;
  cfg.stages += 5;
  auto st = c.post_results(s.export_line(cfg, 0.1, 1'800'000'000'000) + "\n");
  EXPECT_EQ(st["stored"], 1);
  try {
    c.tune({s.problem.key()});
    ADD_FAILURE() << "tuning is disabled on this test server";
  } catch (const ServerUnavailable& e) {  // 503
    EXPECT_NE(std::string(e.what()).find("503"), std::string::npos) << e.what();
  }
}

TEST(Client, RejectsMalformedServerUrl) {
  Client::Options o;
  o.server = "127.0.0.1:8080";
  EXPECT_THROW(Client{o}, std::invalid_argument);
  o.server = "http://host/with/path";
  EXPECT_THROW(Client{o}, std::invalid_argument);
}

}  // namespace
}  // namespace attnjit::service
