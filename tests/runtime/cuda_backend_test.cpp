// CudaBackend on a real device: memory, compile + load + launch of small hand-written kernels,
// the > 48 KB shared-memory opt-in, the disk cache across backend instances, compile-once under
// concurrency, event timing and launch errors. Skipped (with the reason) without a device.
#include "runtime/cuda_backend.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "runtime/cuda_driver.h"
#include "runtime/nvrtc_compiler.h"

namespace attnjit {
namespace {
namespace fs = std::filesystem;

// A kernel with a template entry (exercises name expressions / lowered names) and one by-value
// struct parameter, like the attention kernels.
constexpr const char* kAxpySource = R"(
struct AxpyParams { float* y; const float* x; float a; int n; };
template <int kUnroll>
__global__ void axpy(const AxpyParams p) {
  int i = (blockIdx.x * blockDim.x + threadIdx.x) * kUnroll;
  for (int u = 0; u < kUnroll; ++u)
    if (i + u < p.n) p.y[i + u] += p.a * p.x[i + u];
}
)";
struct AxpyParams {
  float* y;
  const float* x;
  float a;
  int n;
};

// Uses 64 KB of dynamic shared memory: launching needs the opt-in above 48 KB.
constexpr const char* kSmemSource = R"(
struct SmemParams { float* out; int n; };
extern "C" __global__ void reverse_through_smem(const SmemParams p) {
  extern __shared__ float buf[];
  for (int i = threadIdx.x; i < p.n; i += blockDim.x) buf[i] = (float)i;
  __syncthreads();
  for (int i = threadIdx.x; i < p.n; i += blockDim.x) p.out[i] = buf[p.n - 1 - i];
}
)";
struct SmemParams {
  float* out;
  int n;
};

KernelSource make_source(const std::string& name, const std::string& text, const std::string& entry,
                         const std::string& arch, const std::string& salt = "") {
  KernelSource s;
  s.platform = Platform::Cuda;
  s.name = name;
  s.text = text + salt;
  s.entry = entry;
  s.options = {"-std=c++17"};
  s.arch = arch;
  s.finalize();
  return s;
}

// Runs without a GPU: the kernels the device tests below launch are valid CUDA for every arch
// (so a failure on the GPU machine is about the backend, not the test's own sources).
TEST(CudaBackendTestKernels, CompileForEveryArch) {
  std::string why;
  if (!Nvrtc::available(&why)) GTEST_SKIP() << "NVRTC unavailable: " << why;
  for (const std::string& arch : Target::cuda_archs()) {
    NvrtcResult a = Nvrtc::get().compile(make_source("test/axpy", kAxpySource, "axpy<2>", arch));
    EXPECT_FALSE(a.cubin.empty()) << arch;
    EXPECT_NE(a.lowered_name.find("axpy"), std::string::npos) << a.lowered_name;
    EXPECT_GT(a.resources.registers, 0) << arch << " ptxas log:\n" << a.log;
    // A second compile of the same source still reports resources (NVRTC 12.9+ would answer
    // it from its own cache, without ptxas's report, unless told --no-cache).
    NvrtcResult again = Nvrtc::get().compile(make_source("test/axpy", kAxpySource, "axpy<2>", arch));
    EXPECT_EQ(again.resources.registers, a.resources.registers) << arch << " ptxas log:\n" << again.log;
    NvrtcResult b = Nvrtc::get().compile(make_source("test/smem", kSmemSource, "reverse_through_smem", arch));
    EXPECT_EQ(b.lowered_name, "reverse_through_smem") << arch;
  }
}

class CudaBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!cuda::cuda_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
    static std::atomic<int> n{0};
    dir_ = fs::temp_directory_path() / ("attnjit-cuda-backend-test-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(n++));
    fs::remove_all(dir_);
    CudaBackendOptions o;
    o.cache_dir = dir_;
    be_ = std::make_unique<CudaBackend>(o);
  }
  void TearDown() override {
    be_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Runs y += a * x over n floats with a compiled axpy kernel and returns y.
  std::vector<float> run_axpy(const CompiledKernel& k, int n) {
    std::vector<float> x(n), y(n);
    for (int i = 0; i < n; ++i) {
      x[i] = static_cast<float>(i);
      y[i] = 1.0f;
    }
    DeviceBuffer dx(*be_, n * 4), dy(*be_, n * 4);
    be_->copy_to_device(dx.get(), x.data(), n * 4);
    be_->copy_to_device(dy.get(), y.data(), n * 4);
    AxpyParams p{static_cast<float*>(dy.get()), static_cast<const float*>(dx.get()), 2.0f, n};
    LaunchGeometry g;
    g.grid[0] = static_cast<unsigned>((n + 255) / 256);
    g.block[0] = 128;  // unroll 2
    be_->launch(k, g, &p, sizeof p);
    be_->synchronize();
    be_->copy_to_host(y.data(), dy.get(), n * 4);
    return y;
  }

  fs::path dir_;
  std::unique_ptr<CudaBackend> be_;
};

