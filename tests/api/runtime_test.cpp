// The Runtime facade on a fake backend (host memory, recorded launches, a compile counter):
// plan memoization, config providers, validation before launch, thread safety, and the
// factory's errors when a backend is unavailable.
#include "codegen/registry.h"
#include "attnjit/attnjit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <deque>
#include <optional>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include "api/config_provider.h"
#include "codegen/prefill/arguments.h"
#include "codegen/prefill/sm90_tensor_maps.h"
#include "runtime/cuda_driver.h"
#include "runtime/kernel_cache.h"
#include "templates/prefill/params.h"
#include "common/prefill_problem.h"

namespace attnjit {
namespace {

class FakeBackend final : public Backend {
 public:
  explicit FakeBackend(Target t) : target_(std::move(t)) {}

  const Target& target() const override { return target_; }
  std::string describe() const override { return "fake " + target_.key(); }
  std::string compiler_version() const override { return "fake-1"; }

  std::shared_ptr<const CompiledKernel> get_kernel(const KernelSource& src) override {
    return cache_.get_or_create(src.hash, [&] {
      ++compiles;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a compile takes a while
      auto k = std::make_shared<CompiledKernel>();
      k->source = src;
      return k;
    });
  }

  struct Recorded {
    const CompiledKernel* kernel;
    LaunchGeometry geometry;
    std::vector<unsigned char> args;
    void* stream;
  };
  void launch(const CompiledKernel& kernel, const LaunchGeometry& g, const void* args, size_t size,
              void* stream) override {
    std::lock_guard lock(mu_);
    const auto* p = static_cast<const unsigned char*>(args);
    launches.push_back({&kernel, g, std::vector<unsigned char>(p, p + size), stream});
  }
  void synchronize(void*) override {}
  void* allocate(size_t bytes) override { return std::aligned_alloc(256, (bytes + 255) / 256 * 256); }
  void release(void* p) noexcept override { std::free(p); }
  void copy_to_device(void* d, const void* s, size_t n) override { std::memcpy(d, s, n); }
  void copy_to_host(void* d, const void* s, size_t n) override { std::memcpy(d, s, n); }
  void fill_bytes(void* d, unsigned char v, size_t n) override { std::memset(d, v, n); }
  std::vector<double> time(const std::vector<Launch>&, int, int reps, void*) override {
    return std::vector<double>(static_cast<size_t>(reps), 1.0);
  }

  std::atomic<int> compiles{0};
  std::vector<Recorded> launches;

 private:
  Target target_;
  KernelCache cache_;
  std::mutex mu_;
};

// Counts calls and can hand out an illegal config.
class CountingProvider final : public ConfigProvider {
 public:
  explicit CountingProvider(std::optional<TileConfig> forced = std::nullopt) : forced_(forced) {}
  ConfigChoice choose(const KernelTemplate& t, const ProblemSpec& s, const Target& tg) override {
    ++calls;
    if (forced_) return {*forced_, "test"};
    return {t.default_config(s, tg), "test"};
  }
  std::atomic<int> calls{0};

 private:
  std::optional<TileConfig> forced_;
};

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto be = std::make_unique<FakeBackend>(Target::cuda("sm_80"));
    fake_ = be.get();
    rt_ = std::make_unique<Runtime>(std::move(be));
  }

  // Host buffers for a problem, 256-byte aligned (FakeBackend::allocate).
  PrefillArgs args_for(const PrefillProblem& p) {
    const int eb = dtype_bytes(p.dtype);
    auto buf = [&](int64_t s, int64_t h) {
      bufs_.emplace_back(*fake_, static_cast<size_t>(std::max<int64_t>(p.batch * s * h * p.head_dim * eb, 1)));
      return bufs_.back().get();
    };
    PrefillArgs a;
    a.problem = p;
    a.q = TensorView::bshd(buf(p.seqlen_q, p.heads_q), p.seqlen_q, p.heads_q, p.head_dim);
    a.k = TensorView::bshd(buf(p.seqlen_k, p.heads_kv), p.seqlen_k, p.heads_kv, p.head_dim);
    a.v = TensorView::bshd(buf(p.seqlen_k, p.heads_kv), p.seqlen_k, p.heads_kv, p.head_dim);
    a.o = TensorView::bshd(buf(p.seqlen_q, p.heads_q), p.seqlen_q, p.heads_q, p.head_dim);
    return a;
  }

