// runtime/cpu/cpu_backend: memory, launch, timing, the in-memory kernel cache, and the disk
// cache — including that a second PROCESS links the cached object without compiling.
#include "runtime/cpu/cpu_backend.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <thread>

#include "codegen/kernel_template.h"
#include "codegen/registry.h"
#include "prefill_cpu_harness.h"

namespace attnjit::test {
namespace {

constexpr const char* kChildEnv = "ATTNJIT_CPU_TEST_CHILD_CACHE";

// The problem every disk-cache test uses (small, so each compile is quick).
PrefillCase cache_case() {
  return {.dtype = DType::BF16, .head_dim = 32, .mask = {MaskKind::SlidingWindow, 9, 4}, .heads_q = 2, .heads_kv = 1,
          .seqlen_q = 40, .seqlen_k = 50};
}

KernelSource cache_source(const Backend& be) {
  ProblemSpec spec = cache_case().spec();
  const auto& t = select_template(spec, be.target());
  return t.render(spec, t.default_config(spec, be.target()), be.target());
}

std::unique_ptr<Backend> backend_with_cache(const std::filesystem::path& dir) {
  CpuBackendOptions o;
  o.cache_dir = dir;
  return make_cpu_backend(o);
}

TEST(CpuBackend, Identity) {
  Backend& be = shared_cpu_backend();
  EXPECT_EQ(be.target().platform, Platform::Cpu);
  EXPECT_EQ(be.target().key(), host_cpu_target().key());
  EXPECT_EQ(be.compiler_version().rfind("llvm-14.", 0), 0u) << be.compiler_version();
  EXPECT_NE(be.describe().find(be.target().arch), std::string::npos) << be.describe();
}

TEST(CpuBackend, MemoryRoundTrip) {
  Backend& be = shared_cpu_backend();
  DeviceBuffer buf(be, 1000);
  ASSERT_NE(buf.get(), nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(buf.get()) % 64, 0u);  // vector-aligned
  std::vector<unsigned char> in(1000), out(1000);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<unsigned char>(i * 7);
  be.copy_to_device(buf.get(), in.data(), in.size());
  be.copy_to_host(out.data(), buf.get(), out.size());
  EXPECT_EQ(in, out);
  be.fill_bytes(buf.get(), 0xab, 1000);
  be.copy_to_host(out.data(), buf.get(), out.size());
  EXPECT_EQ(out, std::vector<unsigned char>(1000, 0xab));
}

TEST(CpuBackend, SameSourceCompilesOnceAndConcurrently) {
  TempDirGuard dir{make_temp_dir("cpu-once")};
  auto be = backend_with_cache(dir.path);
  KernelSource src = cache_source(*be);
  std::vector<std::shared_ptr<const CompiledKernel>> got(4);
  std::vector<std::thread> ts;
  for (size_t i = 0; i < got.size(); ++i) ts.emplace_back([&, i] { got[i] = be->get_kernel(src); });
  for (auto& t : ts) t.join();
  for (auto& k : got) EXPECT_EQ(k.get(), got[0].get());
  EXPECT_EQ(cpu_backend_stats(*be).compiles, 1u);
  EXPECT_FALSE(got[0]->from_disk_cache);
  EXPECT_GT(got[0]->compile_ms, 0);
}

TEST(CpuBackend, RejectsForeignKernelsAndSources) {
  Backend& be = shared_cpu_backend();
  KernelSource cuda = cache_source(be);
  cuda.platform = Platform::Cuda;
  cuda.finalize();
  EXPECT_THROW(be.get_kernel(cuda), BackendError);
  CompiledKernel foreign;
  int params = 0;
  EXPECT_THROW(be.launch(foreign, LaunchGeometry{}, &params, sizeof params), BackendError);
}

TEST(CpuBackend, BrokenSourceThrowsWithDiagnostic) {
  Backend& be = shared_cpu_backend();
  KernelSource src = cache_source(be);
  src.text += "\nthis is not C++;\n";
  src.finalize();
  try {
    be.get_kernel(src);
    FAIL() << "broken source compiled";
  } catch (const BackendError& e) {
    EXPECT_NE(std::string(e.what()).find("error: expected unqualified-id"), std::string::npos) << e.what();
  }
  // A failed compile is not cached: the next attempt compiles (and fails) again.
  EXPECT_THROW(be.get_kernel(src), BackendError);
}

TEST(CpuBackend, TimeReturnsOneSamplePerRep) {
  Backend& be = shared_cpu_backend();
  const PrefillCase c = cache_case();
  run_prefill_case(c);  // compiles and checks the kernel first
  ProblemSpec spec = c.spec();
  const auto& t = select_template(spec, be.target());
  auto k = be.get_kernel(cache_source(be));
  // Launch on dummy memory with zero query rows: the kernel has no work items.
  PrefillParams p{};
  p.batch = 1;
  p.heads_q = 2;
  p.heads_kv = 1;
  RunShape shape{1, 2, 1, 0, 0};
  Backend::Launch l{k.get(), t.geometry(spec, t.default_config(spec, be.target()), be.target(), shape),
                    std::vector<unsigned char>((unsigned char*)&p, (unsigned char*)&p + sizeof p)};
  EXPECT_EQ(l.geometry.grid[0], 0u);
  auto ts = be.time({l}, 2, 3);
  ASSERT_EQ(ts.size(), 3u);
  for (double x : ts) EXPECT_GE(x, 0);
}

// A launch with several items but little work runs on the calling thread once the kernel's cost
// is known (its first launch goes through the pool); a large one keeps using the pool. Every
// launch is checked against the reference, so both paths compute the same thing.
TEST(CpuBackend, SmallLaunchesRunOnTheCallingThread) {
  TempDirGuard dir{make_temp_dir("cpu-inline")};
  CpuBackendOptions o;
  o.cache_dir = dir.path;
  o.workers = 1;
  // A threshold far from both cases' costs, so the test does not depend on this machine's speed.
  o.inline_below_ns = 1'000'000;
  auto be = make_cpu_backend(o);
  if (be->target().sm_count < 2) GTEST_SKIP() << "one hardware thread: every launch runs on the caller";
  // Two work items (one per head) of 16 x 16 keys: microseconds each.
  const PrefillCase small{.head_dim = 32, .heads_q = 2, .heads_kv = 2, .seqlen_q = 16, .seqlen_k = 16};
  run_prefill_case(small, nullptr, be.get());
  EXPECT_EQ(cpu_backend_stats(*be).inline_launches, 0u) << "the first launch has no cost estimate yet";
  // A launch preempted mid-item overestimates the cost and stays pooled once; a few more settle it.
  for (int i = 0; i < 5; ++i) run_prefill_case(small, nullptr, be.get());
  const uint64_t inlined = cpu_backend_stats(*be).inline_launches;
  EXPECT_GE(inlined, 1u);
  // Milliseconds in all (1024 x 1024 keys x head dim 64, two heads: 0.5 GFLOP): always pooled.
  const PrefillCase large{.head_dim = 64, .heads_q = 2, .heads_kv = 2, .seqlen_q = 1024, .seqlen_k = 1024};
  for (int i = 0; i < 3; ++i) run_prefill_case(large, nullptr, be.get());
  EXPECT_EQ(cpu_backend_stats(*be).inline_launches, inlined);

  // inline_below_ns = 0: every launch goes through the pool.
  o.inline_below_ns = 0;
  auto pooled = make_cpu_backend(o);
  for (int i = 0; i < 4; ++i) run_prefill_case(small, nullptr, pooled.get());
  EXPECT_EQ(cpu_backend_stats(*pooled).inline_launches, 0u);
}

// A second process finds the object on disk and links it without compiling. The parent
// compiles into a fresh cache dir, then runs this test binary again with kChildEnv set and a
// filter selecting the child test below.
TEST(CpuBackendDiskCache, SecondProcessSkipsCompilation) {
  TempDirGuard dir{make_temp_dir("cpu-disk")};
  {
    auto be = backend_with_cache(dir.path);
    auto k = be->get_kernel(cache_source(*be));
    EXPECT_FALSE(k->from_disk_cache);
    EXPECT_EQ(cpu_backend_stats(*be).compiles, 1u);
  }
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  ASSERT_GT(n, 0);
  exe[n] = '\0';
  std::string cmd = std::string(kChildEnv) + "='" + dir.path.string() + "' '" + exe +
                    "' --gtest_filter=CpuBackendDiskCache.ChildLinksCachedObject 2>&1";
  FILE* f = popen(cmd.c_str(), "r");
  ASSERT_NE(f, nullptr);
  std::string out;
  std::array<char, 4096> buf;
  while (size_t r = fread(buf.data(), 1, buf.size(), f)) out.append(buf.data(), r);
  int status = pclose(f);
  ASSERT_TRUE(WIFEXITED(status)) << out;
  EXPECT_EQ(WEXITSTATUS(status), 0) << out;
  // It must have run (not skipped) and passed.
  EXPECT_NE(out.find("[  PASSED  ] 1 test"), std::string::npos) << out;
  EXPECT_EQ(out.find("SKIPPED"), std::string::npos) << out;
}

TEST(CpuBackendDiskCache, ChildLinksCachedObject) {
  const char* dir = std::getenv(kChildEnv);
  if (!dir) GTEST_SKIP() << "runs only as the child process of SecondProcessSkipsCompilation";
  auto be = backend_with_cache(dir);
  auto k = be->get_kernel(cache_source(*be));
  EXPECT_TRUE(k->from_disk_cache);
  EXPECT_EQ(k->compile_ms, 0);
  EXPECT_EQ(cpu_backend_stats(*be).compiles, 0u);
  EXPECT_EQ(cpu_backend_stats(*be).disk_hits, 1u);
  // And the linked object computes the right thing.
  run_prefill_case(cache_case(), nullptr, be.get());
  EXPECT_EQ(cpu_backend_stats(*be).compiles, 0u);
}

TEST(CpuBackendDiskCache, CorruptFileIsRecompiledAndReplaced) {
  TempDirGuard dir{make_temp_dir("cpu-corrupt")};
  std::filesystem::path file;
  {
    auto be = backend_with_cache(dir.path);
    be->get_kernel(cache_source(*be));
  }
  // Exactly one object file was written; flip bytes in its middle.
  for (auto& e : std::filesystem::recursive_directory_iterator(dir.path))
    if (e.is_regular_file() && e.path().extension() == ".bin") file = e.path();
  ASSERT_FALSE(file.empty());
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(std::filesystem::file_size(file) / 2));
    f.write("\x01\x02\x03\x04", 4);
  }
  auto be = backend_with_cache(dir.path);
  auto k = be->get_kernel(cache_source(*be));
  EXPECT_FALSE(k->from_disk_cache);
  EXPECT_EQ(cpu_backend_stats(*be).compiles, 1u);
  run_prefill_case(cache_case(), nullptr, be.get());
  // The replacement is good: a third backend hits it.
  auto be3 = backend_with_cache(dir.path);
  EXPECT_TRUE(be3->get_kernel(cache_source(*be3))->from_disk_cache);
}

