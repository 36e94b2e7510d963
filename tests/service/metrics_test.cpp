#include "service/metrics.h"

#include <gtest/gtest.h>

namespace attnjit::service {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

TEST(Metrics, CountsAndCumulativeHistogramByRouteAndStatus) {
  Metrics m;
  m.observe_request("/v1/best", "GET", 200, 0.0002);   // bucket 0.00025
  m.observe_request("/v1/best", "GET", 200, 0.003);    // bucket 0.005
  m.observe_request("/v1/best", "GET", 400, 0.00005);
  m.observe_request("/v1/best", "GET", 200, 10.0);     // only +Inf
  m.kernel_cache_hit();
  m.kernel_cache_miss();
  m.kernel_cache_miss();
  m.add_gauge("attnjit_jobs", "Jobs by state.", "state", [] {
    return std::map<std::string, double>{{"queued", 2}, {"running", 1}};
  });
  EXPECT_EQ(m.request_count("/v1/best", "GET", 200), 3u);
  std::string t = m.render();
  const std::string l = R"(route="/v1/best",method="GET",status="200")";
  EXPECT_TRUE(has_line(t, "attnjit_http_requests_total{" + l + "} 3")) << t;
  EXPECT_TRUE(has_line(t, R"(attnjit_http_requests_total{route="/v1/best",method="GET",status="400"} 1)")) << t;
  EXPECT_TRUE(has_line(t, "attnjit_http_request_duration_seconds_bucket{" + l + ",le=\"0.0001\"} 0")) << t;
  EXPECT_TRUE(has_line(t, "attnjit_http_request_duration_seconds_bucket{" + l + ",le=\"0.00025\"} 1")) << t;
  EXPECT_TRUE(has_line(t, "attnjit_http_request_duration_seconds_bucket{" + l + ",le=\"0.005\"} 2")) << t;
  EXPECT_TRUE(has_line(t, "attnjit_http_request_duration_seconds_bucket{" + l + ",le=\"2.5\"} 2")) << t;
  EXPECT_TRUE(has_line(t, "attnjit_http_request_duration_seconds_bucket{" + l + ",le=\"+Inf\"} 3")) << t;
  EXPECT_TRUE(has_line(t, "attnjit_http_request_duration_seconds_count{" + l + "} 3")) << t;
  EXPECT_TRUE(has_line(t, "attnjit_kernel_cache_hits_total 1")) << t;
  EXPECT_TRUE(has_line(t, "attnjit_kernel_cache_misses_total 2")) << t;
  EXPECT_TRUE(has_line(t, R"(attnjit_jobs{state="queued"} 2)")) << t;
  EXPECT_TRUE(has_line(t, "# TYPE attnjit_http_request_duration_seconds histogram")) << t;
}

TEST(Metrics, EscapesLabelValues) {
  EXPECT_EQ(prometheus_escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

}  // namespace
}  // namespace attnjit::service
