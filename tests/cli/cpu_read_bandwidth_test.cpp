// cli/cpu_read_bandwidth: the read-bandwidth probe of `attnjit bench-decode --backend cpu` reads
// the whole buffer in every pattern (it checks the sum itself), reports the fastest pattern's best
// pass with that pattern's median no faster than it, and refuses inputs it cannot measure.
#include "cli/cpu_read_bandwidth.h"

#include <gtest/gtest.h>

#include <stdexcept>

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

TEST(CpuReadBandwidth, RefusesWhatItCannotMeasure) {
  EXPECT_THROW(measure_read_bandwidth(0), std::invalid_argument);
  EXPECT_THROW(measure_read_bandwidth(1, size_t(1) << 20, 0), std::invalid_argument);
  EXPECT_THROW(measure_read_bandwidth(4, 1024, 1), std::invalid_argument);  // under one step per thread
}

}  // namespace
}  // namespace attnjit::cli
