// The handlers called directly, without sockets: routing, auth and the one error mapping.
#include "codegen/registry.h"
#include "service/api.h"

#include <gtest/gtest.h>

#include "test_server.h"

namespace attnjit::service {
namespace {

using nlohmann::json;

class ApiTest : public ::testing::Test {
 protected:
  ApiTest() {
    {
      Database db = Database::open(dir.file("tune.db"));
      seed.write(db);
    }
    api = std::make_unique<Api>(testing::handler_options(dir.file("tune.db"), 2));
  }

  ApiResponse call(const std::string& method, const std::string& path, ApiRequest req = {}) {
    return testing::call_route(*api, method, path, std::move(req));
  }

  testing::TempDir dir;
  testing::Seed seed;
  std::unique_ptr<Api> api;
};

TEST_F(ApiTest, RoutesMatchPatternsAndMethods) {
  std::map<std::string, std::string> pp;
  bool known = false;
  const Api::Route* r = api->match("GET", "/v1/jobs/job-1", pp, &known);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->pattern, "/v1/jobs/{id}");
  EXPECT_EQ(pp["id"], "job-1");
  EXPECT_EQ(api->match("GET", "/v1/jobs/a/b", pp, &known), nullptr);
  EXPECT_EQ(api->match("PUT", "/v1/results", pp, &known), nullptr);
  EXPECT_TRUE(known);
  EXPECT_EQ(api->match("GET", "/v1/bestx", pp, &known), nullptr);
  EXPECT_FALSE(known);
  EXPECT_TRUE(api->match("POST", "/v1/tune", pp)->write);
  EXPECT_FALSE(api->match("GET", "/v1/best", pp)->write);
}

TEST_F(ApiTest, BestHandlerReturnsPlainJson) {
  ApiRequest req;
  req.params = {{"problem", seed.problem.key()}, {"device", seed.device.fingerprint()}};
  ApiResponse res = call("GET", "/v1/best", req);
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.content_type, "application/json");
  json j = json::parse(res.body);
  EXPECT_EQ(j["config"], seed.fast.key());
  EXPECT_EQ(j["why"], "exact");
}

TEST_F(ApiTest, ErrorsBecomeOneJsonForm) {
  ApiRequest req;
  req.params = {{"problem", "decode_bf16"}, {"device", "sm_80"}};
  ApiResponse res = call("GET", "/v1/best", req);
  EXPECT_EQ(res.status, 400);
  json e = json::parse(res.body)["error"];
  EXPECT_EQ(e["code"], "invalid_parameter");
  EXPECT_EQ(e["field"], "problem");

  ApiRequest write;
  write.body = "[]";
  res = call("POST", "/v1/results", write);
  EXPECT_EQ(res.status, 401);
  EXPECT_EQ(json::parse(res.body)["error"]["field"], "Authorization");

  ApiRequest cubin;
  cubin.params = {{"problem", seed.problem.key()}, {"arch", "sm_80"}, {"cubin", "1"}};
  res = call("GET", "/v1/kernel", cubin);
  EXPECT_EQ(res.status, 503);
  EXPECT_NE(res.body.find("not in this test"), std::string::npos);
}

TEST_F(ApiTest, KernelForCpuTargetHasSourceButNoCubin) {
  ProblemSpec p = ProblemSpec::parse("prefill_f32_hd64_causal_g1_q128_k128");
  Target cpu = Target::cpu("icelake-client", "+avx2,+avx512f", 512);
  ApiRequest req;
  req.params = {{"problem", p.key()}, {"arch", cpu.key()}};
  ApiResponse res = call("GET", "/v1/kernel", req);
  ASSERT_EQ(res.status, 200) << res.body;
  json j = json::parse(res.body);
  EXPECT_EQ(j["why"], "default");
  EXPECT_FALSE(j["source"].get<std::string>().empty());
  req.params.emplace("cubin", "1");
  res = call("GET", "/v1/kernel", req);
  EXPECT_EQ(res.status, 400);
  EXPECT_EQ(json::parse(res.body)["error"]["field"], "cubin");
}

}  // namespace
}  // namespace attnjit::service

