#include "service/json_depth.h"

#include <gtest/gtest.h>

#include <string>

namespace attnjit::service {
namespace {

TEST(JsonDepth, CountsNestingOutsideStrings) {
  EXPECT_EQ(json_nesting_depth("", 64), 0u);
  EXPECT_EQ(json_nesting_depth("42", 64), 0u);
  EXPECT_EQ(json_nesting_depth(R"({"a": [1, {"b": []}]})", 64), 4u);
  EXPECT_EQ(json_nesting_depth(R"({"a": "[[[[{{{{"})", 64), 1u);
  EXPECT_EQ(json_nesting_depth(R"({"a": "\"[[[["})", 64), 1u);   // escaped quote stays in the string
  EXPECT_EQ(json_nesting_depth(R"({"a": "\\"} [[)", 64), 2u);     // escaped backslash ends it
  EXPECT_EQ(json_nesting_depth("{}\n[[]]\n{}\n", 64), 2u);          // JSON Lines: per line
}

TEST(JsonDepth, StopsOneLevelPastTheLimit) {
  std::string deep(70000, '[');
  EXPECT_EQ(json_nesting_depth(deep, kMaxJsonDepth), kMaxJsonDepth + 1);
  EXPECT_EQ(json_nesting_depth(std::string(64, '[') + std::string(64, ']'), 64), 64u);
  EXPECT_EQ(json_nesting_depth(std::string(65, '{'), 64), 65u);
}

}  // namespace
}  // namespace attnjit::service