TEST_F(CudaBackendTest, DescribesTheDevice) {
  EXPECT_NE(be_->describe().find(be_->target().device_name), std::string::npos);
  EXPECT_EQ(be_->compiler_version().rfind("nvrtc-", 0), 0u);
  EXPECT_EQ(be_->target().platform, Platform::Cuda);
}

TEST_F(CudaBackendTest, MemoryRoundTripAndFill) {
  const size_t n = 1 << 20;
  std::vector<unsigned char> in(n), out(n);
  for (size_t i = 0; i < n; ++i) in[i] = static_cast<unsigned char>(i * 7);
  DeviceBuffer b(*be_, n);
  be_->copy_to_device(b.get(), in.data(), n);
  be_->copy_to_host(out.data(), b.get(), n);
  EXPECT_EQ(in, out);
  be_->fill_bytes(b.get(), 0xab, n);
  be_->copy_to_host(out.data(), b.get(), n);
  for (size_t i = 0; i < n; i += 4099) ASSERT_EQ(out[i], 0xab);
  EXPECT_EQ(be_->allocate(0), nullptr);
}

TEST_F(CudaBackendTest, CompilesLoadsAndLaunchesATemplateEntry) {
  auto k = be_->get_kernel(make_source("test/axpy", kAxpySource, "axpy<2>", be_->target().arch));
  EXPECT_FALSE(k->from_disk_cache);
  EXPECT_GT(k->compile_ms, 0);
  EXPECT_GT(k->resources.registers, 0) << "ptxas log:\n" << k->log;
  auto y = run_axpy(*k, 1000);
  for (int i = 0; i < 1000; ++i) ASSERT_FLOAT_EQ(y[i], 1.0f + 2.0f * i) << i;
}

TEST_F(CudaBackendTest, DynamicSharedMemoryAbove48KBIsOptedIn) {
  auto k = be_->get_kernel(make_source("test/smem", kSmemSource, "reverse_through_smem", be_->target().arch));
  const int n = 16384;  // 64 KB of floats
  DeviceBuffer out(*be_, n * 4);
  be_->fill_bytes(out.get(), 0xff, n * 4);
  SmemParams p{static_cast<float*>(out.get()), n};
  LaunchGeometry g;
  g.block[0] = 256;
  g.dynamic_smem = n * 4;
  be_->launch(*k, g, &p, sizeof p);
  be_->synchronize();
  std::vector<float> h(n);
  be_->copy_to_host(h.data(), out.get(), n * 4);
  for (int i = 0; i < n; ++i) ASSERT_EQ(h[i], static_cast<float>(n - 1 - i)) << i;
  // Beyond the device's opt-in maximum: a clear error naming the kernel, not a launch failure.
  g.dynamic_smem = static_cast<unsigned>(be_->target().smem_per_block + 1024);
  try {
    be_->launch(*k, g, &p, sizeof p);
    ADD_FAILURE() << "launch above the shared-memory limit succeeded";
  } catch (const BackendError& e) {
    EXPECT_NE(std::string(e.what()).find("test/smem"), std::string::npos) << e.what();
  }
}

TEST_F(CudaBackendTest, SecondBackendLoadsFromTheDiskCache) {
  const KernelSource src = make_source("test/axpy-disk", kAxpySource, "axpy<2>", be_->target().arch);
  auto k1 = be_->get_kernel(src);
  EXPECT_FALSE(k1->from_disk_cache);
  EXPECT_EQ(be_->disk_cache_stats()->stores, 1u);
  CudaBackendOptions o;
  o.cache_dir = dir_;
  CudaBackend second(o);
  auto k2 = second.get_kernel(src);
  EXPECT_TRUE(k2->from_disk_cache);
  EXPECT_EQ(k2->compile_ms, 0);
  EXPECT_EQ(k2->resources.registers, k1->resources.registers);
  EXPECT_EQ(second.disk_cache_stats()->hits, 1u);
  // The disk-loaded kernel runs (on the first backend's context: same device, same primary ctx).
  auto y = run_axpy(*k2, 777);
  for (int i = 0; i < 777; ++i) ASSERT_FLOAT_EQ(y[i], 1.0f + 2.0f * i);
}

