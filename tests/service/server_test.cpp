// Every endpoint over a real socket: status codes, the JSON error form, auth, limits.
#include <gtest/gtest.h>

#include <sstream>

#include "codegen/registry.h"
#include "service/base64.h"
#include "test_server.h"

namespace attnjit::service {
namespace {

using testing::expect_error;
using testing::TestServer;
using testing::body_json;
using nlohmann::json;

httplib::Headers bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

class ServerTest : public ::testing::Test {
 protected:
  TestServer srv;
  httplib::Client cli = srv.client();
};

TEST_F(ServerTest, Health) {
  auto r = cli.Get("/v1/health");
  json j = body_json(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["writes_enabled"], true);
  EXPECT_GT(j["db"]["schema_version"].get<int>(), 0);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
}

TEST_F(ServerTest, Devices) {
  json j = body_json(cli.Get("/v1/devices"));
  ASSERT_EQ(j["devices"].size(), 1u);
  EXPECT_EQ(j["devices"][0]["fingerprint"], srv.seed.device.fingerprint());
  EXPECT_EQ(j["devices"][0]["name"], "NVIDIA A100-SXM4-80GB");
}

TEST_F(ServerTest, BestExactByFingerprintWithProvenance) {
  const auto& s = srv.seed;
  auto r = cli.Get("/v1/best?problem=" + s.problem.key() + "&device=" + s.device.fingerprint());
  json j = body_json(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(j["why"], "exact");
  EXPECT_EQ(j["config"], s.fast.key());
  EXPECT_EQ(j["target"], "sm_80");
  EXPECT_EQ(j["template"]["hash"], s.template_hash);
  EXPECT_DOUBLE_EQ(j["measured"]["median_ms"].get<double>(), s.fast == s.slow ? 2 * s.fast_ms : s.fast_ms);
  EXPECT_EQ(j["provenance"]["device"], s.device.fingerprint());
  EXPECT_EQ(j["provenance"]["device_name"], s.device.name);
  EXPECT_EQ(j["provenance"]["compiler_version"], "nvrtc-13.0");
}

TEST_F(ServerTest, BestNearestSameArchAndDefault) {
  const auto& s = srv.seed;
  // Another bucket on the same device: nearest.
  auto near = ProblemSpec::parse("prefill_bf16_hd128_causal_g1_q2048_k2048");
  json j = body_json(cli.Get("/v1/best?problem=" + near.key() + "&device=" + s.device.fingerprint()));
  EXPECT_EQ(j["why"], "nearest_bucket") << j.dump();
  EXPECT_EQ(j["provenance"]["tuned_problem"], s.problem.key());
  // By target key: another device of the arch.
  j = body_json(cli.Get("/v1/best?problem=" + s.problem.key() + "&device=sm_80"));
  EXPECT_EQ(j["why"], "same_arch") << j.dump();
  EXPECT_EQ(j["config"], s.fast.key());
  // Untuned arch: the template default, no measurements.
  auto target = Target::cuda("sm_89");
  j = body_json(cli.Get("/v1/best?problem=" + s.problem.key() + "&device=sm_89"));
  EXPECT_EQ(j["why"], "default") << j.dump();
  EXPECT_EQ(j["config"], select_template(s.problem, target).default_config(s.problem, target).key());
  EXPECT_TRUE(j["measured"].is_null());
}

TEST_F(ServerTest, BestBadParametersNameTheField) {
  const std::string fp = srv.seed.device.fingerprint();
  expect_error(cli.Get("/v1/best?device=" + fp), 400, "missing_parameter", "problem");
  expect_error(cli.Get("/v1/best?problem=prefill_bf16_hd100_causal_g1_q1024_k1024&device=" + fp), 400,
               "invalid_parameter", "problem");
  expect_error(cli.Get("/v1/best?problem=" + srv.seed.problem.key()), 400, "missing_parameter", "device");
  expect_error(cli.Get("/v1/best?problem=" + srv.seed.problem.key() + "&device=sm_12"), 400,
               "invalid_parameter", "device");
  expect_error(cli.Get("/v1/best?problem=" + srv.seed.problem.key() + "&device=0000000000000000"), 404,
               "not_found", "device");
  expect_error(cli.Get("/v1/best?problem=" + srv.seed.problem.key() + "&device=sm_80&extra=1"), 400,
               "unknown_parameter", "extra");
  expect_error(cli.Get("/v1/best?problem=x%27%3B%20DROP%20TABLE%20results&device=sm_80"), 400,
               "invalid_parameter", "problem");
}

TEST_F(ServerTest, KernelSourceGeometryAndCachedCubin) {
  const auto& s = srv.seed;
  std::string q = "/v1/kernel?problem=" + s.problem.key() + "&arch=sm_80";
  auto r = cli.Get(q);
  json j = body_json(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(j["config"], s.fast.key());  // the arch's tuned pick
  EXPECT_EQ(j["why"], "same_arch");
  const KernelSource src = select_template(s.problem, s.target).render(s.problem, s.fast, s.target);
  EXPECT_EQ(j["source"], src.text);
  EXPECT_EQ(j["entry"], src.entry);
  EXPECT_EQ(j["hash"], src.hash);
  EXPECT_EQ(j["headers"].size(), src.headers.size());
  EXPECT_EQ(j["geometry"]["shape"]["seqlen_q"], s.problem.seqlen_q);
  EXPECT_FALSE(j.contains("cubin"));

  json c1 = body_json(cli.Get(q + "&cubin=1&source=0&config=" + s.slow.key()));
  ASSERT_TRUE(c1.contains("cubin")) << c1.dump();
  EXPECT_FALSE(c1.contains("source"));
  EXPECT_EQ(c1["config"], s.slow.key());
  EXPECT_EQ(c1["cubin"]["cached"], false);
  json c2 = body_json(cli.Get(q + "&cubin=1&source=0&config=" + s.slow.key()));
  EXPECT_EQ(c2["cubin"]["cached"], true);
  EXPECT_EQ(srv.compiles.load(), 1);
  std::string bytes = base64_decode(c2["cubin"]["base64"].get<std::string>());
  EXPECT_EQ(bytes.size(), c2["cubin"]["bytes"].get<size_t>());
  EXPECT_EQ(bytes.substr(0, 4), "\x7f" "ELF");
  std::string metrics = cli.Get("/metrics")->body;
  EXPECT_NE(metrics.find("attnjit_kernel_cache_hits_total 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("attnjit_kernel_cache_misses_total 1\n"), std::string::npos) << metrics;
}

TEST_F(ServerTest, KernelBadParameters) {
  const std::string p = "problem=" + srv.seed.problem.key();
  expect_error(cli.Get("/v1/kernel?" + p), 400, "missing_parameter", "arch");
  expect_error(cli.Get("/v1/kernel?" + p + "&arch=sm_80&config=bm7"), 400, "invalid_parameter", "config");
  expect_error(cli.Get("/v1/kernel?" + p + "&arch=sm_80&cubin=yes"), 400, "invalid_parameter", "cubin");
  expect_error(cli.Get("/v1/kernel?" + p + "&arch=sm_80&batch=0"), 400, "invalid_parameter", "batch");
  expect_error(cli.Get("/v1/kernel?" + p + "&arch=sm_80&heads_q=3&heads_kv=2"), 400, "invalid_parameter", "heads_q");
}

TEST(ServerNoNvrtc, CubinIs503WithTheReason) {
  TestServer::Config cfg;
  cfg.nvrtc = false;
  TestServer srv(cfg);
  auto cli = srv.client();
  auto r = cli.Get("/v1/kernel?problem=" + srv.seed.problem.key() + "&arch=sm_80&cubin=1");
  expect_error(r, 503, "nvrtc_unavailable", "cubin");
  EXPECT_NE(r->body.find("libnvrtc.so.13"), std::string::npos);
  // Source still works without NVRTC.
  EXPECT_EQ(cli.Get("/v1/kernel?problem=" + srv.seed.problem.key() + "&arch=sm_80")->status, 200);
}

TEST_F(ServerTest, ResultsFiltersAndCursorPagination) {
  const auto& s = srv.seed;
  json all = body_json(cli.Get("/v1/results?problem=" + s.problem.key()));
  const size_t n = all["results"].size();
  ASSERT_GE(n, 2u);
  json ok = body_json(cli.Get("/v1/results?status=ok&device=" + s.device.fingerprint()));
  for (const auto& r : ok["results"]) EXPECT_EQ(r["status"], "ok");
  EXPECT_EQ(ok["results"].size(), n - 1);  // one compile error was seeded

  std::vector<int64_t> ids;
  std::string cursor = "0";
  for (int page = 0; page < 10; ++page) {
    json p = body_json(cli.Get("/v1/results?limit=1&after=" + cursor));
    for (const auto& r : p["results"]) ids.push_back(r["id"].get<int64_t>());
    if (p["next_cursor"].is_null()) break;
    cursor = std::to_string(p["next_cursor"].get<int64_t>());
  }
  EXPECT_EQ(ids.size(), n);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));

  expect_error(cli.Get("/v1/results?limit=0"), 400, "invalid_parameter", "limit");
  expect_error(cli.Get("/v1/results?limit=5000"), 400, "invalid_parameter", "limit");
  expect_error(cli.Get("/v1/results?status=great"), 400, "invalid_parameter", "status");
  expect_error(cli.Get("/v1/results?dtype=f64"), 400, "invalid_parameter", "dtype");
  expect_error(cli.Get("/v1/results?after=-1"), 400, "invalid_parameter", "after");
  expect_error(cli.Get("/v1/results?sort=desc"), 400, "unknown_parameter", "sort");
}

TEST_F(ServerTest, PostResultsNeedsTokenAndImports) {
  const auto& s = srv.seed;
  ASSERT_FALSE(s.other == s.fast) << "the template's search space needs three configs";
  std::string line = s.export_line(s.other, 0.5, 1'800'000'000'000);
  expect_error(cli.Post("/v1/results", line, "application/x-ndjson"), 401, "unauthorized", "Authorization");
  expect_error(cli.Post("/v1/results", bearer("wrong-token-0123456789"), line, "application/x-ndjson"), 403,
               "forbidden", "Authorization");
  auto r = cli.Post("/v1/results", bearer(testing::kToken), line + "\n", "application/x-ndjson");
  json j = body_json(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(j["stored"], 1);
  // The same line as a JSON array: already there.
  r = cli.Post("/v1/results", bearer(testing::kToken), "[" + line + "]", "application/json");
  j = body_json(r);
  EXPECT_EQ(j["kept_existing"], 1) << r->body;
  // It is the new best (0.5 ms) for the exact lookup.
  json b = body_json(cli.Get("/v1/best?problem=" + s.problem.key() + "&device=" + s.device.fingerprint()));
  EXPECT_EQ(b["config"], s.other.key()) << b.dump();
  EXPECT_EQ(b["why"], "exact");
}

TEST_F(ServerTest, BestRejectsAStoredConfigIllegalForTheProblem) {
  // An imported winner the template cannot run here (e.g. measured by another template build):
  // /v1/best must not hand it out.
  const auto& s = srv.seed;
  TileConfig bad = s.fast;
  bad.stages = 99;
  ASSERT_TRUE(select_template(s.problem, s.target).can_implement(s.problem, bad, s.target).has_value());
  auto r = cli.Post("/v1/results", bearer(testing::kToken), s.export_line(bad, 0.01, 1'800'000'000'000),
                    "application/x-ndjson");
  ASSERT_EQ(r->status, 200) << r->body;
  json b = body_json(cli.Get("/v1/best?problem=" + s.problem.key() + "&device=" + s.device.fingerprint()));
  EXPECT_EQ(b["why"], "default") << b.dump();
  EXPECT_EQ(b["config"], s.slow.key());
  EXPECT_NE(b["explanation"].get<std::string>().find("rejected"), std::string::npos) << b.dump();
}

TEST_F(ServerTest, PostResultsMalformedBodies) {
  auto h = bearer(testing::kToken);
  expect_error(cli.Post("/v1/results", h, "[{\"version\": 1,", "application/json"), 400, "malformed_json", "body");
  expect_error(cli.Post("/v1/results", h, "{\"version\": 1, \"device\": {}}\n", "application/x-ndjson"), 400,
               "invalid_body", "body");
  expect_error(cli.Post("/v1/results", h, "hello", "text/plain"), 400, "malformed_json", "body");
  expect_error(cli.Post("/v1/results", h, "[1]", "application/json"), 400, "invalid_parameter", "body[0]");
  // Nothing of a partly bad file is imported.
  const auto& s = srv.seed;
  TileConfig cfg = s.slow;
  cfg.stages += 4;
  std::string good = s.export_line(cfg, 0.5, 1'800'000'000'000);
  expect_error(cli.Post("/v1/results", h, good + "\n{bad\n", "application/x-ndjson"), 400, "invalid_body", "body");
  json rows = body_json(cli.Get("/v1/results?config=" + cfg.key()));
  EXPECT_TRUE(rows["results"].empty());
}

TEST(ServerLimits, OversizedBodyIs413) {
  TestServer::Config cfg;
  cfg.max_body_bytes = 4096;
  TestServer srv(cfg);
  auto cli = srv.client();
  std::string big(8192, ' ');
  expect_error(cli.Post("/v1/results", bearer(testing::kToken), big, "application/json"), 413,
               "payload_too_large", "body");
  // The server is fine afterwards.
  EXPECT_EQ(srv.client().Get("/v1/health")->status, 200);
}

TEST_F(ServerTest, LongQueryIs414AndUnknownRoutes404) {
  expect_error(cli.Get("/v1/results?problem=" + std::string(5000, 'a')), 414, "uri_too_long");
  expect_error(cli.Get("/v2/best"), 404, "not_found");
  expect_error(cli.Get("/"), 404, "not_found");
  expect_error(cli.Get("/v1/jobs/"), 404, "not_found");
  expect_error(cli.Delete("/v1/results"), 405, "method_not_allowed");
  expect_error(cli.Post("/v1/best", "{}", "application/json"), 405, "method_not_allowed");
}

TEST_F(ServerTest, TuneWithoutCommandIs503AndValidatesFirst) {
  auto h = bearer(testing::kToken);
  expect_error(cli.Post("/v1/tune", "{}", "application/json"), 401, "unauthorized");
  expect_error(cli.Post("/v1/tune", h, R"({"problems": ["x"]})", "application/json"), 503, "unavailable");
}

TEST(ServerTune, QueuesJobAndReportsState) {
  TestServer::Config cfg;
  // The fake tuner prints progress and exits 0 ("attnjit tune" stands behind this in serve).
  cfg.tune_command = [](const TuneRequest& r) {
    return std::vector<std::string>{"/bin/sh", "-c", "echo '[1/2] " + r.problems[0] + "'; echo '[2/2] done'"};
  };
  TestServer srv(cfg);
  auto cli = srv.client();
  auto h = bearer(testing::kToken);
  expect_error(cli.Post("/v1/tune", h, "{\"problems\": [", "application/json"), 400, "malformed_json", "body");
  expect_error(cli.Post("/v1/tune", h, R"({"problems": []})", "application/json"), 400, "invalid_parameter", "problems");
  expect_error(cli.Post("/v1/tune", h, R"({"problems": ["prefill_x"]})", "application/json"), 400,
               "invalid_parameter", "problems[0]");
  expect_error(cli.Post("/v1/tune", h, R"({"problems": [")" + srv.seed.problem.key() + R"("], "budget": -1})",
                        "application/json"), 400, "invalid_parameter", "budget");
  expect_error(cli.Post("/v1/tune", h, R"({"problems": [")" + srv.seed.problem.key() + R"("], "priority": 1})",
                        "application/json"), 400, "unknown_parameter", "priority");

  auto r = cli.Post("/v1/tune", h, R"({"problems": [")" + srv.seed.problem.key() + R"("], "budget": 4})",
                    "application/json");
  json j = body_json(r);
  ASSERT_EQ(r->status, 202) << r->body;
  std::string id = j["id"];
  auto info = srv.api->jobs().wait(id, std::chrono::seconds(20));
  ASSERT_TRUE(info);
  json job = body_json(cli.Get("/v1/jobs/" + id));
  EXPECT_EQ(job["state"], "succeeded") << job.dump();
  EXPECT_EQ(job["progress"]["done"], 2);
  EXPECT_EQ(job["progress"]["total"], 2);
  EXPECT_EQ(job["budget"], 4);
  ASSERT_TRUE(job["result"]["best"].is_array());
  EXPECT_FALSE(job["result"]["best"].empty());  // the seeded best for the problem
  expect_error(cli.Get("/v1/jobs/job-0000000000000000"), 404, "not_found", "id");
  expect_error(cli.Get("/v1/jobs/bad%20id"), 400, "invalid_parameter", "id");
  std::string metrics = cli.Get("/metrics")->body;
  EXPECT_NE(metrics.find("attnjit_jobs{state=\"succeeded\"} 1"), std::string::npos) << metrics;
}

TEST(ServerTune, CrashingTunerFailsJobServerStaysUp) {
  TestServer::Config cfg;
  cfg.tune_command = [](const TuneRequest&) {
    return std::vector<std::string>{"/bin/sh", "-c", "echo compiling; kill -SEGV $$"};
  };
  TestServer srv(cfg);
  auto cli = srv.client();
  json j = body_json(cli.Post("/v1/tune", bearer(testing::kToken),
                              R"({"problems": [")" + srv.seed.problem.key() + R"("]})", "application/json"));
  auto info = srv.api->jobs().wait(j["id"], std::chrono::seconds(20));
  ASSERT_TRUE(info);
  json job = body_json(cli.Get("/v1/jobs/" + j["id"].get<std::string>()));
  EXPECT_EQ(job["state"], "failed");
  EXPECT_NE(job["error"].get<std::string>().find("SIGSEGV"), std::string::npos) << job.dump();
  EXPECT_EQ(cli.Get("/v1/health")->status, 200);
}

TEST_F(ServerTest, MetricsCountRequestsByRouteAndStatus) {
  cli.Get("/v1/health");
  cli.Get("/v1/best?problem=bad&device=sm_80");
  cli.Get("/nope");
  auto r = cli.Get("/metrics");
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0), 0u);
  const std::string& t = r->body;
  EXPECT_NE(t.find(R"(attnjit_http_requests_total{route="/v1/health",method="GET",status="200"} 1)"), std::string::npos) << t;
  EXPECT_NE(t.find(R"(attnjit_http_requests_total{route="/v1/best",method="GET",status="400"} 1)"), std::string::npos) << t;
  EXPECT_NE(t.find(R"(attnjit_http_requests_total{route="unmatched",method="other",status="404"} 1)"), std::string::npos) << t;
  EXPECT_NE(t.find(R"(attnjit_http_request_duration_seconds_count{route="/v1/health",method="GET",status="200"} 1)"), std::string::npos) << t;
}

}  // namespace
}  // namespace attnjit::service
