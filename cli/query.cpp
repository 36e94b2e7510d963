// `attnjit query`: ask a tuning server (service/client.h) from the shell.
//   attnjit query health  --server URL
//   attnjit query best    --server URL --problem KEY --arch sm_90a|cpu-NAME [--device FINGERPRINT]
//   attnjit query kernel  --server URL --problem KEY --arch ARCH [--config KEY] [--cubin-out F] [--source-out F]
//   attnjit query results --server URL [--problem KEY] [--device FP] [--target T] [--status S] [--limit N] [--after ID]
// Output is JSON on stdout. best / kernel fall back to the local default when the server is
// unreachable and say so ("from_server": false); the others fail with exit code 1.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>

#include "cli/command.h"
#include "codegen/kernel_template.h"
#include "service/client.h"
#include "service/target_key.h"

namespace attnjit::cli {
namespace {

using nlohmann::json;

struct QueryArgs {
  std::string server;
  int timeout_ms = 5000;
  std::string problem, arch, device, config, cubin_out, source_out;
  std::string target, status;
  int limit = 100;
  int64_t after = 0;
};

service::Client make_client(const QueryArgs& a) {
  service::Client::Options o;
  o.server = a.server;
  if (o.server.empty()) {
    const char* env = std::getenv("ATTNJIT_SERVER");
    o.server = env && *env ? env : "http://127.0.0.1:8080";
  }
  o.timeout = std::chrono::milliseconds(a.timeout_ms);
  o.connect_timeout = std::chrono::milliseconds(std::min(a.timeout_ms, 2000));
  try {
    return service::Client(o);
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--") + e.what());
  }
}

void print(const json& j) { std::cout << j.dump(2) << std::endl; }

// Server-side rejections are the caller's bad input: exit code 2 with the server's message.
template <class F>
void with_client_errors(F f) {
  try {
    f();
  } catch (const service::ClientError& e) {
    throw UsageError("server rejected the request (" + std::to_string(e.status) + " " + e.code +
                     (e.field.empty() ? "" : ", field " + e.field) + "): " + e.what());
  }
}

void run_best(const QueryArgs& a) {
  auto spec = ProblemSpec::parse(a.problem);
  auto target = service::target_from_key(a.arch);
  auto client = make_client(a);
  with_client_errors([&] {
    auto b = client.best(spec, target, a.device);
    if (!b.from_server) std::fprintf(stderr, "attnjit query: %s\n", b.explanation.c_str());
    print({{"problem", b.problem}, {"target", b.target}, {"config", b.config.key()}, {"why", b.why},
           {"explanation", b.explanation}, {"template", {{"name", b.template_name}, {"hash", b.template_hash}}},
           {"measured", b.measured}, {"from_server", b.from_server}, {"fallback_reason", b.fallback_reason}});
  });
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot open '" + path + "' for writing");
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("writing '" + path + "' failed");
}

void run_kernel(const QueryArgs& a) {
  auto spec = ProblemSpec::parse(a.problem);
  auto target = service::target_from_key(a.arch);
  std::optional<TileConfig> cfg;
  if (!a.config.empty()) cfg = TileConfig::parse(a.config);
  auto client = make_client(a);
  with_client_errors([&] {
    auto k = client.kernel(spec, target, cfg, !a.cubin_out.empty());
    if (!k.from_server) std::fprintf(stderr, "attnjit query: %s\n", k.explanation.c_str());
    if (!a.source_out.empty()) write_file(a.source_out, k.source.text);
    if (!a.cubin_out.empty()) {
      if (k.cubin.empty()) throw std::runtime_error("no CUBIN: " + (k.fallback_reason.empty() ? std::string("server sent none") : k.fallback_reason));
      write_file(a.cubin_out, k.cubin);
    }
    const auto& g = k.geometry;
    print({{"problem", k.problem}, {"arch", k.arch}, {"config", k.config.key()}, {"why", k.why},
           {"explanation", k.explanation}, {"entry", k.source.entry}, {"lowered_name", k.lowered_name},
           {"hash", k.source.hash}, {"source_bytes", k.source.text.size()}, {"cubin_bytes", k.cubin.size()},
           {"grid", {g.grid[0], g.grid[1], g.grid[2]}}, {"block", {g.block[0], g.block[1], g.block[2]}},
           {"dynamic_smem", g.dynamic_smem}, {"from_server", k.from_server},
           {"fallback_reason", k.fallback_reason}});
  });
}

void run_results(const QueryArgs& a) {
  std::map<std::string, std::string> f;
  if (!a.problem.empty()) f["problem"] = a.problem;
  if (!a.device.empty()) f["device"] = a.device;
  if (!a.target.empty()) f["target"] = a.target;
  if (!a.status.empty()) f["status"] = a.status;
  if (!a.config.empty()) f["config"] = a.config;
  f["limit"] = std::to_string(a.limit);
  if (a.after != 0) f["after"] = std::to_string(a.after);  // the server judges the value
  auto client = make_client(a);
  with_client_errors([&] { print(client.results(f)); });
}

void run_health(const QueryArgs& a) {
  auto client = make_client(a);
  with_client_errors([&] { print(client.health()); });
}

const RegisterCommand reg("query", [](CLI::App& app) {
  auto a = std::make_shared<QueryArgs>();
  auto* q = app.add_subcommand("query", "Ask a tuning server (attnjit serve) for configs, kernels, results");
  q->require_subcommand(1);
  auto common = [a](CLI::App* c) {
    c->add_option("--server", a->server, "server URL (default: $ATTNJIT_SERVER or http://127.0.0.1:8080)");
    c->add_option("--timeout-ms", a->timeout_ms, "per-request timeout")->capture_default_str()->check(CLI::Range(1, 600000));
  };
  auto* best = q->add_subcommand("best", "The config to run for a problem (falls back to the local default)");
  common(best);
  best->add_option("--problem", a->problem, "problem key")->required();
  best->add_option("--arch", a->arch, "target: sm_80 | sm_86 | sm_89 | sm_90a | cpu-<name>")->required();
  best->add_option("--device", a->device, "device fingerprint (default: any device of the arch)");
  best->callback([a] { run_best(*a); });

  auto* kernel = q->add_subcommand("kernel", "Generated source, launch geometry and (optionally) the CUBIN");
  common(kernel);
  kernel->add_option("--problem", a->problem, "problem key")->required();
  kernel->add_option("--arch", a->arch, "target arch")->required();
  kernel->add_option("--config", a->config, "tile config (default: the server's pick)");
  kernel->add_option("--cubin-out", a->cubin_out, "fetch the server-compiled CUBIN into this file");
  kernel->add_option("--source-out", a->source_out, "write the generated source to this file");
  kernel->callback([a] { run_kernel(*a); });

  auto* results = q->add_subcommand("results", "Tuning results, one page (follow next_cursor with --after)");
  common(results);
  results->add_option("--problem", a->problem, "problem key");
  results->add_option("--device", a->device, "device fingerprint");
  results->add_option("--target", a->target, "device target key");
  results->add_option("--status", a->status, "ok | compile_error | launch_error | wrong_result | timeout");
  results->add_option("--config", a->config, "tile config key");
  results->add_option("--limit", a->limit, "rows per page")->capture_default_str()->check(CLI::Range(1, 1000));
  results->add_option("--after", a->after, "cursor from the previous page")->check(CLI::NonNegativeNumber);
  results->callback([a] { run_results(*a); });

  auto* health = q->add_subcommand("health", "Server health");
  common(health);
  health->callback([a] { run_health(*a); });
});

}  // namespace
}  // namespace attnjit::cli