TEST_F(CudaBackendTest, CorruptCachedFileIsRecompiled) {
  const KernelSource src = make_source("test/axpy-corrupt", kAxpySource, "axpy<2>", be_->target().arch);
  be_->get_kernel(src);
  DiskCache cache(dir_, "cubin");
  const fs::path p = cache.path_for(be_->disk_key(src));
  ASSERT_TRUE(fs::exists(p));
  fs::resize_file(p, fs::file_size(p) / 2);  // a run killed mid-write (without rename) looks like this
  CudaBackendOptions o;
  o.cache_dir = dir_;
  CudaBackend second(o);
  auto k = second.get_kernel(src);
  EXPECT_FALSE(k->from_disk_cache);
  EXPECT_EQ(second.disk_cache_stats()->corrupt, 1u);
  auto y = run_axpy(*k, 100);
  EXPECT_FLOAT_EQ(y[99], 1.0f + 2.0f * 99);
}

TEST_F(CudaBackendTest, ConcurrentGetKernelCompilesOnce) {
  const KernelSource src = make_source("test/axpy-concurrent", kAxpySource, "axpy<4>", be_->target().arch);
  std::vector<std::shared_ptr<const CompiledKernel>> got(8);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < got.size(); ++t) threads.emplace_back([&, t] { got[t] = be_->get_kernel(src); });
  for (auto& th : threads) th.join();
  for (auto& k : got) EXPECT_EQ(k.get(), got[0].get());
  EXPECT_EQ(be_->memory_cache_stats().misses, 1u);
}

TEST_F(CudaBackendTest, LaunchesFromAnotherThreadWithoutACurrentContext) {
  auto k = be_->get_kernel(make_source("test/axpy-thread", kAxpySource, "axpy<2>", be_->target().arch));
  std::vector<float> y;
  std::thread t([&] { y = run_axpy(*k, 300); });  // a fresh thread has no current context
  t.join();
  ASSERT_EQ(y.size(), 300u);
  EXPECT_FLOAT_EQ(y[299], 1.0f + 2.0f * 299);
}

TEST_F(CudaBackendTest, TimesWithEvents) {
  auto k = be_->get_kernel(make_source("test/axpy-time", kAxpySource, "axpy<2>", be_->target().arch));
  const int n = 1 << 22;
  DeviceBuffer dx(*be_, n * 4), dy(*be_, n * 4);
  be_->fill_bytes(dx.get(), 0, n * 4);
  be_->fill_bytes(dy.get(), 0, n * 4);
  AxpyParams p{static_cast<float*>(dy.get()), static_cast<const float*>(dx.get()), 1.0f, n};
  Backend::Launch l{k.get(), {}, {}};
  l.geometry.grid[0] = n / 256;
  l.geometry.block[0] = 128;
  l.args.assign(reinterpret_cast<unsigned char*>(&p), reinterpret_cast<unsigned char*>(&p) + sizeof p);
  auto ms = be_->time({l}, 2, 5);
  ASSERT_EQ(ms.size(), 5u);
  for (double t : ms) {
    EXPECT_GT(t, 0.0);
    EXPECT_LT(t, 1000.0);
  }
}

TEST_F(CudaBackendTest, ErrorsNameTheKernel) {
  auto k = be_->get_kernel(make_source("test/axpy-errors", kAxpySource, "axpy<2>", be_->target().arch));
  AxpyParams p{nullptr, nullptr, 1.0f, 0};
  LaunchGeometry g;
  g.block[0] = 4096;  // more threads than any block may have
  try {
    be_->launch(*k, g, &p, sizeof p);
    ADD_FAILURE() << "launch with 4096 threads per block succeeded";
  } catch (const BackendError& e) {
    EXPECT_NE(std::string(e.what()).find("test/axpy-errors"), std::string::npos) << e.what();
  }
  // Wrong argument size (only detectable where the driver reports parameter sizes).
  g.block[0] = 32;
  try {
    be_->launch(*k, g, &p, sizeof p - 8);
  } catch (const BackendError& e) {
    EXPECT_NE(std::string(e.what()).find("bytes"), std::string::npos) << e.what();
  }
  be_->synchronize();
  // A compile error carries the NVRTC log.
  try {
    be_->get_kernel(make_source("test/broken", "this is not CUDA", "nothing", be_->target().arch));
    ADD_FAILURE() << "a broken source compiled";
  } catch (const BackendError& e) {
    EXPECT_NE(std::string(e.what()).find("test/broken"), std::string::npos) << e.what();
  }
  // A source for an arch the device cannot run.
  const std::string other = be_->target().cc_major == 9 ? "sm_80" : "sm_90a";
  EXPECT_THROW(be_->get_kernel(make_source("test/other-arch", kAxpySource, "axpy<2>", other)), BackendError);
}

}  // namespace
}  // namespace attnjit