  static PrefillProblem problem(int64_t sq = 100, int64_t sk = 100) {
    return testing::make_prefill_problem(DType::BF16, 128, {MaskKind::Causal, 0, 0}, sq, sk, 2, 8, 2);
  }

  FakeBackend* fake_ = nullptr;
  std::unique_ptr<Runtime> rt_;
  std::deque<DeviceBuffer> bufs_;
};

TEST_F(RuntimeTest, PrefillLaunchesTheTemplateKernelWithFilledParams) {
  PrefillArgs a = args_for(problem(100, 300));
  std::vector<float> lse(2 * 8 * 100);
  a.lse = LseView::dense(lse.data(), 8, 100);
  int stream_token = 0;
  rt_->prefill(a, &stream_token);
  ASSERT_EQ(fake_->launches.size(), 1u);
  const auto& l = fake_->launches[0];
  EXPECT_EQ(l.stream, &stream_token);
  ASSERT_EQ(l.args.size(), sizeof(PrefillParams));
  PrefillParams p;
  std::memcpy(&p, l.args.data(), sizeof p);
  EXPECT_EQ(p.q, a.q.data);
  EXPECT_EQ(p.k, a.k.data);
  EXPECT_EQ(p.v, a.v.data);
  EXPECT_EQ(p.o, a.o.data);
  EXPECT_EQ(p.lse, lse.data());
  EXPECT_EQ(p.seqlen_q, 100);
  EXPECT_EQ(p.seqlen_k, 300);
  EXPECT_EQ(p.heads_q, 8);
  EXPECT_EQ(p.heads_kv, 2);
  EXPECT_EQ(p.k_row_stride, 2 * 128);
  EXPECT_FLOAT_EQ(p.scale, 1.0f / std::sqrt(128.0f));

  const ProblemSpec spec = ProblemSpec::for_shape(Family::Prefill, DType::BF16, 128, {MaskKind::Causal, 0, 0},
                                                  8, 2, 100, 300);
  const KernelTemplate& t = select_template(spec, rt_->target());
  const TileConfig cfg = t.default_config(spec, rt_->target());
  RunShape shape{2, 8, 2, 100, 300};
  EXPECT_EQ(l.geometry, t.geometry(spec, cfg, rt_->target(), shape));
  EXPECT_EQ(l.kernel->source.hash, t.render(spec, cfg, rt_->target()).hash);
}

TEST_F(RuntimeTest, PlansAreReusedWithinALengthBucket) {
  rt_->prefill(args_for(problem(100, 100)));
  rt_->prefill(args_for(problem(120, 110)));  // same buckets (128, 128): same kernel
  EXPECT_EQ(fake_->compiles.load(), 1);
  EXPECT_EQ(fake_->launches[0].kernel, fake_->launches[1].kernel);
  rt_->prefill(args_for(problem(300, 300)));  // another bucket
  EXPECT_EQ(fake_->compiles.load(), 2);
  EXPECT_EQ(fake_->launches.size(), 3u);
}

TEST_F(RuntimeTest, EmptyProblemLaunchesNothing) {
  PrefillArgs a = args_for(problem());
  a.problem.batch = 0;
  rt_->prefill(a);
  a = args_for(problem());
  a.problem.seqlen_q = 0;
  rt_->prefill(a);
  EXPECT_TRUE(fake_->launches.empty());
  EXPECT_EQ(fake_->compiles.load(), 0);
}

