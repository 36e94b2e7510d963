// The handlers called directly, without sockets: routing, auth and the one error mapping.
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
    Api::Options o;
    o.db_path = dir.file("tune.db");
    o.db_readers = 2;
    o.auth = TokenAuth(testing::kToken);
    o.nvrtc_available = [](std::string* why) {
      if (why) *why = "not in this test";
      return false;
    };
    api = std::make_unique<Api>(std::move(o));
  }

  ApiResponse call(const std::string& method, const std::string& path, ApiRequest req = {}) {
    req.method = method;
    const Api::Route* r = api->match(method, path, req.path_params);
    EXPECT_NE(r, nullptr) << method << " " << path;
    if (!r) return {};
    return api->call(*r, req);
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
