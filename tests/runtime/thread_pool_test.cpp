// runtime/thread_pool: every item exactly once, on several threads, heavy items first,
// exceptions propagated, the pool reusable after all of these; nested loops (on the same pool
// and through another one) finish; sizing (fixed pools cap, the shared pool grows); serialised
// callers.
#include "runtime/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace attnjit {
namespace {

TEST(ThreadPool, EveryItemExactlyOnce) {
  ThreadPool pool(3);
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

TEST(ThreadPool, UsesSeveralThreadsUpToTheLimit) {
  ThreadPool pool(3);
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

TEST(ThreadPool, SingleThreadRunsOnCallerFromLastItem) {
  ThreadPool pool(2);
  std::vector<int64_t> order;
  const auto caller = std::this_thread::get_id();
  pool.parallel_for(5, 1, [&](int64_t b, int64_t e) {
    EXPECT_EQ(std::this_thread::get_id(), caller);
    for (int64_t i = e - 1; i >= b; --i) order.push_back(i);
  });
  EXPECT_EQ(order, (std::vector<int64_t>{4, 3, 2, 1, 0}));
}

TEST(ThreadPool, ExceptionPropagatesAndPoolStaysUsable) {
  ThreadPool pool(2);
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

TEST(ThreadPool, ZeroItemsAndNoWorkers) {
  ThreadPool pool(0);
  int calls = 0;
  pool.parallel_for(0, 4, [&](int64_t, int64_t) { ++calls; });
  EXPECT_EQ(calls, 0);
  pool.parallel_for(3, 4, [&](int64_t b, int64_t e) { calls += int(e - b); });
  EXPECT_EQ(calls, 3);
}


// Runs fn on a thread of its own; a deadlock fails the test (and ends the process, since the
// stuck threads cannot be joined) instead of hanging until ctest's timeout.
void finishes_within(std::chrono::seconds limit, std::function<void()> fn) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> f = done->get_future();
  std::thread([fn, done] {
    fn();
    done->set_value();
  }).detach();
  if (f.wait_for(limit) != std::future_status::ready) {
    std::fprintf(stderr, "thread_pool_test: deadlock (no return within %llds)\n", (long long)limit.count());
    std::_Exit(1);
  }
}

// Peak number of bodies running at once.
struct Peak {
  std::atomic<int> inside{0}, peak{0};
  void enter() {
    int now = ++inside, p = peak.load();
    while (now > p && !peak.compare_exchange_weak(p, now)) {}
  }
  void leave() { --inside; }
};

TEST(ThreadPool, NestedLoopOnTheSamePoolRunsOnTheCallingThread) {
  ThreadPool pool(2);
  std::atomic<int64_t> items{0};
  std::atomic<int> foreign{0};
  finishes_within(std::chrono::seconds(30), [&] {
    pool.parallel_for(8, 3, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const auto outer = std::this_thread::get_id();
        pool.parallel_for(5, 3, [&](int64_t ib, int64_t ie) {
          if (std::this_thread::get_id() != outer) ++foreign;
          items += ie - ib;
        });
      }
    });
  });
  EXPECT_EQ(items.load(), 8 * 5);
  EXPECT_EQ(foreign.load(), 0);
}

TEST(ThreadPool, NestingThroughAnotherPoolDoesNotDeadlock) {
  ThreadPool a(2), b(2);
  std::atomic<int64_t> items{0};
  finishes_within(std::chrono::seconds(30), [&] {
    a.for_each(6, 3, [&](int64_t) {
      b.for_each(6, 3, [&](int64_t) {
        a.for_each(4, 3, [&](int64_t) { ++items; });
      });
    });
  });
  EXPECT_EQ(items.load(), 6 * 6 * 4);
}

TEST(ThreadPool, FixedPoolCapsThreadsAtWorkersPlusOne) {
  ThreadPool pool(1);
  Peak p;
  pool.parallel_for(32, 8, [&](int64_t, int64_t) {
    p.enter();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    p.leave();
  });
  EXPECT_LE(p.peak.load(), 2);
  EXPECT_EQ(pool.workers(), 1);
}

TEST(ThreadPool, SharedPoolGrowsToWhatALoopAsksFor) {
  ThreadPool& pool = ThreadPool::shared();
  EXPECT_EQ(&pool, &ThreadPool::shared());
  Peak p;
  std::vector<std::atomic<int>> hits(16);
  pool.for_each(16, 4, [&](int64_t i) {
    p.enter();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ++hits[size_t(i)];
    p.leave();
  });
  EXPECT_GE(pool.workers(), 3);
  EXPECT_LE(p.peak.load(), 4);
  EXPECT_GE(p.peak.load(), 2);
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
  // A loop never starts more threads than it has items.
  const int before = pool.workers();
  pool.for_each(2, 64, [](int64_t) {});
  EXPECT_EQ(pool.workers(), before);
}

TEST(ThreadPool, ForEachHandsOutItemsInOrder) {
  ThreadPool pool(3);
  std::vector<int64_t> order;
  pool.for_each(6, 1, [&](int64_t i) { order.push_back(i); });
  EXPECT_EQ(order, (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_THROW(pool.for_each(10, 4, [](int64_t i) {
                 if (i == 7) throw std::runtime_error("item 7");
               }),
               std::runtime_error);
}

TEST(ThreadPool, CallsFromSeveralThreadsAreSerialised) {
  ThreadPool pool(2);
  std::atomic<int> in_flight[2] = {0, 0}, overlap{0};
  std::atomic<int64_t> items{0};
  auto caller = [&](int me) {
    for (int r = 0; r < 20; ++r)
      pool.parallel_for(16, 3, [&](int64_t b, int64_t e) {
        ++in_flight[me];
        if (in_flight[1 - me].load() > 0) ++overlap;  // a body of the other caller's loop
        std::this_thread::sleep_for(std::chrono::microseconds(100));
        items += e - b;
        --in_flight[me];
      });
  };
  std::thread t1(caller, 0), t2(caller, 1);
  t1.join();
  t2.join();
  EXPECT_EQ(items.load(), 2 * 20 * 16);
  EXPECT_EQ(overlap.load(), 0);
}

}  // namespace
}  // namespace attnjit
