// Can one core hide arithmetic under a memory stream, and which row orders let it? One thread
// reads a buffer far larger than the caches (evicted before every pass) in 4 KiB rows, as the CPU
// decode kernel reads K and V, doing W dependent-free FMAs per 64-byte line, in three orders:
//   rows 1: each row start to end (a plain stream);
//   rows R: R consecutive rows interleaved, SEG bytes of each in turn (the kernel's Q.K^T walks
//           QJ rows this way, its P.V chunks JC rows);
// each without and with a software prefetch 16 rows ahead (prefetcht1, one per line, as the
// kernel's prefetch_span). Compare a line's GB/s with the warm rate of its W (printed) to see
// whether the stream overlaps the arithmetic (min of the two) or adds to it. A first line compares
// the load widths of a plain stream (the bandwidth probe's 16-byte loads against full vectors).
//   stream_overlap [MIB]   (default 256)
// Built and run by bench/cpu_stream_overlap.sh (AVX-512 hosts; 8-lane AVX2 elsewhere).
#include <immintrin.h>
#if !defined(__AVX512F__) && !(defined(__AVX2__) && defined(__FMA__))
#error "stream_overlap needs AVX-512F or AVX2 with FMA (built with -march=native)"
#endif
#include "thread_seconds.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

#if defined(__AVX512F__)
typedef __m512 F;
inline F load(const char* p) { return _mm512_load_ps((const float*)p); }
inline F fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
inline F add(F a, F b) { return _mm512_add_ps(a, b); }
inline F splat(float x) { return _mm512_set1_ps(x); }
inline float total(F x) { return _mm512_reduce_add_ps(x); }
constexpr int kLineVecs = 1;
#else
typedef __m256 F;
inline F load(const char* p) { return _mm256_load_ps((const float*)p); }
inline F fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
inline F add(F a, F b) { return _mm256_add_ps(a, b); }
inline F splat(float x) { return _mm256_set1_ps(x); }
inline float total(F x) {
  alignas(32) float t[8];
  _mm256_store_ps(t, x);
  return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}
constexpr int kLineVecs = 2;
#endif
constexpr size_t kRow = 4096;

// W vector FMAs per 64-byte line on 8 independent accumulators (no chain longer than the FMA latency allows).
template <int W>
float walk(const char* p, size_t bytes, int rows, int seg, int ahead_rows) {
  F acc[8];
  for (F& a : acc) a = splat(0.f);
  const F m = splat(0.999f);
  F s = splat(0.f);
  const size_t group = size_t(rows) * kRow;
  for (size_t g = 0; g + group <= bytes; g += group)
    for (size_t off = 0; off < kRow; off += size_t(seg))
      for (int r = 0; r < rows; ++r) {
        const char* row = p + g + size_t(r) * kRow + off;
        for (int c = 0; c < seg; c += 64) {
          if (ahead_rows && g + group + size_t(ahead_rows) * kRow <= bytes)
            _mm_prefetch(row + c + size_t(ahead_rows) * kRow, _MM_HINT_T1);
          for (int v = 0; v < kLineVecs; ++v) {
            const F x = load(row + c + v * (64 / kLineVecs));
            s = add(s, x);
            for (int w = 0; w < W / kLineVecs; ++w) acc[w % 8] = fma(acc[w % 8], m, x);
          }
        }
      }
  for (const F& a : acc) s = add(s, a);
  return total(s);
}

// The read-bandwidth probe's loop (cli/cpu_read_bandwidth.cpp): 16-byte loads, four per line.
float narrow(const char* p, size_t bytes, int, int, int) {
  __m128 acc[16];
  for (__m128& a : acc) a = _mm_setzero_ps();
  for (size_t i = 0; i + 256 <= bytes; i += 256)
    for (int k = 0; k < 16; ++k) acc[k] = _mm_add_ps(acc[k], _mm_load_ps((const float*)(p + i + 16 * k)));
  for (int k = 1; k < 16; ++k) acc[0] = _mm_add_ps(acc[0], acc[k]);
  alignas(16) float t[4];
  _mm_store_ps(t, acc[0]);
  return t[0] + t[1] + t[2] + t[3];
}

}  // namespace

int main(int argc, char** argv) {
  const size_t mib = argc > 1 ? size_t(std::atoll(argv[1])) : 256;
  if (mib < 1) {
    std::fprintf(stderr, "usage: %s [MIB >= 1]\n", argv[0]);
    return 2;
  }
  const size_t bytes = mib << 20;
  char* p = static_cast<char*>(std::aligned_alloc(4096, bytes));
  if (!p) {
    std::fprintf(stderr, "stream_overlap: cannot allocate %zu MiB\n", mib);
    return 1;
  }
  for (size_t i = 0; i < bytes / 4; ++i) reinterpret_cast<float*>(p)[i] = 1e-3f * float(i % 100);
  std::vector<unsigned char> junk(64u << 20);
  float sink = 0.f;
  auto rate = [&](auto fn, int rows, int seg, int ahead, bool cold) {
    std::vector<double> gbps;
    const size_t n = cold ? bytes : std::min<size_t>(bytes, 256u << 10);  // warm: an L2-sized prefix
    for (int r = 0; r < 5; ++r) {
      if (cold)
        for (size_t i = 0; i < junk.size(); i += 64) junk[i] += 1;
      else
        sink += fn(p, n, rows, seg, ahead);
      const double t0 = thread_seconds();
      sink += fn(p, n, rows, seg, ahead);
      gbps.push_back(double(n) / (thread_seconds() - t0) / 1e9);
    }
    std::sort(gbps.begin(), gbps.end());
    return gbps[2];
  };
  // Load width alone: on Zen 4 one plain stream of 16-byte loads read 26-27 GB/s where 64-byte
  // loads read 23 (the probe uses the former; the kernel's vectors are the latter).
  std::printf("plain stream, no arithmetic: %d-byte loads %.1f GB/s, 16-byte loads %.1f GB/s\n", 64 / kLineVecs,
              rate(walk<0>, 1, 4096, 0, true), rate(narrow, 1, 4096, 0, true));
  std::printf("FMAs/line  warm GB/s | rows 1 | rows 4 x 128 B | rows 8 x 256 B | the same, prefetched 16 rows ahead\n");
  auto line = [&](auto fn, int w) {
    std::printf("%9d  %9.1f | %6.1f | %14.1f | %14.1f | %6.1f %14.1f %14.1f\n", w, rate(fn, 1, 4096, 0, false),
                rate(fn, 1, 4096, 0, true), rate(fn, 4, 128, 0, true), rate(fn, 8, 256, 0, true),
                rate(fn, 1, 4096, 16, true), rate(fn, 4, 128, 16, true), rate(fn, 8, 256, 16, true));
  };
  line(walk<0>, 0);
  line(walk<4>, 4);
  line(walk<8>, 8);
  line(walk<16>, 16);
  std::free(p);
  return sink == 1234.5f ? 1 : 0;  // keeps the sums live
}
