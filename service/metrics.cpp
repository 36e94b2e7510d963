#include "service/metrics.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace attnjit::service {

std::string prometheus_escape(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void Metrics::observe_request(const std::string& route, const std::string& method, int status,
                              double seconds) {
  size_t b = 0;
  while (b < kBuckets.size() && seconds > kBuckets[b]) ++b;
  std::tuple<std::string, std::string, int> key{route, method, status};
  Series* s = nullptr;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    auto it = series_.find(key);
    if (it != series_.end()) s = &it->second;
  }
  if (!s) {
    std::unique_lock<std::shared_mutex> lock(mu_);
    s = &series_[key];  // map nodes never move: the pointer stays valid without the lock
  }
  s->count.fetch_add(1, std::memory_order_relaxed);
  s->sum.fetch_add(seconds, std::memory_order_relaxed);
  if (b < kBuckets.size()) s->buckets[b].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::add_gauge(std::string name, std::string help, std::string label, GaugeSource source) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  gauges_.push_back({std::move(name), std::move(help), std::move(label), std::move(source)});
}

uint64_t Metrics::request_count(const std::string& route, const std::string& method, int status) const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = series_.find({route, method, status});
  return it == series_.end() ? 0 : it->second.count.load();
}

namespace {
std::string num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}
}  // namespace

std::string Metrics::render() const {
  std::ostringstream o;
  std::vector<Gauge> gauges;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    gauges = gauges_;
    o << "# HELP attnjit_http_requests_total HTTP requests by route, method and status.\n"
         "# TYPE attnjit_http_requests_total counter\n";
    for (const auto& [k, s] : series_) {
      const auto& [route, method, status] = k;
      o << "attnjit_http_requests_total{route=\"" << prometheus_escape(route) << "\",method=\""
        << prometheus_escape(method) << "\",status=\"" << status << "\"} " << s.count.load() << "\n";
    }
    o << "# HELP attnjit_http_request_duration_seconds Time from routing to response, by route and status.\n"
         "# TYPE attnjit_http_request_duration_seconds histogram\n";
    for (const auto& [k, s] : series_) {
      const auto& [route, method, status] = k;
      std::string labels = "route=\"" + prometheus_escape(route) + "\",method=\"" +
                           prometheus_escape(method) + "\",status=\"" + std::to_string(status) + "\"";
      uint64_t cum = 0;
      const uint64_t count = s.count.load();
      for (size_t i = 0; i < kBuckets.size(); ++i) {
        cum += s.buckets[i].load();
        o << "attnjit_http_request_duration_seconds_bucket{" << labels << ",le=\"" << num(kBuckets[i])
          << "\"} " << cum << "\n";
      }
      o << "attnjit_http_request_duration_seconds_bucket{" << labels << ",le=\"+Inf\"} " << std::max(cum, count) << "\n";
      o << "attnjit_http_request_duration_seconds_sum{" << labels << "} " << num(s.sum.load()) << "\n";
      o << "attnjit_http_request_duration_seconds_count{" << labels << "} " << std::max(cum, count) << "\n";
    }
  }
  o << "# HELP attnjit_kernel_cache_hits_total Server-side compiled kernel cache hits.\n"
       "# TYPE attnjit_kernel_cache_hits_total counter\n"
       "attnjit_kernel_cache_hits_total " << cache_hits_.load() << "\n"
       "# HELP attnjit_kernel_cache_misses_total Server-side compiled kernel cache misses (compiles).\n"
       "# TYPE attnjit_kernel_cache_misses_total counter\n"
       "attnjit_kernel_cache_misses_total " << cache_misses_.load() << "\n";
  // Sources run outside the lock: they take their own.
  for (const auto& g : gauges) {
    o << "# HELP " << g.name << " " << g.help << "\n# TYPE " << g.name << " gauge\n";
    for (const auto& [lv, v] : g.source())
      o << g.name << "{" << g.label << "=\"" << prometheus_escape(lv) << "\"} " << num(v) << "\n";
  }
  return o.str();
}

}  // namespace attnjit::service
