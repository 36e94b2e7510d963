// Test helpers for the service: a temp directory, a tuning database seeded through the real
// Database API, and a real HttpServer on an ephemeral loopback port running in a thread.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "codegen/kernel_template.h"
#include "codegen/registry.h"
#include "db/database.h"
#include "db/json_codec.h"
#include "service/api.h"
#include "service/server.h"

namespace attnjit::service::testing {

inline constexpr const char* kToken = "test-token-0123456789abcdef";

// mkdtemp directory removed (recursively) on destruction.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "attnjit-svc-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// A tuned GPU problem on an sm_80 device, with two measured configs (the faster one is best)
// when the template's search space has two, plus a failed candidate.
struct Seed {
  ProblemSpec problem = ProblemSpec::parse("prefill_bf16_hd128_causal_g1_q1024_k1024");
  Target target = Target::cuda("sm_80");
  DeviceInfo device;
  std::string template_hash, template_name;
  TileConfig fast, slow;
  TileConfig other;  // a third legal config (== slow when the space is that small)
  double fast_ms = 1.25;

  Seed() {
    device = DeviceInfo::from_target(target, "nvrtc-13.0", "580.65.06", int64_t(80) << 30);
    device.name = "NVIDIA A100-SXM4-80GB";
    device.sm_count = 108;
    device.cc_major = 8;
    device.cc_minor = 0;
    const KernelTemplate& t = select_template(problem, target);
    template_hash = t.version_hash();
    template_name = std::string(t.name());
    slow = t.default_config(problem, target);
    fast = slow;
    other = slow;
    for (const auto& c : t.search_space(problem, target)) {
      if (c == slow) continue;
      if (fast == slow) fast = c;
      else if (!(c == fast)) { other = c; break; }
    }
  }

  TuningResult result(const TileConfig& cfg, double ms, ResultStatus st = ResultStatus::Ok) const {
    TuningResult r;
    r.device = device.fingerprint();
    r.problem = problem.key();
    r.template_name = template_name;
    r.template_hash = template_hash;
    r.config = cfg.key();
    r.status = st;
    if (st == ResultStatus::Ok) {
      r.median_ms = r.min_ms = r.max_ms = ms;
      r.runs = 10;
      r.tflops = 123.0;
    } else {
      r.error = "ptxas: too many resources requested";
    }
    r.measured_at_ms = 1'700'000'000'000;
    r.tuner_version = "test";
    return r;
  }

  void write(Database& db) const {
    db.upsert_device(device);
    db.upsert_template(TemplateInfo{template_hash, template_name, "prefill", "test"});
    db.record_result(result(slow, fast_ms * 2));
    if (!(fast == slow)) db.record_result(result(fast, fast_ms));
    TileConfig broken = slow;
    broken.stages = slow.stages + 7;  // a distinct key; status says it failed
    db.record_result(result(broken, 0, ResultStatus::CompileError));
  }

  // One JSON Lines import line for a new config measurement.
  std::string export_line(const TileConfig& cfg, double ms, int64_t measured_at) const {
    TuningResult r = result(cfg, ms);
    r.measured_at_ms = measured_at;
    return attnjit::export_line(device, TemplateInfo{template_hash, template_name, "prefill", "test"}, r).dump();
  }
};

// Options of an Api whose handlers a test calls directly: the database at `db_path`, the test
// token, NVRTC reported absent (so nothing tries to compile).
inline Api::Options handler_options(const std::string& db_path, int db_readers) {
  Api::Options o;
  o.db_path = db_path;
  o.db_readers = db_readers;
  o.auth = TokenAuth(kToken);
  o.nvrtc_available = [](std::string* why) {
    if (why) *why = "not in this test";
    return false;
  };
  return o;
}

// Routes `method path` as the server does and calls its handler; a path with no route fails
// the test and answers an empty response.
inline ApiResponse call_route(Api& api, const std::string& method, const std::string& path, ApiRequest req = {}) {
  req.method = method;
  const Api::Route* r = api.match(method, path, req.path_params);
  EXPECT_NE(r, nullptr) << method << " " << path;
  return r ? api.call(*r, req) : ApiResponse{};
}

// Api + HttpServer on 127.0.0.1:<ephemeral>, serving from a thread.
class TestServer {
 public:
  struct Config {
    int threads = 16;
    size_t max_body_bytes = 1 << 20;
    std::function<std::vector<std::string>(const TuneRequest&)> tune_command;
    bool seed = true;
    bool nvrtc = true;
    int header_timeout_s = 5;
    int keep_alive_timeout_s = 5;
    int max_anonymous_compiles = 2;
    int compile_ms = 0;  // how long the fake compile takes
  };

