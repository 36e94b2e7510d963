// Metrics: request counts and latency histograms by route, method and status, plus counters the
// handlers bump (kernel cache hits / misses) and gauges read at scrape time (jobs by state).
// render() writes the Prometheus text exposition format (version 0.0.4).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <tuple>
#include <vector>

namespace attnjit::service {

class Metrics {
 public:
  // Upper bounds of the latency buckets in seconds (Prometheus "le"); +Inf is implicit.
  static constexpr std::array<double, 12> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                      0.01,   0.025,   0.05,   0.1,   0.5,    2.5};

  // `route` is the route pattern ("/v1/jobs/{id}"), never the raw path, so label cardinality
  // stays bounded whatever clients send.
  void observe_request(const std::string& route, const std::string& method, int status, double seconds);

  void kernel_cache_hit() { cache_hits_.fetch_add(1, std::memory_order_relaxed); }
  void kernel_cache_miss() { cache_misses_.fetch_add(1, std::memory_order_relaxed); }
  uint64_t kernel_cache_hits() const { return cache_hits_.load(); }
  uint64_t kernel_cache_misses() const { return cache_misses_.load(); }

  // Gauges sampled at render time: name -> (labels -> value).
  using GaugeSource = std::function<std::map<std::string, double>()>;
  // `label` is the label name the map keys go under, e.g. "state".
  void add_gauge(std::string name, std::string help, std::string label, GaugeSource source);

  // Total requests observed for (route, method, status); for tests and the health endpoint.
  uint64_t request_count(const std::string& route, const std::string& method, int status) const;

  std::string render() const;

 private:
  // Counters are atomic and the map is read under a shared lock: requests never queue behind
  // one another here (a thread descheduled while holding an exclusive lock would stall every
  // request of a loaded machine: that was the p99 tail).
  struct Series {
    std::atomic<uint64_t> count{0};
    std::atomic<double> sum{0};
    std::array<std::atomic<uint64_t>, kBuckets.size()> buckets{};  // non-cumulative; summed at render
  };
  struct Gauge {
    std::string name, help, label;
    GaugeSource source;
  };
  mutable std::shared_mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, Series> series_;
  std::vector<Gauge> gauges_;
  std::atomic<uint64_t> cache_hits_{0}, cache_misses_{0};
};

// Escapes a Prometheus label value (backslash, double quote, newline).
std::string prometheus_escape(const std::string& v);

}  // namespace attnjit::service
