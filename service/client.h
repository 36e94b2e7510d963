// Client: what an application links to ask a tuning server for configs and kernels.
//
// Answers are cached in memory (per client, with a TTL) so a hot path asks the server once per
// (problem, device). Every request has a timeout. When the server cannot be reached (refused,
// timed out, 5xx), best() and kernel() fall back to the template's built-in default config,
// rendered locally, and say so (from_server = false, fallback_reason) instead of failing: a
// tuning server must never be a hard dependency of inference. Client errors (4xx: a malformed
// problem key, an unknown device) are the caller's bug and throw ClientError.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "codegen/kernel_source.h"
#include "codegen/problem_spec.h"
#include "codegen/target.h"
#include "codegen/tile_config.h"

namespace attnjit::service {

// A request the server rejected (4xx), or a reply that is not what the API promises.
struct ClientError : std::runtime_error {
  ClientError(int status, std::string code, std::string field, const std::string& message)
      : std::runtime_error(message), status(status), code(std::move(code)), field(std::move(field)) {}
  int status;
  std::string code, field;
};

// The server could not be reached or failed (connection, timeout, 5xx).
struct ServerUnavailable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct BestConfig {
  std::string problem;       // canonical key
  std::string target;        // "sm_90a" | "cpu-..."
  TileConfig config;
  std::string why;           // exact | nearest_bucket | same_arch | default
  std::string explanation;
  std::string template_name, template_hash;
  bool from_server = false;  // false: local default because the server was unreachable
  bool from_cache = false;   // answered from this client's cache
  std::string fallback_reason;
  nlohmann::json measured;   // {"median_ms", "tflops", "gbps"} or null
};

struct KernelArtifact {
  std::string problem, arch;
  TileConfig config;
  std::string why, explanation;
  KernelSource source;       // text, headers, entry, options, hash (empty text if not asked)
  LaunchGeometry geometry;   // for the example / requested shape
  std::string cubin;         // raw bytes; empty unless asked and available
  std::string lowered_name;  // the mangled entry to look up in the cubin
  bool from_server = false;
  bool from_cache = false;
  std::string fallback_reason;
};

class Client {
 public:
  struct Options {
    std::string server = "http://127.0.0.1:8080";
    std::chrono::milliseconds connect_timeout{1000};
    std::chrono::milliseconds timeout{5000};      // read / write
    std::string token;                            // for writes
    std::chrono::seconds cache_ttl{300};
    size_t cache_entries = 4096;
  };

  // Throws std::invalid_argument for a malformed server URL.
  explicit Client(Options options);
  ~Client();

  // `device` is a fingerprint or "" (then the target's key is sent: same-arch answers).
  BestConfig best(const ProblemSpec& problem, const Target& target, const std::string& device = "");
  // config: nullopt = the server's pick for the arch. With want_cubin and no server, cubin stays
  // empty (compile locally with attnjit::Nvrtc if present).
  KernelArtifact kernel(const ProblemSpec& problem, const Target& target,
                        std::optional<TileConfig> config = std::nullopt, bool want_cubin = false);

  // Plain calls (no fallback): throw ServerUnavailable / ClientError.
  nlohmann::json health();
  nlohmann::json results(const std::map<std::string, std::string>& filters);
  nlohmann::json post_results(const std::string& jsonl);
  nlohmann::json tune(const std::vector<std::string>& problems, int budget = 0);
  nlohmann::json job(const std::string& id);

  void clear_cache();

 private:
  nlohmann::json get_json(const std::string& path, const std::map<std::string, std::string>& params,
                          bool use_cache, bool* from_cache);
  nlohmann::json post_json(const std::string& path, const std::string& body, const std::string& content_type);

  struct Impl;
  std::unique_ptr<Impl> impl_;
  Options opt_;
};

}  // namespace attnjit::service
