// Prefill correctness through the public Runtime, on every backend present (CUDA; CPU when the
// LLVM backend is built). Skipped with the reason when a backend is unavailable.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

#include "common/gpu_test_util.h"
#include "common/prefill_batch.h"

namespace attnjit {
namespace {

using testing::Layout;
using testing::PrefillCase;

// One Runtime per backend for the whole executable, so kernels compiled by one test are reused.
Runtime* shared_runtime(BackendKind kind, std::string* why) {
  static std::mutex mu;
  static std::map<BackendKind, std::pair<std::unique_ptr<Runtime>, std::string>> rts;
  std::lock_guard lock(mu);
  auto it = rts.find(kind);
  if (it == rts.end()) {
    std::string reason;
    auto rt = testing::try_runtime(kind, &reason);
    it = rts.emplace(kind, std::make_pair(std::move(rt), reason)).first;
  }
  *why = it->second.second;
  return it->second.first.get();
}

class PrefillTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    std::string why;
    rt_ = shared_runtime(GetParam(), &why);
    if (!rt_) GTEST_SKIP() << to_string(GetParam()) << " backend unavailable: " << why;
  }

  // Compiles the cases' kernels from several threads at once (the Runtime must compile each
  // once), then runs and checks every case. Unsupported (dtype, target) cases are skipped;
  // the test is skipped when none is supported.
  void run_cases(const std::vector<PrefillCase>& all) {
    std::vector<PrefillCase> cases;
    for (const auto& c : all)
      if (testing::backend_supports(*rt_, c)) cases.push_back(c);
    if (cases.empty()) GTEST_SKIP() << "no case is supported on " << rt_->target().key();
    const unsigned n = std::max(1u, std::min(8u, std::thread::hardware_concurrency()));
    const auto errors = testing::prepare_in_parallel(cases.size(), n, [&](size_t i) {
      if (cases[i].batch > 0 && cases[i].seqlen_q > 0) rt_->prepare_prefill(cases[i].problem());
      return std::string();
    });
    const int ran = testing::run_prepared_cases(*rt_, cases, errors, n);
    std::printf("[ cases    ] %d of %zu cases ran on %s (%zu unsupported)\n", ran, cases.size(),
                rt_->target().key().c_str(), all.size() - cases.size());
  }

  Runtime* rt_ = nullptr;
};

using testing::causal;
using testing::window;
MaskSpec none() { return {}; }

// Every dtype x head dim x mask (sliding windows included) at a shape that cuts tiles in half,
// with seqlen_q != seqlen_k and GQA.
TEST_P(PrefillTest, EveryDtypeHeadDimAndMask) {
  std::vector<PrefillCase> cases;
  uint64_t seed = 100;
  for (DType dt : {DType::BF16, DType::F16, DType::F32})
    for (int d : kHeadDims)
      for (MaskSpec m : {none(), causal(), window(64, 0), window(100, 17)}) {
        cases.push_back({.dtype = dt, .head_dim = d, .mask = m, .batch = 2, .heads_q = 4, .heads_kv = 2,
                         .seqlen_q = 127, .seqlen_k = 200, .seed = seed++});
      }
  run_cases(cases);
}

// Lengths 1, 17, 127, 1000, 4097: equal, and seqlen_q != seqlen_k both ways.
TEST_P(PrefillTest, SequenceLengths) {
  std::vector<PrefillCase> cases;
  uint64_t seed = 200;
  const std::pair<int64_t, int64_t> lens[] = {{1, 1},     {17, 17},   {127, 127}, {1000, 1000},
                                              {4097, 4097}, {1, 4097}, {17, 1000}, {127, 4097},
                                              {1000, 17}, {4097, 127}, {1000, 1}};
  for (DType dt : {DType::BF16, DType::F16, DType::F32})
    for (MaskSpec m : {none(), causal()})
      for (auto [sq, sk] : lens) {
        // 4k x 4k: bf16 and f32 only — f16 shares the kernel code path with bf16 and the
        // float64 reference of this size is the slowest check in the suite.
        if (sq == 4097 && sk == 4097 && dt == DType::F16) continue;
        const int64_t heads = (sq * sk > 1000000) ? 1 : 2;  // the float64 reference at 4k x 4k
        cases.push_back({.dtype = dt, .head_dim = 128, .mask = m, .heads_q = heads, .heads_kv = heads,
                         .seqlen_q = sq, .seqlen_k = sk, .seed = seed++});
      }
  run_cases(cases);
}

