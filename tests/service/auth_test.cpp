#include "service/auth.h"

#include <gtest/gtest.h>

#include <fstream>

#include "service/api_error.h"
#include "test_server.h"

namespace attnjit::service {
namespace {

int status_of(const TokenAuth& a, const std::string& header) {
  try {
    a.check(header);
    return 200;
  } catch (const ApiError& e) {
    EXPECT_EQ(e.field, "Authorization");
    return e.status;
  }
}

TEST(ConstantTimeEquals, ComparesContentAndLength) {
  EXPECT_TRUE(constant_time_equals("abc", "abc"));
  EXPECT_FALSE(constant_time_equals("abd", "abc"));
  EXPECT_FALSE(constant_time_equals("ab", "abc"));
  EXPECT_FALSE(constant_time_equals("abcd", "abc"));
  EXPECT_FALSE(constant_time_equals("", "abc"));
  EXPECT_TRUE(constant_time_equals("", ""));
}

TEST(TokenAuth, MissingHeaderIs401WrongTokenIs403) {
  TokenAuth a("correct-token-0123456789");
  EXPECT_EQ(status_of(a, ""), 401);
  EXPECT_EQ(status_of(a, "Basic dXNlcjpwYXNz"), 401);
  EXPECT_EQ(status_of(a, "Bearer "), 401);
  EXPECT_EQ(status_of(a, "Bearer wrong-token-0123456789"), 403);
  EXPECT_EQ(status_of(a, "Bearer correct-token-012345678"), 403);   // prefix
  EXPECT_EQ(status_of(a, "Bearer correct-token-0123456789x"), 403); // longer
  EXPECT_EQ(status_of(a, "Bearer correct-token-0123456789"), 200);
}

TEST(TokenAuth, WithoutTokenEveryWriteIsForbidden) {
  TokenAuth a;
  EXPECT_FALSE(a.enabled());
  EXPECT_EQ(status_of(a, "Bearer anything-at-all-here"), 403);
  EXPECT_EQ(status_of(a, ""), 401);
}

TEST(TokenAuth, FromFileTrimsAndRejectsShortOrMissing) {
  testing::TempDir dir;
  {
    std::ofstream(dir.file("ok")) << "  token-from-file-0123456789\n";
    std::ofstream(dir.file("short")) << "short\n";
    std::ofstream(dir.file("spaces")) << "token with spaces inside it\n";
  }
  TokenAuth a = TokenAuth::from_file(dir.file("ok"));
  EXPECT_EQ(status_of(a, "Bearer token-from-file-0123456789"), 200);
  EXPECT_THROW(TokenAuth::from_file(dir.file("short")), std::runtime_error);
  EXPECT_THROW(TokenAuth::from_file(dir.file("spaces")), std::runtime_error);
  EXPECT_THROW(TokenAuth::from_file(dir.file("missing")), std::runtime_error);
}

}  // namespace
}  // namespace attnjit::service
