// The service and snippets (threat model in codegen/snippet.h): snippet text never comes in
// over HTTP except in a token-authenticated import; /v1/kernel for a problem whose snippet the
// database lacks is a 404 naming it; once imported, the kernel is served with the text in it;
// service tuning jobs refuse snippet problems.
#include <gtest/gtest.h>

#if defined(ATTNJIT_WITH_SERVICE)
#include <sstream>

#include "codegen/snippet.h"
#include "db/db_test_util.h"
#include "service/api.h"
#include "service/raw_http.h"
#include "service/test_server.h"

namespace attnjit::service {
namespace {

using nlohmann::json;

// An export line for a CPU problem with a mask_mod: its key, the snippet's hash and the JSONL text.
std::string exported(std::string& key, const std::string& snippet, std::string* hash = nullptr, bool decode = false) {
  Database db = Database::open(":memory:");
  const std::string h = db.put_snippet(snippet);
  if (hash) *hash = h;
  key = decode ? "decode_f32_hd64_none_mm" + h + "_g4_q2_k128_p16" : "prefill_f32_hd64_none_mm" + h + "_g1_q128_k128";
  const DeviceInfo dev = attnjit::testing::gpu();
  db.upsert_device(dev);
  db.upsert_template({attnjit::testing::kTemplateHash, "prefill_sm80", "prefill", "0.1.0"});
  db.record_result(attnjit::testing::ok_result(dev, key, "bm128_bn64_w4_s2", 1.0, 1'700'000'000'000));
  std::ostringstream out;
  db.export_jsonl(out);
  return out.str();
}

class SnippetService : public ::testing::Test {
 protected:
  SnippetService() {
    { Database db = Database::open(dir.file("s.db")); }
    Api::Options o = testing::handler_options(dir.file("s.db"), 1);
    o.tune_command = [](const TuneRequest&) { return std::vector<std::string>{"/bin/false"}; };
    api = std::make_unique<Api>(std::move(o));
  }
  ApiResponse call(const std::string& method, const std::string& path, ApiRequest req = {}) {
    return testing::call_route(*api, method, path, std::move(req));
  }
  testing::TempDir dir;
  std::unique_ptr<Api> api;
};

TEST_F(SnippetService, KernelNeedsTheSnippetInTheDatabase) {
  const std::string snippet = "return (q_idx / 7) == (kv_idx / 7); // service test";
  std::string key;
  const std::string body = exported(key, snippet);
  const std::string cpu = Target::cpu("icelake-client", "+avx2,+avx512f", 512).key();
  ApiRequest k;
  k.params = {{"problem", key}, {"arch", cpu}};
  ApiResponse res = call("GET", "/v1/kernel", k);
  ASSERT_EQ(res.status, 404) << res.body;  // this process knows the text; the database does not
  EXPECT_EQ(json::parse(res.body)["error"]["code"], "unknown_snippet");
  EXPECT_EQ(json::parse(res.body)["error"]["field"], "problem");

  // Without the token the import is refused before its body is looked at.
  ApiRequest anon;
  anon.body = body;
  EXPECT_EQ(call("POST", "/v1/results", anon).status, 401);
  // A forged text is refused as a whole.
  json line = json::parse(body.substr(0, body.find('\n')));
  const std::string h = ProblemSpec::parse(key).mask_mod;
  line["snippets"][h] = "return true;";
  ApiRequest forged;
  forged.authorization = std::string("Bearer ") + testing::kToken;
  forged.body = line.dump() + "\n";
  res = call("POST", "/v1/results", forged);
  EXPECT_EQ(res.status, 400) << res.body;
  EXPECT_NE(res.body.find("hashes to"), std::string::npos) << res.body;
  EXPECT_EQ(call("GET", "/v1/kernel", k).status, 404);

  ApiRequest imp = forged;
  imp.body = body;
  res = call("POST", "/v1/results", imp);
  ASSERT_EQ(res.status, 200) << res.body;
  res = call("GET", "/v1/kernel", k);
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_NE(json::parse(res.body)["source"].get<std::string>().find("(q_idx / 7) == (kv_idx / 7); // service test"),
            std::string::npos);
}

// Decode keys follow the same rule: 404 until a token import brings the text, then served.
TEST_F(SnippetService, DecodeKernelNeedsTheSnippetInTheDatabase) {
  const std::string snippet = "return kv_idx % 4 != 1; // decode service test";
  std::string key;
  const std::string body = exported(key, snippet, nullptr, true);
  ApiRequest k;
  k.params = {{"problem", key}, {"arch", Target::cpu("icelake-client", "+avx2,+avx512f", 512).key()}};
  ApiResponse res = call("GET", "/v1/kernel", k);
  ASSERT_EQ(res.status, 404) << res.body;
  EXPECT_EQ(json::parse(res.body)["error"]["code"], "unknown_snippet");
  ApiRequest imp;
  imp.authorization = std::string("Bearer ") + testing::kToken;
  imp.body = body;
  ASSERT_EQ(call("POST", "/v1/results", imp).status, 200);
  res = call("GET", "/v1/kernel", k);
  ASSERT_EQ(res.status, 200) << res.body;
  const std::string src = json::parse(res.body)["source"].get<std::string>();
  EXPECT_NE(src.find("return kv_idx % 4 != 1; // decode service test"), std::string::npos) << src;
  EXPECT_NE(src.find("using UserMods"), std::string::npos) << src;
}

TEST_F(SnippetService, TuningJobsRefuseSnippetProblems) {
  ApiRequest t;
  t.authorization = std::string("Bearer ") + testing::kToken;
  t.body = json{{"problems", {"prefill_f32_hd64_none_mm0123456789abcdef_g1_q128_k128"}}}.dump();
  t.content_type = "application/json";
  ApiResponse res = call("POST", "/v1/tune", t);
  EXPECT_EQ(res.status, 400) << res.body;
  EXPECT_EQ(json::parse(res.body)["error"]["field"], "problems[0]");
}


// The same paths over a real socket, as a hostile client would use them: nothing is read or
// stored before the token, an oversized snippet is a 413, a forged or malformed one a 400
// naming it, and only a genuine token import makes the kernel servable.
TEST(SnippetServiceSocket, HostileSnippetRequestsOverARealSocket) {
  testing::TestServer srv;
  httplib::Client c = srv.client();
  const std::string snippet = "return (q_idx / 5) == (kv_idx / 5); // socket test";
  std::string key, h;
  const std::string body = exported(key, snippet, &h);
  const std::string kernel = "/v1/kernel?problem=" + key + "&arch=" +
                             Target::cpu("icelake-client", "+avx2,+avx512f", 512).key();
  const httplib::Headers auth = {{"Authorization", std::string("Bearer ") + testing::kToken}};
  auto kernel_status = [&] {
    auto r = c.Get(kernel);
    return r ? r->status : -1;
  };

  ASSERT_EQ(kernel_status(), 404);
  auto r = c.Post("/v1/results", body, "application/x-ndjson");  // no token
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401) << r->body;
  EXPECT_EQ(kernel_status(), 404);