TEST(CpuBackendDiskCache, DisabledCacheWritesNothing) {
  TempDirGuard dir{make_temp_dir("cpu-nocache")};
  CpuBackendOptions o;
  o.cache_dir = dir.path;
  o.use_disk_cache = false;
  auto be = make_cpu_backend(o);
  be->get_kernel(cache_source(*be));
  EXPECT_TRUE(std::filesystem::is_empty(dir.path));
}

TEST(CpuBackend, DumpDirGetsSourceIrAndAssembly) {
  TempDirGuard dir{make_temp_dir("cpu-dump")};
  CpuBackendOptions o;
  o.use_disk_cache = false;
  o.dump_dir = dir.path / "dump";
  o.keep_asm = true;
  auto be = make_cpu_backend(o);
  KernelSource src = cache_source(*be);
  auto k = be->get_kernel(src);
  auto* ck = dynamic_cast<const CpuCompiledKernel*>(k.get());
  ASSERT_NE(ck, nullptr);
  EXPECT_NE(ck->ir.find("define"), std::string::npos);
  EXPECT_NE(ck->asm_text.find(src.entry), std::string::npos);
  for (const char* ext : {".cpp", ".ll", ".s"})
    EXPECT_GT(std::filesystem::file_size(o.dump_dir / (src.hash + ext)), 100u) << ext;
}

}  // namespace
}  // namespace attnjit::test
