// Running many prefill cases through one Runtime: kernels prepared from several threads at once
// (compiles dominate; the Runtime compiles each kernel once), then device runs one after the
// other with their float64 checks in parallel. Shared by the GPU suites (tests/gpu).
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/gpu_test_util.h"

namespace attnjit::testing {

// Calls prepare(i) for every case on `threads` threads; returns each case's error ("" = none):
// what prepare returned, or the message of what it threw.
inline std::vector<std::string> prepare_in_parallel(size_t n, unsigned threads,
                                                    const std::function<std::string(size_t)>& prepare) {
  std::vector<std::string> errors(n);
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (size_t i; (i = next++) < n;) {
        try {
          errors[i] = prepare(i);
        } catch (const std::exception& e) {
          errors[i] = std::string("prepare failed: ") + e.what();
        }
      }
    });
  for (auto& t : pool) t.join();
  return errors;
}

// Runs every case whose error is empty (a non-empty one fails the case), at most `threads` float64
// checks in flight. Failure traces name each case with `config` (the one fixed for every case, if
// any). Returns how many ran.
inline int run_prepared_cases(Runtime& rt, const std::vector<PrefillCase>& cases,
                              const std::vector<std::string>& errors, unsigned threads,
                              const std::optional<TileConfig>& config = {}) {
  std::vector<std::future<CheckReport>> checks(cases.size());
  std::deque<size_t> in_flight;
  int ran = 0;
  auto collect = [&](size_t i) {
    SCOPED_TRACE(cases[i].name(config));
    const CheckReport r = checks[i].get();
    EXPECT_TRUE(r.ok) << r.message;
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].name(config));
    if (!errors[i].empty()) {
      ADD_FAILURE() << errors[i];
      continue;
    }
    try {
      auto out = std::make_shared<RunOutput>(run_case(rt, cases[i]));
      checks[i] = std::async(std::launch::async, [out] { return check_run(*out); });
      in_flight.push_back(i);
      ++ran;
    } catch (const std::exception& e) {
      ADD_FAILURE() << "run failed: " << e.what();
    }
    if (in_flight.size() >= threads) {
      collect(in_flight.front());
      in_flight.pop_front();
    }
  }
  for (size_t i : in_flight) collect(i);
  return ran;
}

}  // namespace attnjit::testing
