#include "service/query_params.h"

#include <gtest/gtest.h>

#include "service/api_error.h"

namespace attnjit::service {
namespace {

using Raw = std::multimap<std::string, std::string>;

// The ApiError a callable throws (fails the test when it throws none).
template <class F>
ApiError error_of(F f) {
  try {
    f();
  } catch (const ApiError& e) {
    return e;
  }
  ADD_FAILURE() << "no ApiError thrown";
  return ApiError(0, "", "", "");
}

TEST(QueryParams, RejectsUnknownRepeatedAndOverlong) {
  auto e = error_of([] { QueryParams q(Raw{{"probelm", "x"}}, {"problem", "device"}); });
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.code, "unknown_parameter");
  EXPECT_EQ(e.field, "probelm");
  EXPECT_NE(std::string(e.what()).find("problem, device"), std::string::npos) << e.what();

  e = error_of([] { QueryParams q(Raw{{"limit", "1"}, {"limit", "2"}}, {"limit"}); });
  EXPECT_EQ(e.field, "limit");
  e = error_of([] { QueryParams q(Raw{{"problem", std::string(600, 'a')}}, {"problem"}); });
  EXPECT_EQ(e.field, "problem");
}

TEST(QueryParams, RequiredIntegerAndBoolean) {
  QueryParams q(Raw{{"limit", "50"}, {"cubin", "1"}, {"empty", ""}, {"bad", "12x"}},
                {"limit", "cubin", "empty", "bad", "absent"});
  EXPECT_EQ(q.integer("limit", 100, 1, 1000), 50);
  EXPECT_EQ(q.integer("absent", 100, 1, 1000), 100);
  EXPECT_TRUE(q.boolean("cubin", false));
  EXPECT_FALSE(q.boolean("absent", false));
  EXPECT_EQ(error_of([&] { q.required("empty"); }).field, "empty");
  EXPECT_EQ(error_of([&] { q.required("absent"); }).code, "missing_parameter");
  EXPECT_EQ(error_of([&] { q.integer("bad", 0, 0, 10); }).field, "bad");
  EXPECT_EQ(error_of([&] { q.integer("limit", 0, 1, 10); }).field, "limit");  // out of range
  EXPECT_EQ(error_of([&] { q.boolean("limit", false); }).field, "limit");
}

TEST(QueryParams, TokenCharacters) {
  EXPECT_NO_THROW(check_token_chars("problem", "prefill_bf16_hd128_sw1024-0_g1_q16_k16"));
  EXPECT_NO_THROW(check_token_chars("device", "0123456789abcdef"));
  EXPECT_EQ(error_of([] { check_token_chars("problem", "a'; DROP TABLE results;--"); }).field, "problem");
  EXPECT_EQ(error_of([] { check_token_chars("arch", "sm_80\n"); }).field, "arch");
  EXPECT_EQ(error_of([] { check_token_chars("arch", ""); }).code, "missing_parameter");
}

}  // namespace
}  // namespace attnjit::service