namespace attnjit::service {
namespace {

// A CPU target key carries no vector width: /v1/best must judge a stored AVX-512 config with
// the ISA of the device that measured it, not reject it under a 256-bit default.
TEST(ApiCpuTarget, TargetKeyUsesTheStoredDevicesIsa) {
  testing::TempDir dir;
  ProblemSpec p = ProblemSpec::parse("prefill_f32_hd64_causal_g1_q128_k128_even");
  Target wide = Target::cpu("icelake-client", "+avx,+avx2,+avx512f", 512);
  Target narrow = Target::cpu("icelake-client", "", 256);
  const KernelTemplate& t = select_template(p, wide);
  std::optional<TileConfig> wide_only;
  for (const auto& c : t.search_space(p, wide))
    if (t.can_implement(p, c, narrow).has_value()) { wide_only = c; break; }
  if (!wide_only) GTEST_SKIP() << "the CPU template has no config that needs 512-bit vectors";
  DeviceInfo d = DeviceInfo::from_target(wide, "llvm-14.0.6", "", int64_t(8) << 30);
  {
    Database db = Database::open(dir.file("tune.db"));
    db.upsert_device(d);
    TuningResult r;
    r.device = d.fingerprint();
    r.problem = p.key();
    r.template_name = std::string(t.name());
    r.template_hash = t.version_hash();
    r.config = wide_only->key();
    r.median_ms = r.min_ms = r.max_ms = 1.0;
    r.runs = 5;
    r.measured_at_ms = 1'700'000'000'000;
    db.record_result(r);
  }
  Api::Options o;
  o.db_path = dir.file("tune.db");
  o.nvrtc_available = [](std::string*) { return false; };
  Api api(std::move(o));
  ApiRequest req;
  req.params = {{"problem", p.key()}, {"device", wide.key()}};
  std::map<std::string, std::string> pp;
  ApiResponse res = api.call(*api.match("GET", "/v1/best", pp), req);
  ASSERT_EQ(res.status, 200) << res.body;
  auto j = nlohmann::json::parse(res.body);
  EXPECT_EQ(j["why"], "same_arch") << res.body;
  EXPECT_EQ(j["config"], wide_only->key()) << res.body;
}

}  // namespace
}  // namespace attnjit::service

#include "runtime/nvrtc_compiler.h"
#include "service/base64.h"

namespace attnjit::service {
namespace {

// The production compile path (attnjit::Nvrtc; no GPU needed): a real CUBIN, compiled once.
TEST(ApiNvrtc, KernelCubinIsARealElfAndCached) {
  std::string why;
  if (!Nvrtc::available(&why)) GTEST_SKIP() << "NVRTC not available: " << why;
  testing::TempDir dir;
  Api::Options o;
  o.db_path = dir.file("tune.db");
  Api api(std::move(o));
  ApiRequest req;
  req.params = {{"problem", "prefill_bf16_hd128_causal_g1_q1024_k1024"}, {"arch", "sm_80"}, {"cubin", "1"},
                {"source", "0"}};
  std::map<std::string, std::string> pp;
  const Api::Route& route = *api.match("GET", "/v1/kernel", pp);
  ApiResponse first = api.call(route, req);
  ASSERT_EQ(first.status, 200) << first.body;
  auto j = nlohmann::json::parse(first.body);
  std::string cubin = base64_decode(j["cubin"]["base64"].get<std::string>());
  EXPECT_EQ(cubin.substr(0, 4), "\x7f" "ELF");
  EXPECT_FALSE(j["cubin"]["lowered_name"].get<std::string>().empty());
  EXPECT_GT(j["cubin"]["resources"]["registers"].get<int>(), 0);
  auto again = nlohmann::json::parse(api.call(route, req).body);
  EXPECT_EQ(again["cubin"]["cached"], true);
  EXPECT_EQ(api.metrics().kernel_cache_misses(), 1u);
  EXPECT_EQ(api.metrics().kernel_cache_hits(), 1u);
}

}  // namespace
}  // namespace attnjit::service
