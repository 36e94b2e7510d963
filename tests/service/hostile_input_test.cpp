// Hostile requests over a real socket, the same bytes as the reproductions in issue 14
// (failures 1, 2, 3, 7, 10 and the README's form-encoded curl examples): each was a crash, an
// unbounded read, a broken answer or a missing field before the guards in service/server.cpp.
#include <gtest/gtest.h>

#include <thread>

#include "raw_http.h"
#include "test_server.h"

namespace attnjit::service {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::chunk;
using testing::RawConn;
using testing::RawResponse;
using testing::raw_head;
using testing::TestServer;

const std::string kAuth = std::string("Authorization: Bearer ") + testing::kToken + "\r\n";

std::string post(const std::string& target, const std::string& headers, const std::string& body) {
  return raw_head("POST", target, headers + "Content-Length: " + std::to_string(body.size()) + "\r\n") + body;
}

void expect_json_error(const std::optional<RawResponse>& r, int status, const std::string& code,
                       const std::string& field) {
  ASSERT_TRUE(r) << "no reply";
  EXPECT_EQ(r->status, status) << r->body;
  json j = r->json();
  ASSERT_TRUE(j.is_object() && j.contains("error")) << r->body;
  EXPECT_EQ(j["error"].value("code", ""), code) << r->body;
  EXPECT_EQ(j["error"].value("field", ""), field) << r->body;
}

bool healthy(const TestServer& srv) {
  RawConn c(srv.port);
  c.send_all(raw_head("GET", "/v1/health", ""));
  auto r = c.read_response(5s);
  return r && r->status == 200;
}

// Failure 1: 70,000 nested arrays crashed the server (stack overflow in nlohmann::json).
TEST(Hostile, DeepJsonNestingIsRefusedNotACrash) {
  TestServer srv;
  const std::string deep = std::string(70000, '[') + std::string(70000, ']');
  for (const std::string target : {"/v1/results", "/v1/tune"}) {
    RawConn c(srv.port);
    ASSERT_TRUE(c.send_all(post(target, kAuth + "Content-Type: application/json\r\n", deep)));
    expect_json_error(c.read_response(), 400, "too_deep", "body");
  }
  // Inside an object and an NDJSON line too; strings full of brackets are not nesting.
  RawConn c(srv.port);
  std::string line = R"({"a": )" + std::string(100, '[') + std::string(100, ']') + "}\n";
  ASSERT_TRUE(c.send_all(post("/v1/results", kAuth, line)));
  expect_json_error(c.read_response(), 400, "too_deep", "body");
  EXPECT_TRUE(healthy(srv));
}

// Failure 2a: a chunked body from a client without a token must not be read at all.
TEST(Hostile, ChunkedBodyWithoutTokenIsRefusedBeforeItsBodyIsRead) {
  TestServer srv;
  RawConn c(srv.port);
  ASSERT_TRUE(c.send_all(raw_head("POST", "/v1/results", "Transfer-Encoding: chunked\r\n")));
  ASSERT_TRUE(c.send_all(chunk(std::string(4096, ' '))));
  // The answer comes while the body is still "being sent" (150 MB in the reproduction)...
  expect_json_error(c.read_response(5s), 401, "unauthorized", "Authorization");
  // ... and the connection is closed instead of draining the rest.
  EXPECT_TRUE(c.closed_by_peer(5s));
  EXPECT_TRUE(healthy(srv));
}

// Failure 2b: a chunked body over the limit (with the token) is a 413, not a parse error.
TEST(Hostile, ChunkedBodyOverTheLimitIs413) {
  TestServer::Config cfg;
  cfg.max_body_bytes = 1 << 20;
  TestServer srv(cfg);
  RawConn c(srv.port);
  ASSERT_TRUE(c.send_all(raw_head("POST", "/v1/results", kAuth + "Transfer-Encoding: chunked\r\n")));
  // 3 MiB in 64 KiB chunks; the server answers (and closes) once 1 MiB is exceeded, so later
  // sends may fail: that is the point.
  std::thread sender([&] {
    for (int i = 0; i < 48; ++i)
      if (!c.send_all(chunk(std::string(64 << 10, ' ')), 5s)) break;
  });
  auto r = c.read_response(20s);
  sender.join();
  expect_json_error(r, 413, "payload_too_large", "body");
  EXPECT_TRUE(healthy(srv));
}

// A well-formed chunked import within the limit still works.
TEST(Hostile, ChunkedBodyWithinTheLimitIsImported) {
  TestServer srv;
  TileConfig cfg = srv.seed.slow;
  cfg.order = 77;
  std::string line = srv.seed.export_line(cfg, 0.75, 1'800'000'000'000) + "\n";
  RawConn c(srv.port);
  ASSERT_TRUE(c.send_all(raw_head("POST", "/v1/results", kAuth + "Transfer-Encoding: chunked\r\n") +
                         chunk(line.substr(0, 10)) + chunk(line.substr(10)) + "0\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->json()["stored"], 1) << r->body;
}

// Failure 2c: a body with neither Content-Length nor chunked framing was read to EOF.
TEST(Hostile, BodyWithoutLengthIs411AtOnce) {
  TestServer srv;
  RawConn c(srv.port);
  ASSERT_TRUE(c.send_all(raw_head("POST", "/v1/results", kAuth) + "{\"partial\": "));
  // We never close our side: the answer must not wait for EOF.
  expect_json_error(c.read_response(5s), 411, "length_required", "Content-Length");
  EXPECT_TRUE(c.closed_by_peer(5s));
}

// Failure 2d: gzip / br request bodies were inflated without a cap (Debian's httplib has zlib
// and brotli): compressed bodies are refused from the header.
TEST(Hostile, CompressedBodiesAre415) {
  TestServer srv;
  for (const char* enc : {"gzip", "br", "deflate", "gzip, identity"}) {
    RawConn c(srv.port);
    // A few bytes of a would-be bomb: the server must answer from the headers alone.
    ASSERT_TRUE(c.send_all(post("/v1/results", kAuth + "Content-Encoding: " + enc + "\r\n", "\x1f\x8b\x08")));
    expect_json_error(c.read_response(), 415, "unsupported_media_type", "Content-Encoding");
  }
  EXPECT_TRUE(healthy(srv));
}

TEST(Hostile, OtherFramingTricksAreRefused) {
  TestServer srv;
  {
    RawConn c(srv.port);  // Content-Length and Transfer-Encoding together: request smuggling
    c.send_all(raw_head("POST", "/v1/results", kAuth + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n") + "0\r\n\r\n");
    expect_json_error(c.read_response(), 400, "bad_request", "Content-Length");
  }
  {
    RawConn c(srv.port);
    c.send_all(raw_head("POST", "/v1/results", kAuth + "Transfer-Encoding: gzip, chunked\r\n"));
    expect_json_error(c.read_response(), 501, "not_implemented", "Transfer-Encoding");
  }
  {
    RawConn c(srv.port);
    c.send_all(raw_head("POST", "/v1/results", kAuth + "Content-Length: 18446744073709551617\r\n"));
    expect_json_error(c.read_response(), 400, "bad_request", "Content-Length");
  }
  {
    RawConn c(srv.port);  // over the limit by its declared length: nothing is read
    c.send_all(raw_head("POST", "/v1/results", kAuth + "Content-Length: 157286400\r\n"));
    expect_json_error(c.read_response(), 413, "payload_too_large", "body");
    EXPECT_TRUE(c.closed_by_peer(5s));
  }
  {
    RawConn c(srv.port);  // a GET with a body: refused, never parsed as the next request
    c.send_all(raw_head("GET", "/v1/health", "Content-Length: 38\r\n") + "GET /v1/devices HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_json_error(c.read_response(), 400, "body_not_allowed", "body");
    EXPECT_TRUE(c.closed_by_peer(5s));
  }
  {
    RawConn c(srv.port);
    c.send_all(post("/v1/results", kAuth + "Content-Type: multipart/form-data; boundary=x\r\n", "--x--\r\n"));
    expect_json_error(c.read_response(), 415, "unsupported_media_type", "Content-Type");
  }
}

// Failure 3: Range cut JSON answers into byte ranges (or multiplied them 1000-fold).
TEST(Hostile, RangeHeadersDoNotApplyToApiAnswers) {
  TestServer srv;
  const std::string target = "/v1/results?limit=100";
  RawConn plain(srv.port);
  plain.send_all(raw_head("GET", target, ""));
  auto full = plain.read_response();
  ASSERT_TRUE(full);
  ASSERT_EQ(full->status, 200);
  std::string many = "bytes=0-";
  for (int i = 0; i < 999; ++i) many += ",0-";
  for (const std::string& range : std::vector<std::string>{"bytes=0-10", many, "bytes=abc", "bytes=5-1", "items=0-1"}) {
    RawConn c(srv.port);
    c.send_all(raw_head("GET", target, "Range: " + range + "\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r) << range.substr(0, 20);
    EXPECT_EQ(r->status, 200) << range.substr(0, 20);
    EXPECT_EQ(r->body, full->body) << range.substr(0, 20);
    EXPECT_EQ(r->header("content-range"), "");
    EXPECT_FALSE(r->json().is_discarded());
  }
  // Lower-case and repeated headers too.
  RawConn c(srv.port);
  c.send_all(raw_head("GET", "/v1/health", "range: bytes=0-3\r\nRANGE: bytes=1-2\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_FALSE(r->json().is_discarded()) << r->body;
}

// Failure 7: every 400 names its field, and no message echoes a large value.
TEST(Hostile, Every400NamesAFieldAndEchoesNothingLarge) {
  TestServer srv;
  const std::string decode = "decode_bf16_hd128_none_g8_q1_k32768_p0";
  const std::string prefill = srv.seed.problem.key();
  const std::vector<std::pair<std::string, std::string>> gets = {
      {"/v1/kernel?problem=" + decode + "&arch=sm_80&batch=65536", "batch"},
      {"/v1/kernel?problem=prefill_bf16_hd128_causal_g64_q1024_k1024&arch=sm_80&heads_kv=2048&heads_q=131072",
       "heads_q"},
      {"/v1/kernel?problem=" + prefill + "&arch=sm_80&batch=65536", "batch"},
      {"/v1/kernel?problem=" + prefill + "&arch=sm_80&seqlen_q=4611686018427387904", "seqlen_q"},
      {"/v1/kernel?problem=prefill_bf16_hd128_causal_g1_q4611686018427387904_k4611686018427387904&arch=sm_80",
       "problem"},
      {"/v1/kernel?problem=decode_bf16_hd128_none_g8_q1_k4611686018427387904_p0&arch=sm_80", "problem"},
      {"/v1/best?problem=prefill_bf16_hd4294967424_causal_g1_q1024_k1024&device=sm_80", "problem"},
      {"/v1/best?problem=prefill_bf16_hd128_causal_g4294967297_q1024_k1024&device=sm_80", "problem"},
      {"/v1/results?seqlen_q=99999999999999999999", "seqlen_q"},
  };
  for (const auto& [target, field] : gets) {
    RawConn c(srv.port);
    c.send_all(raw_head("GET", target, ""));
    auto r = c.read_response();
    ASSERT_TRUE(r) << target;
    EXPECT_EQ(r->status, 400) << target << " -> " << r->body;
    json j = r->json();
    ASSERT_TRUE(j.contains("error")) << target << " -> " << r->body.substr(0, 300);
    EXPECT_EQ(j["error"].value("field", ""), field) << target << " -> " << r->body;
  }
  // A 2 MiB value in a body is not sent back.
  TestServer::Config big;
  big.max_body_bytes = 8 << 20;
  big.tune_command = [](const TuneRequest&) { return std::vector<std::string>{"/bin/true"}; };
  TestServer srv2(big);
  const std::string huge(2 << 20, 'a');
  for (const auto& [target, body] : std::vector<std::pair<std::string, std::string>>{
           {"/v1/tune", R"({"problems": [")" + huge + R"("]})"},
           {"/v1/tune", R"({")" + huge + R"(": 1})"},
           {"/v1/results", R"({"version": 1, "device": {"target": ")" + huge + R"("}})" "\n"}}) {
    RawConn c(srv2.port);
    c.send_all(post(target, kAuth, body));
    auto r = c.read_response();
    ASSERT_TRUE(r) << target;
    EXPECT_GE(r->status, 400) << r->body.substr(0, 200);
    EXPECT_LT(r->status, 600);
    EXPECT_LT(r->body.size(), 2048u) << r->body.substr(0, 200);
    json j = r->json();
    ASSERT_TRUE(j.contains("error")) << r->body.substr(0, 300);
    EXPECT_FALSE(j["error"].value("field", "").empty()) << r->body.substr(0, 300);
  }
}

// Pipelined requests in one packet are answered in order, and the connection stays open.
TEST(Hostile, PipelinedRequestsAreAnsweredInOrder) {
  TestServer srv;
  RawConn c(srv.port);
  c.send_all(raw_head("GET", "/v1/health", "") + raw_head("GET", "/v1/devices", "") + raw_head("GET", "/nope", ""));
  auto a = c.read_response(), b = c.read_response(), n = c.read_response();
  ASSERT_TRUE(a && b && n);
  EXPECT_EQ(a->json()["status"], "ok");
  EXPECT_TRUE(b->json().contains("devices"));
  EXPECT_EQ(n->status, 404);
  c.send_all(raw_head("GET", "/v1/health", ""));
  auto again = c.read_response();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
}

// The README's curl examples send JSON with curl's default form content type: the body is
// JSON whatever the declared type (and a 17 KB NDJSON import is not a bogus 413).
TEST(Hostile, FormContentTypeBodiesAreReadAsJson) {
  TestServer::Config cfg;
  cfg.tune_command = [](const TuneRequest&) { return std::vector<std::string>{"/bin/true"}; };
  TestServer srv(cfg);
  const std::string form = "Content-Type: application/x-www-form-urlencoded\r\n";
  {
    RawConn c(srv.port);
    c.send_all(post("/v1/tune", kAuth + form, R"({"problems": [")" + srv.seed.problem.key() + R"("], "budget": 20})"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 202) << r->body;
  }
  std::string lines;
  for (int i = 0; lines.size() < 17000; ++i) {
    TileConfig t = srv.seed.slow;
    t.order = 500 + i;
    lines += srv.seed.export_line(t, 1.0 + i, 1'800'000'000'000) + "\n";
  }
  RawConn c(srv.port);
  c.send_all(post("/v1/results", kAuth + form, lines));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_GT(r->json().value("stored", 0), 20) << r->body;
}

}  // namespace
}  // namespace attnjit::service