TEST_F(RuntimeTest, InvalidArgumentsThrowBeforeAnythingIsCompiledOrLaunched) {
  PrefillArgs a = args_for(problem());
  a.q.data = nullptr;
  EXPECT_THROW(rt_->prefill(a), SpecError);
  a = args_for(problem());
  a.problem.heads_kv = 3;
  EXPECT_THROW(rt_->prefill(a), SpecError);
  a = args_for(problem());
  a.o.seq_stride = -1;
  EXPECT_THROW(rt_->prefill(a), SpecError);
  a = args_for(problem());
  a.problem.head_dim = 100;
  EXPECT_THROW(rt_->prefill(a), SpecError);
  a = args_for(problem());
  a.problem.dtype = DType::F32;  // no GPU template for f32: named in the error
  try {
    rt_->prefill(a);
    ADD_FAILURE() << "f32 on sm_80 was accepted";
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("f32"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fake_->launches.empty());
  EXPECT_EQ(fake_->compiles.load(), 0);
}

TEST_F(RuntimeTest, PrepareCompilesButDoesNotLaunch) {
  PreparedKernel pk = rt_->prepare_prefill(problem(1000, 1000));
  ASSERT_NE(pk.kernel, nullptr);
  EXPECT_EQ(pk.config_source, "default");
  EXPECT_EQ(pk.spec.key(), "prefill_bf16_hd128_causal_g4_q1024_k1024");
  ASSERT_NE(pk.tmpl, nullptr);
  EXPECT_EQ(pk.config, pk.tmpl->default_config(pk.spec, rt_->target()));
  EXPECT_GT(pk.geometry.grid[0] * pk.geometry.grid[1] * pk.geometry.grid[2], 0u);
  EXPECT_TRUE(fake_->launches.empty());
  EXPECT_EQ(fake_->compiles.load(), 1);
  PrefillProblem empty = problem();
  empty.batch = 0;
  EXPECT_THROW(rt_->prepare_prefill(empty), SpecError);
}

TEST_F(RuntimeTest, ConfigProviderIsAskedOncePerSpecAndItsConfigIsUsed) {
  auto provider = std::make_shared<CountingProvider>();
  rt_->set_config_provider(provider);
  EXPECT_EQ(rt_->config_provider(), provider);
  for (int i = 0; i < 3; ++i) rt_->prefill(args_for(problem()));
  EXPECT_EQ(provider->calls.load(), 1);
  EXPECT_EQ(rt_->prepare_prefill(problem()).config_source, "test");
  rt_->clear_plans();
  rt_->prefill(args_for(problem()));
  EXPECT_EQ(provider->calls.load(), 2);
  EXPECT_EQ(fake_->compiles.load(), 1);  // clearing plans keeps compiled kernels
}

TEST_F(RuntimeTest, IllegalProviderConfigFallsBackToTheDefaultAndSaysWhy) {
  TileConfig bad;
  bad.block_m = 48;  // not a legal tile
  bad.block_n = 24;
  rt_->set_config_provider(std::make_shared<CountingProvider>(bad));
  PreparedKernel pk = rt_->prepare_prefill(problem());
  EXPECT_EQ(pk.config, pk.tmpl->default_config(pk.spec, rt_->target()));
  EXPECT_NE(pk.config_source.find("rejected"), std::string::npos) << pk.config_source;
  EXPECT_NE(pk.config_source.find(bad.key()), std::string::npos) << pk.config_source;
}

TEST_F(RuntimeTest, ReplacingTheProviderForgetsPlans) {
  auto a = std::make_shared<CountingProvider>();
  auto b = std::make_shared<CountingProvider>();
  rt_->set_config_provider(a);
  rt_->prefill(args_for(problem()));
  rt_->set_config_provider(b);
  rt_->prefill(args_for(problem()));
  EXPECT_EQ(a->calls.load(), 1);
  EXPECT_EQ(b->calls.load(), 1);
  rt_->set_config_provider(nullptr);  // back to defaults
  EXPECT_EQ(rt_->prepare_prefill(problem()).config_source, "default");
}

TEST_F(RuntimeTest, ConcurrentCallsForOneNewProblemCompileOnce) {
  std::vector<PrefillArgs> args;
  for (int t = 0; t < 16; ++t) args.push_back(args_for(problem(500, 700)));
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int t = 0; t < 16; ++t)
    threads.emplace_back([&, t] {
      try {
        rt_->prefill(args[t]);
      } catch (...) {
        ++errors;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(fake_->compiles.load(), 1);
  ASSERT_EQ(fake_->launches.size(), 16u);
  for (const auto& l : fake_->launches) EXPECT_EQ(l.kernel, fake_->launches[0].kernel);
}

// What a cached call costs the host on top of the launch: printed, for the record.
TEST_F(RuntimeTest, DispatchOverheadIsPrinted) {
  PrefillArgs a = args_for(problem());
  rt_->prefill(a);
  const int n = 20000;
  fake_->launches.reserve(n + 1);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) rt_->prefill(a);
  auto t1 = std::chrono::steady_clock::now();
  EXPECT_EQ(fake_->launches.size(), static_cast<size_t>(n + 1));
  EXPECT_EQ(fake_->compiles.load(), 1);
  std::printf("[ measure  ] Runtime::prefill host overhead (cached plan, fake launch): %.2f us/call\n",
              std::chrono::duration<double, std::micro>(t1 - t0).count() / n);
}

TEST(RuntimeFactory, NullBackendIsRejected) {
  EXPECT_THROW(Runtime(nullptr), BackendError);
}

TEST(RuntimeFactory, CudaKindSaysWhyItIsUnavailable) {
  std::string why;
  if (cuda::cuda_available(&why)) GTEST_SKIP() << "a CUDA device is present";
  try {
    Runtime::create(BackendKind::Cuda);
    ADD_FAILURE() << "created a CUDA runtime without a usable device";
  } catch (const BackendError& e) {
    EXPECT_NE(std::string(e.what()).find(why), std::string::npos) << e.what() << " vs " << why;
  }
}

TEST(RuntimeFactory, CpuKindIsAvailableExactlyWhenBuiltWithLlvm) {
#ifdef ATTNJIT_WITH_LLVM
  auto rt = Runtime::create(BackendKind::Cpu, {.disk_cache = false});
  EXPECT_EQ(rt->target().platform, Platform::Cpu);
#else
  try {
    Runtime::create(BackendKind::Cpu);
    ADD_FAILURE() << "a CPU runtime without the LLVM backend";
  } catch (const BackendError& e) {
    EXPECT_NE(std::string(e.what()).find("ATTNJIT_WITH_LLVM"), std::string::npos) << e.what();
  }
#endif
}

TEST(RuntimeFactory, AutoPicksCudaWhenUsableElseCpu) {
  std::string why;
  const bool gpu = cuda::cuda_available(&why);
  try {
    auto rt = Runtime::create(BackendKind::Auto, {.disk_cache = false});
    EXPECT_EQ(rt->target().platform, gpu ? Platform::Cuda : Platform::Cpu);
  } catch (const BackendError& e) {
    // Only when neither exists: the message gives both reasons.
    EXPECT_FALSE(gpu);
    EXPECT_NE(std::string(e.what()).find("CUDA:"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("CPU:"), std::string::npos) << e.what();
  }
}

TEST(BackendKindNames, RoundTrip) {
  for (BackendKind k : {BackendKind::Auto, BackendKind::Cuda, BackendKind::Cpu})
    EXPECT_EQ(parse_backend_kind(to_string(k)), k);
  EXPECT_THROW(parse_backend_kind("tpu"), SpecError);
}

// sm_90a: the sm90 template owns causal bf16 hd128, but its launch needs tensor maps. When the
// tensor-map encoder refuses this call's tensors (or the driver has none), the call runs on the
// next template by priority (sm80) and says why; when it accepts, sm90 runs.
class RuntimeFallbackTest : public RuntimeTest {
 protected:
  void SetUp() override {
    saved_ = tensor_map_encoder();
    auto be = std::make_unique<FakeBackend>(Target::cuda("sm_90a"));
    fake_ = be.get();
    rt_ = std::make_unique<Runtime>(std::move(be));
  }
  void TearDown() override { set_tensor_map_encoder(saved_); }
  static int refuse(void*, int, uint32_t, void*, const uint64_t*, const uint64_t*, const uint32_t*,
                    const uint32_t*, int, int, int, int) {
    return 1;  // CUDA_ERROR_INVALID_VALUE, as for a stride TMA cannot describe
  }
  static int accept(void* map, int, uint32_t, void*, const uint64_t*, const uint64_t*, const uint32_t*,
                    const uint32_t*, int, int, int, int) {
    std::memset(map, 0x5a, 128);
    return 0;
  }
  // The template a launched kernel came from, by its source's hash.
  std::string launched_template(size_t i, const PrefillProblem& p) {
    const ProblemSpec spec = prefill_spec(p);
    for (const KernelTemplate* t : applicable_templates(spec, rt_->target()))
      if (fake_->launches.at(i).kernel->source.hash == t->render(spec, t->default_config(spec, rt_->target()), rt_->target()).hash)
        return std::string(t->short_name());
    return "none";
  }
  TensorMapEncodeTiledFn saved_ = nullptr;
};

TEST_F(RuntimeFallbackTest, RefusedTensorsRunOnTheNextTemplateAndSayWhy) {
  set_tensor_map_encoder(&RuntimeFallbackTest::refuse);
  const PrefillProblem p = problem(256, 256);
  ASSERT_EQ(select_template(prefill_spec(p), rt_->target()).default_config(prefill_spec(p), rt_->target()).tmpl, "sm90");
  PrefillArgs a = args_for(p);
  const PreparedLaunch l = rt_->prepare_launch(a);
  EXPECT_EQ(l.kernel.config.tmpl, "sm80");
  EXPECT_NE(l.kernel.config_source.find("fallback (sm90 refused the call"), std::string::npos) << l.kernel.config_source;
  EXPECT_NE(l.kernel.config_source.find("cuTensorMapEncodeTiled"), std::string::npos) << l.kernel.config_source;
  ASSERT_EQ(l.params.size(), sizeof(PrefillParams));  // sm80's parameter buffer, filled
  PrefillParams pp;
  std::memcpy(&pp, l.params.data(), sizeof pp);
  EXPECT_EQ(pp.q, a.q.data);
  EXPECT_EQ(pp.seqlen_k, 256);

  rt_->prefill(a);
  rt_->prefill(a);
  ASSERT_EQ(fake_->launches.size(), 2u);
  EXPECT_EQ(launched_template(0, p), "sm80");
  EXPECT_EQ(launched_template(1, p), "sm80");
  EXPECT_EQ(fake_->compiles.load(), 2);  // sm90's plan and the fallback, each compiled once
}

TEST_F(RuntimeFallbackTest, NoEncoderMeansTheNextTemplate) {
  set_tensor_map_encoder(nullptr);
  const PrefillProblem p = problem(200, 300);
  rt_->prefill(args_for(p));
  ASSERT_EQ(fake_->launches.size(), 1u);
  EXPECT_EQ(launched_template(0, p), "sm80");
}

TEST_F(RuntimeFallbackTest, AcceptedTensorsRunOnSm90AndTheFallbackIsPerCall) {
  const PrefillProblem p = problem(256, 256);
  set_tensor_map_encoder(&RuntimeFallbackTest::refuse);
  rt_->prefill(args_for(p));
  set_tensor_map_encoder(&RuntimeFallbackTest::accept);  // e.g. the next call's strides are fine
  rt_->prefill(args_for(p));
  ASSERT_EQ(fake_->launches.size(), 2u);
  EXPECT_EQ(launched_template(0, p), "sm80");
  EXPECT_EQ(launched_template(1, p), "sm90");
  EXPECT_GT(fake_->launches[1].args.size(), sizeof(PrefillParams));  // tensor maps + params
}

}  // namespace
}  // namespace attnjit
