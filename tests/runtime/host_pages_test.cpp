// runtime/host_pages: the huge-page decision in every case (variable, no THP, THP off, madvise,
// always); small allocations keep their alignment and are usable; large ones are 2 MiB-aligned
// and, where the host offers huge pages, backed by them once touched (read back from
// /proc/self/smaps, so the hint is seen to take effect, not only to be given).
#include "runtime/host_pages.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

namespace attnjit {
namespace {

TEST(HostPages, DecidesFromTheVariableAndTheKernelsMode) {
  bool on = true;
  EXPECT_EQ(decide_huge_pages("0", "always [madvise] never", on), "off: ATTNJIT_HUGE_PAGES=0");
  EXPECT_FALSE(on);
  EXPECT_NE(decide_huge_pages(nullptr, "", on).find("no transparent huge pages"), std::string::npos);
  EXPECT_FALSE(on);
  EXPECT_NE(decide_huge_pages(nullptr, "always madvise [never]", on).find("disabled"), std::string::npos);
  EXPECT_FALSE(on);
  EXPECT_EQ(decide_huge_pages(nullptr, "always [madvise] never", on), "on (transparent huge pages: madvise)");
  EXPECT_TRUE(on);
  EXPECT_EQ(decide_huge_pages("1", "[always] madvise never", on), "on (transparent huge pages: always)");
  EXPECT_TRUE(on);
}

TEST(HostPages, SmallAllocationsKeepTheirAlignment) {
  for (size_t bytes : {size_t(0), size_t(1), size_t(100), size_t(4096), kHugePageBytes - 1}) {
    void* p = allocate_host(bytes, 64);
    ASSERT_NE(p, nullptr) << bytes;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u) << bytes;
    std::memset(p, 0xab, bytes);
    release_host(p);
  }
}

TEST(HostPages, LargeAllocationsAreBackedByHugePagesWhereOffered) {
  const size_t bytes = size_t(8) << 20;
  auto* p = static_cast<unsigned char*>(allocate_host(bytes, 64));
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, bytes);  // the pages are backed when first touched
  unsigned long long sum = 0;
  for (size_t i = 0; i < bytes; i += 4096) sum += p[i];
  EXPECT_EQ(sum, bytes / 4096);
  const long long huge = huge_page_bytes_at(p);
  const bool enabled = huge_pages_enabled();
  if (enabled) EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kHugePageBytes, 0u);
  release_host(p);
  if (!enabled) GTEST_SKIP() << "huge pages not offered here: " << huge_page_status();
  ASSERT_GE(huge, 0) << "/proc/self/smaps unreadable";
  EXPECT_GT(huge, 0) << "madvise(MADV_HUGEPAGE) was given (" << huge_page_status()
                     << ") but no huge page backs the buffer";
}

TEST(HostPages, UnmappedAddressesHaveNoMapping) {
  EXPECT_EQ(huge_page_bytes_at(nullptr), -1);
}

}  // namespace
}  // namespace attnjit
