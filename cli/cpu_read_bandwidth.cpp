#include "cli/cpu_read_bandwidth.h"

#include "runtime/host_pages.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <time.h>
#include <unistd.h>
#include <vector>

namespace attnjit::cli {
namespace {

// One read pattern: `streams` interleaved streams over a thread's share, 256 bytes of each per
// step into 16 independent accumulators, optionally with a software prefetch `ahead` bytes in
// front of each stream. Which pattern reads fastest depends on the core's prefetchers: on Zen 3,
// 2 prefetched streams of 16-byte steps outran plain scalar streams by 10-30%; on Zen 4 one
// plain stream of 256-byte steps read 27-30 GB/s from one thread where that pattern read 17-20,
// and the decode kernel itself (23 GB/s) outran it. On an Emerald Rapids VM these three read
// 17.8 GB/s from one thread while the kernel, prefetching 64 KiB ahead, read 21 from a 256 MiB
// cache; one stream prefetched 2 or 64 KiB ahead joined them there. A probe slower than the
// kernel bounds nothing, so measure_read_bandwidth takes the best of several patterns.
struct Pattern {
  int streams;
  size_t ahead;  // bytes; 0 = no software prefetch
};
constexpr Pattern kPatterns[] = {{1, 0}, {2, 0}, {2, 8192}, {1, 2048}, {1, 65536}, {2, 65536}};

uint64_t sum_streams(const uint64_t* p, size_t n, const Pattern& pat) {
  typedef uint64_t V2 __attribute__((vector_size(16)));
  constexpr size_t kStep = 256 / sizeof(uint64_t);
  const int ns = pat.streams;
  const size_t q = n / size_t(ns) / kStep * kStep, ahead = pat.ahead / sizeof(uint64_t);
  V2 a[16] = {};
  for (size_t i = 0; i < q; i += kStep)
    for (int s = 0; s < ns; ++s) {
      const uint64_t* r = p + size_t(s) * q + i;
      if (ahead)
        for (size_t c = 0; c < kStep; c += 64 / sizeof(uint64_t))
          __builtin_prefetch(r + ahead + c, 0, 2);  // past the buffer's end is harmless: never faults
      for (int k = 0; k < 16; ++k) {
        V2 x;
        std::memcpy(&x, r + 2 * k, sizeof x);
        a[k] += x;
      }
    }
  uint64_t t = 0;
  for (const V2& x : a) t += x[0] + x[1];
  return t;
}

// Allocated as the CPU backend allocates K and V (runtime/host_pages.h: huge pages where the host
// offers them), so the probe and the kernels it is compared with pay the same for their pages.
struct Words {
  uint64_t* p = nullptr;
  size_t n = 0;
  Words() = default;
  Words(const Words&) = delete;  // owns p
  Words& operator=(const Words&) = delete;
  ~Words() { release_host(p); }
  uint64_t* data() const { return p; }
};

Words& buffer(size_t words) {
  static Words b;
  if (b.n < words) {
    release_host(b.p);
    b.n = 0;
    b.p = static_cast<uint64_t*>(allocate_host(words * sizeof(uint64_t), 64));
    if (!b.p) throw std::runtime_error("measure_read_bandwidth: cannot allocate " + std::to_string(words * 8) + " bytes");
    std::fill(b.p, b.p + words, uint64_t(1));  // written once: every page is backed
    b.n = words;
  }
  return b;
}

}  // namespace

double process_cpu_seconds() {
  timespec t{};
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t) != 0) throw std::runtime_error("clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

ReadBandwidth measure_read_bandwidth(int threads, size_t bytes, int reps) {
  if (threads < 1) throw std::invalid_argument("measure_read_bandwidth: threads must be >= 1");
  if (reps < 1) throw std::invalid_argument("measure_read_bandwidth: reps must be >= 1");
  // Each thread's share a whole number of every pattern's steps (2 streams x 256 bytes).
  const size_t unit = size_t(threads) * 64;
  const size_t words = bytes / 8 / unit * unit;
  if (words == 0) throw std::invalid_argument("measure_read_bandwidth: buffer too small");
  Words& b = buffer(words);
  const size_t share = words / size_t(threads);
  ReadBandwidth best;
  for (const Pattern& pat : kPatterns) {
    std::vector<double> times, cpu_times;
    std::vector<uint64_t> sums(size_t(threads), 0);
    for (int r = 0; r < reps + 1; ++r) {
      const double c0 = process_cpu_seconds();
      auto t0 = std::chrono::steady_clock::now();
      std::vector<std::thread> pool;
      for (int t = 1; t < threads; ++t)
        pool.emplace_back([&, t] { sums[size_t(t)] = sum_streams(b.data() + share * size_t(t), share, pat); });
      sums[0] = sum_streams(b.data(), share, pat);
      for (auto& th : pool) th.join();
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const double c = (process_cpu_seconds() - c0) / threads;
      if (r > 0) {  // the first pass warms the TLB and the threads
        times.push_back(s);
        cpu_times.push_back(c);
      }
    }
    uint64_t total = 0;
    for (uint64_t s : sums) total += s;
    if (total != words)
      throw std::runtime_error("measure_read_bandwidth: read " + std::to_string(total) + " of " +
                               std::to_string(words) + " words (" + std::to_string(pat.streams) + " streams)");
    std::sort(times.begin(), times.end());
    std::sort(cpu_times.begin(), cpu_times.end());
    const double bytes_read = double(words) * 8;
    const ReadBandwidth m{bytes_read / times.front() / 1e9, bytes_read / times[times.size() / 2] / 1e9,
                          bytes_read / cpu_times.front() / 1e9};
    // The fastest pattern by best time; its median and CPU-time figures come with it.
    if (m.gbps > best.gbps) best = m;
  }
  return best;
}

size_t eviction_bytes() {
  const long llc = std::max(sysconf(_SC_LEVEL3_CACHE_SIZE), sysconf(_SC_LEVEL2_CACHE_SIZE));
  return std::max(size_t(256) << 20, llc > 0 ? 2 * size_t(llc) : size_t(0));
}

void evict_caches(size_t bytes) {
  // By reading: a writing pass left the last cache-full of its lines dirty (32 MiB on a 32 MiB
  // L3), and the timed kernel paid for their write-back on top of its own reads. An 8k-token
  // point reads about as much as the L3 holds, so it lost more to that than a 32k one. A model's
  // decode step leaves mostly clean lines behind (weights read, few activations written).
  static std::vector<unsigned char> junk;
  const bool fresh = junk.size() < bytes;
  if (fresh) junk.assign(bytes, 1);
  uint64_t sum = 0;
  for (int pass = 0; pass < (fresh ? 2 : 1); ++pass)  // the first pass writes back assign's lines
    for (size_t i = 0; i < junk.size(); i += 64) sum += junk[i];
  static volatile uint64_t sink;
  sink = sum;
}

}  // namespace attnjit::cli
