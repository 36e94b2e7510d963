#include "runtime/kernel_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

namespace attnjit {
namespace {

KernelCache::Kernel make_kernel(const std::string& name) {
  auto k = std::make_shared<CompiledKernel>();
  k->source.name = name;
  return k;
}

TEST(KernelCache, MissRunsFactoryOnceThenHits) {
  KernelCache cache;
  int calls = 0;
  auto f = [&] { ++calls; return make_kernel("a"); };
  auto k1 = cache.get_or_create("a", f);
  auto k2 = cache.get_or_create("a", f);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(k1.get(), k2.get());
  EXPECT_EQ(k1->source.name, "a");
  auto s = cache.stats();
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.find("a").get(), k1.get());
  EXPECT_EQ(cache.find("b"), nullptr);
}

TEST(KernelCache, DifferentKeysAreDifferentEntries) {
  KernelCache cache;
  auto a = cache.get_or_create("a", [] { return make_kernel("a"); });
  auto b = cache.get_or_create("b", [] { return make_kernel("b"); });
  EXPECT_NE(a.get(), b.get());
  EXPECT_EQ(cache.size(), 2u);
}

TEST(KernelCache, ConcurrentRequestsForOneKeyCompileOnce) {
  KernelCache cache;
  std::atomic<int> calls{0};
  std::atomic<bool> go{false};
  const int kThreads = 16;
  std::vector<KernelCache::Kernel> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      got[t] = cache.get_or_create("same", [&] {
        ++calls;
        // A slow "compile", so the other threads arrive while it is in flight.
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        return make_kernel("same");
      });
    });
  }
  go = true;
  for (auto& th : threads) th.join();
  EXPECT_EQ(calls.load(), 1);
  for (int t = 1; t < kThreads; ++t) EXPECT_EQ(got[t].get(), got[0].get());
  auto s = cache.stats();
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.hits + s.waits, static_cast<uint64_t>(kThreads - 1));
  EXPECT_GT(s.waits, 0u);
}

TEST(KernelCache, DifferentKeysCompileInParallel) {
  KernelCache cache;
  std::atomic<int> in_flight{0}, max_in_flight{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      cache.get_or_create("k" + std::to_string(t), [&] {
        int now = ++in_flight;
        int prev = max_in_flight.load();
        while (now > prev && !max_in_flight.compare_exchange_weak(prev, now)) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        --in_flight;
        return make_kernel("k");
      });
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_GT(max_in_flight.load(), 1) << "the cache lock was held across the factory";
}

TEST(KernelCache, FailureReachesEveryWaiterAndIsNotCached) {
  KernelCache cache;
  std::atomic<int> calls{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      try {
        cache.get_or_create("bad", [&]() -> KernelCache::Kernel {
          ++calls;
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          throw BackendError("compile failed: boom");
        });
      } catch (const BackendError& e) {
        if (std::string(e.what()).find("boom") != std::string::npos) ++errors;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 8);
  EXPECT_GE(calls.load(), 1);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.find("bad"), nullptr);
  // A later request tries again and can succeed.
  auto k = cache.get_or_create("bad", [] { return make_kernel("ok now"); });
  EXPECT_EQ(k->source.name, "ok now");
  EXPECT_GE(cache.stats().failures, 1u);
}

TEST(KernelCache, FactoryReturningNullIsAnError) {
  KernelCache cache;
  EXPECT_THROW(cache.get_or_create("null", [] { return KernelCache::Kernel(); }), BackendError);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(KernelCache, ClearDropsEntriesButKernelsInUseSurvive) {
  KernelCache cache;
  auto k = cache.get_or_create("a", [] { return make_kernel("a"); });
  cache.clear();
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(k->source.name, "a");  // still valid through our shared_ptr
  int calls = 0;
  cache.get_or_create("a", [&] { ++calls; return make_kernel("a"); });
  EXPECT_EQ(calls, 1);
}

// The hit path is what every launch pays: measure it (single thread and 4 threads over 64
// keys whose names look like real KernelSource hashes) and print it.
TEST(KernelCache, HitCostIsPrinted) {
  KernelCache cache;
  std::vector<std::string> keys;
  for (int i = 0; i < 64; ++i) {
    char buf[33];
    std::snprintf(buf, sizeof buf, "%016x%016x", i * 2654435761u, i * 40503u + 17);
    keys.push_back(buf);
    cache.get_or_create(keys.back(), [&] { return make_kernel(keys.back()); });
  }
  const int kIters = 200000;
  auto t0 = std::chrono::steady_clock::now();
  size_t sum = 0;
  for (int i = 0; i < kIters; ++i)
    sum += cache.get_or_create(keys[i & 63], [] { return KernelCache::Kernel(); })->source.name.size();
  auto t1 = std::chrono::steady_clock::now();
  const double ns_single = std::chrono::duration<double, std::nano>(t1 - t0).count() / kIters;
  EXPECT_EQ(sum, static_cast<size_t>(kIters) * 32);  // every call was a hit with the right kernel

  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  auto t2 = std::chrono::steady_clock::now();
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIters / 4; ++i) {
        const std::string& key = keys[(i + t) & 63];
        if (cache.get_or_create(key, [] { return KernelCache::Kernel(); })->source.name != key) ++wrong;
      }
    });
  for (auto& th : threads) th.join();
  auto t3 = std::chrono::steady_clock::now();
  const double ns_multi = std::chrono::duration<double, std::nano>(t3 - t2).count() / kIters;
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(cache.stats().misses, 64u);
  std::printf("[ measure  ] kernel cache hit: %.0f ns/lookup single-thread, %.0f ns/lookup "
              "aggregate over 4 threads (goal < 1000 ns)\n", ns_single, ns_multi);
}

}  // namespace
}  // namespace attnjit
