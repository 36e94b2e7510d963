// check_body_framing decides from the headers alone; the socket-level tests are in
// hostile_input_test.cpp.
#include "service/request_guard.h"

#include <gtest/gtest.h>

namespace attnjit::service {
namespace {

httplib::Request request(std::initializer_list<std::pair<std::string, std::string>> headers) {
  httplib::Request r;
  r.method = "POST";
  for (const auto& [k, v] : headers) r.headers.emplace(k, v);
  return r;
}

void expect_refused(const httplib::Request& r, bool takes_body, int status, const std::string& field) {
  auto e = check_body_framing(r, takes_body, 1000);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->status, status) << e->what();
  EXPECT_EQ(e->field, field) << e->what();
}

TEST(RequestGuard, AcceptsOrdinaryBodies) {
  EXPECT_FALSE(check_body_framing(request({{"Content-Length", "10"}}), true, 1000));
  EXPECT_FALSE(check_body_framing(request({{"Content-Length", "1000"}}), true, 1000));
  EXPECT_FALSE(check_body_framing(request({{"Transfer-Encoding", "chunked"}}), true, 1000));
  EXPECT_FALSE(check_body_framing(request({{"transfer-encoding", "Chunked"}}), true, 1000));
  EXPECT_FALSE(check_body_framing(request({{"Content-Length", "5"}, {"Content-Encoding", "identity"}}), true, 1000));
  EXPECT_FALSE(check_body_framing(request({{"Content-Length", "5"}, {"Content-Type", "application/x-www-form-urlencoded"}}),
                                  true, 1000));
  // Bodiless GETs, with or without "Content-Length: 0".
  EXPECT_FALSE(check_body_framing(request({}), false, 1000));
  EXPECT_FALSE(check_body_framing(request({{"Content-Length", "0"}}), false, 1000));
}

TEST(RequestGuard, RefusesWhatHttplibWouldReadWithoutBound) {
  expect_refused(request({}), true, 411, "Content-Length");
  expect_refused(request({{"Content-Length", "1001"}}), true, 413, "body");
  expect_refused(request({{"Content-Length", "-1"}}), true, 400, "Content-Length");
  expect_refused(request({{"Content-Length", "1e3"}}), true, 400, "Content-Length");
  expect_refused(request({{"Content-Length", "99999999999999999999999"}}), true, 400, "Content-Length");
  expect_refused(request({{"Content-Length", "5"}, {"Content-Length", "6"}}), true, 400, "Content-Length");
  expect_refused(request({{"Transfer-Encoding", "chunked"}, {"Content-Length", "5"}}), true, 400, "Content-Length");
  expect_refused(request({{"Transfer-Encoding", "gzip, chunked"}}), true, 501, "Transfer-Encoding");
  expect_refused(request({{"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "chunked"}}), true, 501,
                 "Transfer-Encoding");
  expect_refused(request({{"Content-Length", "5"}, {"Content-Encoding", "gzip"}}), true, 415, "Content-Encoding");
  expect_refused(request({{"Content-Length", "5"}, {"Content-Encoding", "br"}}), true, 415, "Content-Encoding");
  expect_refused(request({{"Transfer-Encoding", "chunked"}, {"Content-Encoding", "deflate"}}), true, 415,
                 "Content-Encoding");
  expect_refused(request({{"Content-Length", "5"}, {"Content-Type", "multipart/form-data; boundary=x"}}), true, 415,
                 "Content-Type");
  expect_refused(request({{"Content-Length", "5"}}), false, 400, "body");
  expect_refused(request({{"Transfer-Encoding", "chunked"}}), false, 400, "body");
}

TEST(RequestGuard, ContentLengthIsStrict) {
  EXPECT_EQ(parse_content_length("0"), 0u);
  EXPECT_EQ(parse_content_length(" 42 "), 42u);
  EXPECT_EQ(parse_content_length("9999999999999999999"), 9999999999999999999ull);
  EXPECT_FALSE(parse_content_length(""));
  EXPECT_FALSE(parse_content_length("+1"));
  EXPECT_FALSE(parse_content_length("0x10"));
  EXPECT_FALSE(parse_content_length("18446744073709551617"));
}

}  // namespace
}  // namespace attnjit::service
