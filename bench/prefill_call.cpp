// The cost of one Runtime::prefill call on a kernel-cache hit, from C++: the baseline for the
// Python overhead benchmark (bench/python_overhead.py runs the same problem from Python).
//   bench_prefill_call [--reps N]
// CPU backend (device memory belongs to the Python side's GPU benchmark, not written yet).
// Problem: f32, batch 1, 16 tokens, 1 head, head dim 32, no mask, with LSE — tiny, so the call's
// fixed cost is most of what is measured. Prints JSON: median, p10 and min ns per call.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "attnjit/attnjit.h"

int main(int argc, char** argv) {
  int reps = 20000;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: bench_prefill_call [--reps N]\n");
      return 2;
    }
  }
  if (reps < 100) {
    std::fprintf(stderr, "--reps: must be >= 100\n");
    return 2;
  }
  auto rt = attnjit::Runtime::create(attnjit::BackendKind::Cpu);
  const int64_t S = 16, H = 1, D = 32;
  std::vector<float> q(S * H * D, 0.5f), k(q), v(q), o(q.size());
  std::vector<float> lse(H * S);
  attnjit::PrefillArgs a;
  a.problem = {.dtype = attnjit::DType::F32, .head_dim = int(D), .mask = {}, .batch = 1, .heads_q = H,
               .heads_kv = H, .seqlen_q = S, .seqlen_k = S};
  a.q = attnjit::TensorView::bshd(q.data(), S, H, D);
  a.k = attnjit::TensorView::bshd(k.data(), S, H, D);
  a.v = attnjit::TensorView::bshd(v.data(), S, H, D);
  a.o = attnjit::TensorView::bshd(o.data(), S, H, D);
  a.lse = attnjit::LseView::dense(lse.data(), H, S);
  rt->prefill(a);  // compile (or load from the disk cache)
  for (int i = 0; i < 1000; ++i) rt->prefill(a);
  // Batches of 100 calls: per-call times from a steady clock without timing the clock itself.
  std::vector<double> per_call;
  for (int b = 0; b < reps / 100; ++b) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 100; ++i) rt->prefill(a);
    const auto t1 = std::chrono::steady_clock::now();
    per_call.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / 100);
  }
  std::sort(per_call.begin(), per_call.end());
  std::printf("{\"backend\": \"cpu\", \"problem\": \"f32 b1 s16 h1 d32 none, lse\", \"reps\": %d, "
              "\"median_ns\": %.0f, \"p10_ns\": %.0f, \"min_ns\": %.0f}\n",
              reps, per_call[per_call.size() / 2], per_call[per_call.size() / 10], per_call[0]);
  return 0;
}
