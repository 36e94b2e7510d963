#include "service/compile_gate.h"

#include <gtest/gtest.h>

#include "service/api_error.h"

namespace attnjit::service {
namespace {

TEST(CompileGate, CapsAnonymousCompilesOnly) {
  CompileGate gate(2);
  auto a = gate.enter(false), b = gate.enter(false);
  EXPECT_EQ(gate.in_flight(), 2);
  try {
    gate.enter(false);
    FAIL() << "a third anonymous compile was admitted";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 503);
    EXPECT_EQ(e.field, "cubin");
    EXPECT_EQ(e.retry_after_s, 1);
  }
  EXPECT_NO_THROW(gate.enter(true));  // token holders are not counted
  a.reset();
  EXPECT_EQ(gate.in_flight(), 1);
  EXPECT_NO_THROW(gate.enter(false));
}

TEST(CompileGate, ZeroMeansCachedOnly) {
  CompileGate gate(0);
  EXPECT_THROW(gate.enter(false), ApiError);
  EXPECT_NO_THROW(gate.enter(true));
}

}  // namespace
}  // namespace attnjit::service
