// Api: the service's endpoints as plain functions from ApiRequest to ApiResponse, so tests call
// them without sockets and the HTTP layer (server.h) only moves bytes. Every handler runs
// through Api::call(), the one place an exception becomes a status and a JSON error body.
//
//   GET  /v1/health                      liveness, version, database, NVRTC, jobs
//   GET  /v1/devices                     every device with tuning results
//   GET  /v1/best?problem=&device=       config to run + why (exact / nearest_bucket /
//                                        same_arch / default), provenance, measured numbers
//   GET  /v1/kernel?problem=&arch=[&config=][&cubin=1][&source=0][&batch=&heads_q=...]
//                                        generated source, entry, launch geometry, CUBIN
//   GET  /v1/results?filters...&after=&limit=   results with cursor pagination
//   POST /v1/results                     bulk import (JSON Lines or a JSON array)   [token]
//   POST /v1/tune                        queue a tuning job -> id                   [token]
//   GET  /v1/jobs/{id}                   state, progress, result
//   GET  /metrics                        Prometheus text
#pragma once

#include <functional>
#include <map>
#include <shared_mutex>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "service/auth.h"
#include "service/compile_gate.h"
#include "service/cubin_cache.h"
#include "service/db_pool.h"
#include "service/job_manager.h"
#include "service/metrics.h"

namespace attnjit::service {

struct ApiRequest {
  std::string method = "GET";
  std::multimap<std::string, std::string> params;  // decoded query parameters
  std::map<std::string, std::string> path_params;  // e.g. {"id": "job-..."}
  std::string body;
  std::string content_type;
  std::string authorization;  // the Authorization header, "" when absent
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  int retry_after_s = 0;  // > 0: the server adds Retry-After

  static ApiResponse json(const nlohmann::json& j, int status = 200);
};

class Api {
 public:
  struct Options {
    std::string db_path = ":memory:";
    int db_readers = 4;                 // read connections (one per request thread is ideal)
    TokenAuth auth;                     // no token: writes refused
    // argv for a tuning job; empty = tune jobs refused with 503.
    std::function<std::vector<std::string>(const TuneRequest&)> tune_command;
    std::chrono::seconds job_timeout{3600};
    size_t max_tune_problems = 256;
    CubinCache::CompileFn compile = CubinCache::compile_with_nvrtc;
    // Concurrent CUBIN compiles (cache misses) for requests without the write token; more get
    // 503 + Retry-After. 0 = such requests get cached CUBINs only. See compile_gate.h.
    int max_anonymous_compiles = 2;
    // Whether NVRTC can be opened (reason in *why when not); defaults to Nvrtc::available.
    std::function<bool(std::string*)> nvrtc_available;
  };

  explicit Api(Options options);
  ~Api();

  using Handler = ApiResponse (Api::*)(const ApiRequest&);
  struct Route {
    std::string method;
    std::string pattern;   // "/v1/jobs/{id}": the metrics label too
    Handler handler;
    bool write;            // needs the bearer token
  };
  static const std::vector<Route>& routes();

  // Runs one route's handler: auth for writes, then the handler; maps every exception.
  ApiResponse call(const Route& route, const ApiRequest& req);
  // Finds the route for (method, path) and fills req.path_params; nullptr if none. Sets
  // *path_known when the path exists under another method (405 rather than 404).
  const Route* match(const std::string& method, const std::string& path,
                     std::map<std::string, std::string>& path_params, bool* path_known = nullptr) const;

  ApiResponse health(const ApiRequest& req);
  ApiResponse devices(const ApiRequest& req);
  ApiResponse best(const ApiRequest& req);
  ApiResponse kernel(const ApiRequest& req);
  ApiResponse results_get(const ApiRequest& req);
  ApiResponse results_post(const ApiRequest& req);
  ApiResponse tune(const ApiRequest& req);
  ApiResponse job(const ApiRequest& req);
  ApiResponse metrics_text(const ApiRequest& req);

  Metrics& metrics() { return metrics_; }
  const TokenAuth& auth() const { return opt_.auth; }
  JobManager& jobs() { return *jobs_; }
  DbPool& db() { return db_; }
  // Stops the job queue (running job -> interrupted). Idempotent.
  void shutdown();

 private:
  Options opt_;
  DbPool db_;
  Metrics metrics_;
  CubinCache cubins_;
  CompileGate compile_gate_;
  std::unique_ptr<JobManager> jobs_;
  // A device row never changes under its fingerprint (the fingerprint hashes every field), so
  // found devices are kept here instead of costing a query per /v1/best.
  std::optional<DeviceInfo> find_device(const Database& db, const std::string& fingerprint);
  // A CPU target key ("cpu-icelake-client") says nothing about vector width; take the ISA of
  // a stored device of that target (same LLVM CPU name, same ISA). Found ISAs are kept.
  Target resolve_target(const Database& db, const std::string& field, const std::string& key);
  std::shared_mutex devices_mu_;
  std::map<std::string, DeviceInfo> devices_;
  std::map<std::string, std::string> target_isa_;

  bool nvrtc_ok_ = false;
  std::string nvrtc_why_;
  int64_t started_unix_ms_ = 0;
};

}  // namespace attnjit::service