  explicit TestServer(Config cfg) : TestServer(std::move(cfg), nullptr) {}
  TestServer() : TestServer(Config{}) {}

  TestServer(Config cfg, const TempDir* reuse) {
    db_path = (reuse ? reuse->file("tune.db") : dir.file("tune.db"));
    if (cfg.seed) {
      Database db = Database::open(db_path);
      seed.write(db);
    }
    Api::Options o;
    o.db_path = db_path;
    o.db_readers = cfg.threads;
    o.auth = TokenAuth(kToken);
    o.tune_command = cfg.tune_command;
    o.max_anonymous_compiles = cfg.max_anonymous_compiles;
    const int compile_ms = cfg.compile_ms;
    o.compile = [this, compile_ms](const KernelSource& src) {
      compiles.fetch_add(1);
      if (compile_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(compile_ms));
      CompiledCubin c;
      c.cubin = std::string("\x7f" "ELF-fake-cubin-for-", 19) + src.hash;
      c.lowered_name = "_Z6kernelv";
      c.compiler = "fake";
      return c;
    };
    bool nvrtc = cfg.nvrtc;
    o.nvrtc_available = [nvrtc](std::string* why) {
      if (!nvrtc && why) *why = "libnvrtc.so.13: not found (test)";
      return nvrtc;
    };
    api = std::make_unique<Api>(std::move(o));
    HttpServer::Options so;
    so.port = 0;
    so.threads = cfg.threads;
    so.max_body_bytes = cfg.max_body_bytes;
    so.header_timeout_s = cfg.header_timeout_s;
    so.keep_alive_timeout_s = cfg.keep_alive_timeout_s;
    server = std::make_unique<HttpServer>(*api, so);
    port = server->bind();
    thread = std::thread([this] { server->run(); });
  }

  ~TestServer() { stop(); }

  void stop() {
    if (server) server->stop();
    if (thread.joinable()) thread.join();
    if (api) api->shutdown();
  }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_keep_alive(true);
    c.set_read_timeout(std::chrono::seconds(20));
    c.set_connection_timeout(std::chrono::seconds(5));
    return c;
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }

  TempDir dir;
  Seed seed;
  std::string db_path;
  std::atomic<int> compiles{0};
  std::unique_ptr<Api> api;
  std::unique_ptr<HttpServer> server;
  int port = 0;
  std::thread thread;
};

// Metrics are recorded after the response is written, so a client can see its reply before the
// server counted it: wait (bounded) until the count reaches `at_least`, then return it.
inline uint64_t settled_count(Api& api, const std::string& route, const std::string& method, int status,
                              uint64_t at_least) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  uint64_t n = api.metrics().request_count(route, method, status);
  while (n < at_least && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    n = api.metrics().request_count(route, method, status);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // anything late shows up too
  return api.metrics().request_count(route, method, status);
}

inline nlohmann::json body_json(const httplib::Result& r) {
  EXPECT_TRUE(r) << "request failed: " << (r ? "" : httplib::to_string(r.error()));
  if (!r) return nullptr;
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r->body;
  return j;
}

// Asserts a JSON error reply with the status, code and (when given) field.
inline void expect_error(const httplib::Result& r, int status, const std::string& code,
                         const std::string& field = "") {
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, status) << r->body;
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  ASSERT_TRUE(j.is_object() && j.contains("error")) << r->body;
  EXPECT_EQ(j["error"].value("code", ""), code) << r->body;
  if (!field.empty()) EXPECT_EQ(j["error"].value("field", ""), field) << r->body;
  EXPECT_FALSE(j["error"].value("message", "").empty()) << r->body;
}

}  // namespace attnjit::service::testing
