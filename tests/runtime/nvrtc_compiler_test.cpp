#include "runtime/nvrtc_compiler.h"

#include <gtest/gtest.h>
#include "common/require_nvrtc.h"

namespace attnjit {
namespace {

KernelSource tiny_kernel(const std::string& body, const std::string& arch = "sm_80") {
  KernelSource s;
  s.platform = Platform::Cuda;
  s.name = "test/tiny";
  s.text = "#include \"scale.cuh\"\n" + body;
  s.headers = {{"scale.cuh", "template <int N> __device__ float scale(float x) { return x * N; }\n"}};
  s.entry = "twice<2>";
  s.arch = arch;
  s.options = {"-std=c++17"};
  s.finalize();
  return s;
}

const char* kBody =
    "template <int N> __global__ void twice(float* x) { x[threadIdx.x] = scale<N>(x[threadIdx.x]); }\n";

TEST(Nvrtc, CompilesTemplateWithInMemoryHeaderToCubinAndPtx) {
  REQUIRE_NVRTC();
  auto r = Nvrtc::get().compile(tiny_kernel(kBody), /*want_cubin=*/true, /*want_ptx=*/true);
  EXPECT_FALSE(r.cubin.empty());
  EXPECT_EQ(r.cubin.substr(0, 4), std::string("\x7f" "ELF"));  // CUBIN is an ELF image
  EXPECT_NE(r.ptx.find(".target sm_80"), std::string::npos);
  EXPECT_EQ(r.lowered_name, "_Z5twiceILi2EEvPf");
  EXPECT_GT(r.resources.registers, 0);
  EXPECT_EQ(r.resources.spill_store_bytes, 0);
  EXPECT_GT(r.compile_ms, 0);
  // NVRTC compiles on the calling thread: its CPU time is positive and never above the wall time.
  EXPECT_GT(r.compile_cpu_ms, 0);
  EXPECT_LE(r.compile_cpu_ms, r.compile_ms + 1.0);
}

TEST(Nvrtc, EveryArchCompiles) {
  REQUIRE_NVRTC();
  for (const auto& arch : Target::cuda_archs()) {
    auto r = Nvrtc::get().compile(tiny_kernel(kBody, arch), true, true);
    EXPECT_FALSE(r.cubin.empty()) << arch;
    EXPECT_NE(r.ptx.find(".target " + arch), std::string::npos) << arch;
  }
}

TEST(Nvrtc, CompileErrorCarriesTheLog) {
  REQUIRE_NVRTC();
  try {
    Nvrtc::get().compile(tiny_kernel(std::string(kBody) + "\nthis is not cuda;\n"));
    FAIL() << "expected a compile error";
  } catch (const BackendError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("test/tiny"), std::string::npos) << msg;          // names the kernel
    EXPECT_NE(msg.find("attnjit_kernel.cu"), std::string::npos) << msg;  // carries the log
  }
}

TEST(Nvrtc, VersionIsReported) {
  REQUIRE_NVRTC();
  EXPECT_GE(Nvrtc::get().major(), 12);
  EXPECT_NE(Nvrtc::get().version().find('.'), std::string::npos);
}

TEST(Nvrtc, ParsesResourceUsageOfTheNamedEntry) {
  const std::string log =
      "ptxas info    : Compiling entry function '_Z3fooPf' for 'sm_80'\n"
      "ptxas info    : Function properties for _Z3fooPf\n"
      "    8 bytes stack frame, 16 bytes spill stores, 12 bytes spill loads\n"
      "ptxas info    : Used 168 registers, used 1 barriers, 2048 bytes smem, 400 bytes cmem[0]\n"
      "ptxas info    : Compiling entry function '_Z3barPf' for 'sm_80'\n"
      "ptxas info    : Function properties for _Z3barPf\n"
      "    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
      "ptxas info    : Used 32 registers, used 0 barriers, 360 bytes cmem[0]\n";
  auto foo = Nvrtc::parse_resource_usage(log, "_Z3fooPf");
  EXPECT_EQ(foo.registers, 168);
  EXPECT_EQ(foo.spill_store_bytes, 16);
  EXPECT_EQ(foo.spill_load_bytes, 12);
  EXPECT_EQ(foo.stack_frame_bytes, 8);
  EXPECT_EQ(foo.smem_static_bytes, 2048);
  EXPECT_EQ(foo.const_bytes, 400);
  auto bar = Nvrtc::parse_resource_usage(log, "_Z3barPf");
  EXPECT_EQ(bar.registers, 32);
  EXPECT_EQ(bar.spill_store_bytes, 0);
  EXPECT_EQ(bar.smem_static_bytes, 0);
  EXPECT_EQ(bar.const_bytes, 360);
}

TEST(Nvrtc, ResourceUsageIgnoresLinesWithoutNumbers) {
  const std::string log =
      "ptxas info    : Function properties for k\n"
      "    bytes stack frame, x bytes spill stores, 0 bytes spill loads\n"
      "ptxas info    : Used registers, 12 bytes smem\n"
      "ptxas info    : 0 bytes smem\n";
  auto r = Nvrtc::parse_resource_usage(log, "k");
  EXPECT_EQ(r.registers, 0);          // "Used registers" has no count
  EXPECT_EQ(r.stack_frame_bytes, 0);  // an incomplete frame line changes nothing
  EXPECT_EQ(r.smem_static_bytes, 0);  // the last smem figure wins
}

}  // namespace
}  // namespace attnjit
