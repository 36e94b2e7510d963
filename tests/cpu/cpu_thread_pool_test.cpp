// runtime/cpu/cpu_thread_pool: every item exactly once, on several threads, heavy items
// first, exceptions propagated, and the pool reusable after all of these.
#include "runtime/cpu/cpu_thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace attnjit {
namespace {

TEST(CpuThreadPool, EveryItemExactlyOnce) {
  CpuThreadPool pool(3);
  for (int64_t items : {1, 2, 7, 100, 1001}) {
    std::vector<std::atomic<int>> hits(static_cast<size_t>(items));
    pool.parallel_for(items, 4, [&](int64_t b, int64_t e) {
      ASSERT_LE(0, b);
      ASSERT_LT(b, e);
      ASSERT_LE(e, items);
      for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
    });
    for (auto& h : hits) EXPECT_EQ(h.load(), 1) << items;
  }
}

TEST(CpuThreadPool, UsesSeveralThreadsUpToTheLimit) {
  CpuThreadPool pool(3);
  std::mutex mu;
  std::set<std::thread::id> ids;
  std::atomic<int> inside{0}, peak{0};
  pool.parallel_for(64, 2, [&](int64_t, int64_t) {
    int now = ++inside;
    int p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {}
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    --inside;
    std::lock_guard<std::mutex> lk(mu);
    ids.insert(std::this_thread::get_id());
  });
  EXPECT_LE(peak.load(), 2);
  EXPECT_EQ(ids.size(), 2u);
}

TEST(CpuThreadPool, SingleThreadRunsOnCallerFromLastItem) {
  CpuThreadPool pool(2);
  std::vector<int64_t> order;
  const auto caller = std::this_thread::get_id();
  pool.parallel_for(5, 1, [&](int64_t b, int64_t e) {
    EXPECT_EQ(std::this_thread::get_id(), caller);
    for (int64_t i = e - 1; i >= b; --i) order.push_back(i);
  });
  EXPECT_EQ(order, (std::vector<int64_t>{4, 3, 2, 1, 0}));
}

TEST(CpuThreadPool, ExceptionPropagatesAndPoolStaysUsable) {
  CpuThreadPool pool(2);
  EXPECT_THROW(pool.parallel_for(100, 3,
                                 [](int64_t b, int64_t) {
                                   if (b <= 50) throw std::runtime_error("item failed");
                                 }),
               std::runtime_error);
  std::atomic<int64_t> sum{0};
  pool.parallel_for(10, 3, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) sum += i;
  });
  EXPECT_EQ(sum.load(), 45);
}

TEST(CpuThreadPool, ZeroItemsAndNoWorkers) {
  CpuThreadPool pool(0);
  int calls = 0;
  pool.parallel_for(0, 4, [&](int64_t, int64_t) { ++calls; });
  EXPECT_EQ(calls, 0);
  pool.parallel_for(3, 4, [&](int64_t b, int64_t e) { calls += int(e - b); });
  EXPECT_EQ(calls, 3);
}

}  // namespace
}  // namespace attnjit
