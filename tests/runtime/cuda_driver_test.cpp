#include "runtime/cuda_driver.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "runtime/backend.h"
#include "runtime/cuda_backend.h"

namespace attnjit {
namespace {

TEST(CudaDriver, ArchForComputeCapability) {
  EXPECT_EQ(cuda::arch_for_compute_capability(8, 0), "sm_80");
  EXPECT_EQ(cuda::arch_for_compute_capability(8, 6), "sm_86");
  EXPECT_EQ(cuda::arch_for_compute_capability(8, 7), "sm_86");  // Orin runs sm_86 code
  EXPECT_EQ(cuda::arch_for_compute_capability(8, 9), "sm_89");
  EXPECT_EQ(cuda::arch_for_compute_capability(9, 0), "sm_90a");
  for (auto [major, minor] : {std::pair{7, 5}, std::pair{9, 1}, std::pair{10, 0}, std::pair{12, 0}}) {
    try {
      cuda::arch_for_compute_capability(major, minor);
      ADD_FAILURE() << major << "." << minor << " mapped to an arch";
    } catch (const BackendError& e) {
      EXPECT_NE(std::string(e.what()).find("sm_90a"), std::string::npos) << e.what();  // lists archs
    }
  }
}

TEST(CudaDriver, AvailabilityAlwaysComesWithAReason) {
  std::string why;
  const bool ok = cuda::cuda_available(&why);
  if (ok) {
    EXPECT_GT(cuda::device_count(), 0);
    EXPECT_FALSE(cuda::driver_version().empty());
  } else {
    EXPECT_FALSE(why.empty());
    // Without a driver the reason names the library the way users search for it.
    const bool named = why.find("libcuda.so.1") != std::string::npos || why.find("cuInit") != std::string::npos ||
                       why.find("no CUDA device") != std::string::npos || why.find("ATTNJIT_DISABLE_CUDA") != std::string::npos;
    EXPECT_TRUE(named) << why;
    EXPECT_THROW(CudaBackend{}, BackendError);
  }
  EXPECT_NO_THROW(cuda::cuda_available(nullptr));
}

TEST(CudaDriver, NoDriverReasonSaysNoNvidiaDriver) {
  std::string why;
  if (cuda::cuda_available(&why) || why.find("libcuda.so.1") == std::string::npos)
    GTEST_SKIP() << "libcuda.so.1 is present here (" << (why.empty() ? "usable" : why) << ")";
  EXPECT_NE(why.find("not found (no NVIDIA driver)"), std::string::npos) << why;
  try {
    cuda::driver();
    ADD_FAILURE() << "driver() succeeded without libcuda";
  } catch (const BackendError& e) {
    EXPECT_NE(std::string(e.what()).find("libcuda.so.1"), std::string::npos) << e.what();
  }
}

TEST(CudaDriver, DisableEnvironmentVariableWins) {
  const char* old = std::getenv("ATTNJIT_DISABLE_CUDA");
  std::string saved = old ? old : "";
  ::setenv("ATTNJIT_DISABLE_CUDA", "1", 1);
  std::string why;
  EXPECT_FALSE(cuda::cuda_available(&why));
  EXPECT_NE(why.find("ATTNJIT_DISABLE_CUDA"), std::string::npos) << why;
  if (old) ::setenv("ATTNJIT_DISABLE_CUDA", saved.c_str(), 1); else ::unsetenv("ATTNJIT_DISABLE_CUDA");
}

TEST(CudaDriver, CheckNamesCallErrorAndKernel) {
  EXPECT_NO_THROW(cuda::check(cuda::CUDA_SUCCESS, "cuInit"));
  try {
    cuda::check(2, "cuMemAlloc(64 bytes)", "prefill_sm80/some_key");  // 2 = CUDA_ERROR_OUT_OF_MEMORY
    ADD_FAILURE() << "check(2) did not throw";
  } catch (const BackendError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("cuMemAlloc(64 bytes) failed"), std::string::npos) << m;
    EXPECT_NE(m.find("[kernel prefill_sm80/some_key]"), std::string::npos) << m;
    // With a driver: "CUDA_ERROR_OUT_OF_MEMORY (out of memory)"; without: "CUDA error 2 (...)".
    const bool has_name = m.find("CUDA_ERROR_OUT_OF_MEMORY") != std::string::npos || m.find("CUDA error 2") != std::string::npos;
    EXPECT_TRUE(has_name) << m;
  }
}

TEST(CudaDriver, DeviceTargetHasTheRealLimits) {
  std::string why;
  if (!cuda::cuda_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
  Target t = cuda::device_target(0);
  EXPECT_EQ(t.platform, Platform::Cuda);
  EXPECT_FALSE(t.device_name.empty());
  EXPECT_GT(t.sm_count, 0);
  EXPECT_GE(t.smem_per_block, 48 * 1024);
  EXPECT_GE(t.smem_per_sm, t.smem_per_block);
  EXPECT_EQ(t.arch, cuda::arch_for_compute_capability(t.cc_major, t.cc_minor));
  std::printf("[ device   ] %s: %s, %d SMs, %lld B smem/block opt-in, driver CUDA %s\n", t.arch.c_str(),
              t.device_name.c_str(), t.sm_count, static_cast<long long>(t.smem_per_block),
              cuda::driver_version().c_str());
}

}  // namespace
}  // namespace attnjit