  json line = json::parse(body.substr(0, body.find('\n')));
  {  // a 2 MiB snippet: over the 1 MiB body limit by its declared length, answered unread
    line["snippets"][h] = std::string(2u << 20, 'x');
    const std::string huge = line.dump() + "\n";
    testing::RawConn raw(srv.port);
    raw.send_all(testing::raw_head("POST", "/v1/results",
                                   std::string("Authorization: Bearer ") + testing::kToken +
                                       "\r\nContent-Type: application/x-ndjson\r\nContent-Length: " +
                                       std::to_string(huge.size()) + "\r\n"));
    const auto resp = raw.read_response();
    ASSERT_TRUE(resp);
    EXPECT_EQ(resp->status, 413);
  }
  line["snippets"][h] = "return true;";  // forged: does not hash to the key's name
  r = c.Post("/v1/results", auth, line.dump() + "\n", "application/x-ndjson");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("hashes to"), std::string::npos) << r->body;
  EXPECT_EQ(kernel_status(), 404);

  r = c.Get("/v1/kernel?problem=prefill_f32_hd64_none_mmNOTAHASH_g1_q128_k128&arch=sm_80");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("mask_mod"), std::string::npos) << r->body;

  r = c.Post("/v1/results", auth, body, "application/x-ndjson");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(kernel_status(), 200);
}

}  // namespace
}  // namespace attnjit::service
#endif
