// Test names from keys: the one function that names a test case (a parameterized test's case, a
// case traced in a loop) and its inverse. The names are for GoogleTest and ctest only, so this
// lives with the tests, not in the library.
//
// A name is the case's parts joined by "__", in this order, each part optional:
//   problem key __ run shape key __ config key __ backend __ detail
// Keys use [a-z0-9_.-] and never "__" (no field is empty). GoogleTest allows only [A-Za-z0-9_],
// so '-' is written 'M' (minus) and '.' is written 'P' (point): capitals, which no key contains,
// so the mapping reverses exactly.
//   prefill_f16_hd64_sw1024-0_g1_q8192_k8192_even + b1_hq8_hkv8_sq8192_sk8192
//     -> prefill_f16_hd64_sw1024M0_g1_q8192_k8192_even__b1_hq8_hkv8_sq8192_sk8192
//   prefill_bf16_hd256_causal_sc30.5_g2_q8192_k8192 -> prefill_bf16_hd256_causal_sc30P5_g2_q8192_k8192
//   decode_bf16_hd128_none_g8_q1_k32768_p16_kv-e4m3 -> decode_bf16_hd128_none_g8_q1_k32768_p16_kvMe4m3
//   the CUDA backend -> cuda
// The detail holds what a case needs beyond its keys (a tensor layout, "nolse", a user case's
// name): '_'-separated words of [a-z0-9.-], spelled like keys, never a key itself.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "attnjit/launch.h"
#include "attnjit/problem_spec.h"
#include "attnjit/runtime.h"
#include "attnjit/tile_config.h"

namespace attnjit::testing {

struct TestCaseName {
  std::optional<ProblemSpec> problem;
  std::optional<RunShape> shape;
  std::optional<TileConfig> config;
  std::optional<BackendKind> backend;
  std::string detail;  // "" = none

  bool operator==(const TestCaseName&) const = default;
};

// The GoogleTest-legal name of a case. Throws std::invalid_argument naming the part when a key
// holds a character outside [a-z0-9_.-] or an empty field, when the detail reads as a key or a
// backend (it would not read back as a detail), or when every part is absent.
std::string test_name(const TestCaseName& parts);

// The inverse: the parts a name was made from. Throws std::invalid_argument naming the part
// for anything test_name does not produce.
TestCaseName parse_test_name(std::string_view name);

// One key written as a test-name part ('-' -> 'M', '.' -> 'P') and back; `what` names the part
// in errors. test_name and parse_test_name are built on these.
std::string key_to_test_name(std::string_view key, std::string_view what = "key");
std::string test_name_to_key(std::string_view part, std::string_view what = "test name part");

}  // namespace attnjit::testing