// Multiples of 128 take the "even" kernels (no bounds checks): cover them too.
TEST_P(PrefillTest, EvenLengths) {
  std::vector<PrefillCase> cases;
  uint64_t seed = 300;
  for (DType dt : {DType::BF16, DType::F16, DType::F32})
    for (int d : {64, 128, 256})
      for (MaskSpec m : {none(), causal(), window(256, 0)})
        for (auto [sq, sk] : {std::pair<int64_t, int64_t>{256, 256}, {128, 512}, {512, 128}}) {
          cases.push_back({.dtype = dt, .head_dim = d, .mask = m, .heads_q = 2, .heads_kv = 1,
                           .seqlen_q = sq, .seqlen_k = sk, .seed = seed++});
        }
  run_cases(cases);
}

// GQA group sizes 1, 4, 8 (8 query heads over 8, 2 and 1 KV heads).
TEST_P(PrefillTest, GroupedQueryAttention) {
  std::vector<PrefillCase> cases;
  uint64_t seed = 400;
  for (DType dt : {DType::BF16, DType::F32})
    for (int64_t hkv : {8, 2, 1})
      for (MaskSpec m : {none(), causal()}) {
        cases.push_back({.dtype = dt, .head_dim = 64, .mask = m, .batch = 2, .heads_q = 8, .heads_kv = hkv,
                         .seqlen_q = 300, .seqlen_k = 300, .seed = seed++});
      }
  run_cases(cases);
}

// Batch > 1 in BSHD, BHSD and padded (non-contiguous) layouts, with and without LSE, and a
// custom scale.
TEST_P(PrefillTest, LayoutsStridesBatchAndScale) {
  std::vector<PrefillCase> cases;
  uint64_t seed = 500;
  for (DType dt : {DType::F16, DType::BF16, DType::F32})
    for (Layout l : {Layout::BSHD, Layout::BHSD, Layout::Padded})
      for (bool lse : {true, false}) {
        cases.push_back({.dtype = dt, .head_dim = 96, .mask = causal(), .batch = 3, .heads_q = 4,
                         .heads_kv = 2, .seqlen_q = 150, .seqlen_k = 170, .scale = lse ? 0 : 0.3,
                         .layout = l, .with_lse = lse, .seed = seed++});
      }
  run_cases(cases);
}

// Rows with no visible key must give O = 0 and LSE = -inf, never NaN: causal with
// seqlen_q > seqlen_k (the first sq - sk queries see nothing), windows that leave early rows
// empty, and no keys at all.
TEST_P(PrefillTest, FullyMaskedRows) {
  std::vector<PrefillCase> cases;
  uint64_t seed = 600;
  for (DType dt : {DType::BF16, DType::F16, DType::F32}) {
    for (auto [sq, sk] : {std::pair<int64_t, int64_t>{200, 50}, {64, 16}, {300, 1}}) {
      cases.push_back({.dtype = dt, .head_dim = 64, .mask = causal(), .heads_q = 2, .heads_kv = 1,
                       .seqlen_q = sq, .seqlen_k = sk, .seed = seed++});
    }
    // window [p - 3, p]: rows aligned before key 0 see nothing
    cases.push_back({.dtype = dt, .head_dim = 128, .mask = window(3, 0), .seqlen_q = 150, .seqlen_k = 100,
                     .seed = seed++});
    // no keys at all
    cases.push_back({.dtype = dt, .head_dim = 64, .seqlen_q = 33, .seqlen_k = 0, .seed = seed++});
  }
  run_cases(cases);
}

// Many threads asking for one new problem get the one kernel, compiled once.
TEST_P(PrefillTest, ConcurrentPrepareSharesOneKernel) {
  // window(77, 5): a spec no other test uses, so it is a fresh compile
  PrefillCase c{.dtype = DType::BF16, .head_dim = 32, .mask = window(77, 5), .seqlen_q = 333, .seqlen_k = 333};
  if (!testing::backend_supports(*rt_, c)) {
    c.dtype = DType::F32;
    if (!testing::backend_supports(*rt_, c)) GTEST_SKIP() << "no supported dtype";
  }
  std::vector<std::shared_ptr<const CompiledKernel>> got(8);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < got.size(); ++t)
    threads.emplace_back([&, t] { got[t] = rt_->prepare_prefill(c.problem()).kernel; });
  for (auto& th : threads) th.join();
  for (auto& k : got) {
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(k.get(), got[0].get());
  }
  testing::CheckReport r = testing::run_and_check(*rt_, c);
  EXPECT_TRUE(r.ok) << r.message;
}

INSTANTIATE_TEST_SUITE_P(Backends, PrefillTest, ::testing::Values(BackendKind::Cuda, BackendKind::Cpu),
                         testing::backend_param_name);

}  // namespace
}  // namespace attnjit
