// cli/cpu_read_bandwidth: the read-bandwidth probe of `attnjit bench-decode --backend cpu` reads
// the whole buffer in every pattern (it checks the sum itself), reports the fastest pattern's best
// pass with that pattern's median no faster than it, and refuses inputs it cannot measure.
#include "cli/cpu_read_bandwidth.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

#include <unistd.h>

namespace attnjit::cli {
namespace {

TEST(CpuReadBandwidth, ReportsTheFastestPatternsBestAndMedian) {
  for (int threads : {1, 2}) {
    const ReadBandwidth bw = measure_read_bandwidth(threads, size_t(8) << 20, 3);
    EXPECT_GT(bw.gbps, 0.0) << threads << " thread(s)";
    EXPECT_GT(bw.median, 0.0) << threads << " thread(s)";
    EXPECT_LE(bw.median, bw.gbps) << threads << " thread(s): the median pass is not faster than the best";
    EXPECT_GT(bw.cpu_gbps, 0.0) << threads << " thread(s)";
  }
}

TEST(CpuReadBandwidth, UnevenBufferSizesAreTrimmedNotOverread) {
  // 1 MiB + 100 bytes over 3 threads: every thread's share is whole steps of every pattern.
  EXPECT_GT(measure_read_bandwidth(3, (size_t(1) << 20) + 100, 1).gbps, 0.0);
}

TEST(CpuReadBandwidth, EvictionReadsTwiceTheLastLevelCache) {
  const long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE), l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
  const size_t n = eviction_bytes();
  EXPECT_GE(n, size_t(256) << 20);
  if (l3 > 0) EXPECT_GE(n, 2 * size_t(l3)) << "L3 " << l3 << " bytes";
  if (l2 > 0) EXPECT_GE(n, 2 * size_t(l2)) << "L2 " << l2 << " bytes";
  EXPECT_LE(n, std::max(size_t(256) << 20, 2 * size_t(std::max(l3, l2))));
}

TEST(CpuReadBandwidth, RefusesWhatItCannotMeasure) {
  EXPECT_THROW(measure_read_bandwidth(0), std::invalid_argument);
  EXPECT_THROW(measure_read_bandwidth(1, size_t(1) << 20, 0), std::invalid_argument);
  EXPECT_THROW(measure_read_bandwidth(4, 1024, 1), std::invalid_argument);  // under one step per thread
}

}  // namespace
}  // namespace attnjit::cli
