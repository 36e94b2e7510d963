// Block-sparse document masking on the CPU backend against causal, per visible query-key pair
// (issue #18's goal: >= 0.9x). One sequence of S tokens (default 8192) split into N documents
// (default 8; equal, so tile-aligned, or --ragged for lengths that cut tiles), a mask_mod
// reading the doc ids (aux int32) and a block mask built once at tile 128; causal runs the
// built-in mask. Rate = visible pairs * 4 * D / time; the ratio doc / causal is what is reported.
//
// Usage: bench_block_sparse_cpu [--seqlen S] [--docs N] [--heads H] [--head-dim D] [--reps R] [--ragged]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "attnjit/attnjit.h"
#ifdef ATTNJIT_WITH_LLVM
#include "runtime/cpu/cpu_backend.h"
#endif

int main(int argc, char** argv) {
#ifndef ATTNJIT_WITH_LLVM
  std::fprintf(stderr, "bench_block_sparse_cpu: built without the CPU backend (LLVM)\n");
  return 2;
#else
  using namespace attnjit;
  int64_t S = 8192, docs = 8, H = 4, D = 128;
  int reps = 3;
  bool ragged = false;
  for (int i = 1; i < argc; ++i) {
    auto next = [&](const char* opt) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s: needs a value\n", opt);
        std::exit(2);
      }
      return std::atoll(argv[++i]);
    };
    if (!std::strcmp(argv[i], "--seqlen")) S = next("--seqlen");
    else if (!std::strcmp(argv[i], "--docs")) docs = next("--docs");
    else if (!std::strcmp(argv[i], "--heads")) H = next("--heads");
    else if (!std::strcmp(argv[i], "--head-dim")) D = next("--head-dim");
    else if (!std::strcmp(argv[i], "--reps")) reps = static_cast<int>(next("--reps"));
    else if (!std::strcmp(argv[i], "--ragged")) ragged = true;
    else {
      std::fprintf(stderr, "usage: bench_block_sparse_cpu [--seqlen S] [--docs N] [--heads H] [--head-dim D] [--reps R] [--ragged]\n");
      return 2;
    }
  }
  if (S < 1 || docs < 1 || docs > S || H < 1 || reps < 1) {
    std::fprintf(stderr, "bench_block_sparse_cpu: bad sizes\n");
    return 2;
  }
  Runtime rt(make_cpu_backend());
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  std::vector<float> q(S * H * D), k(S * H * D), v(S * H * D), o(S * H * D);
  for (auto* t : {&q, &k, &v})
    for (float& x : *t) x = nd(rng);
  // Document ids: equal lengths, or (ragged) lengths jittered by up to +-37% around S / docs.
  std::vector<int32_t> doc(S);
  std::vector<int64_t> bounds = {0};
  for (int64_t d = 1; d < docs; ++d) {
    int64_t b = d * S / docs;
    if (ragged) b += (static_cast<int64_t>(rng() % 75) - 37) * (S / docs) / 100;
    bounds.push_back(std::clamp(b, bounds.back() + 1, S - (docs - d)));
  }
  bounds.push_back(S);
  double doc_pairs = 0;
  for (int64_t d = 0; d < docs; ++d) {
    for (int64_t t = bounds[d]; t < bounds[d + 1]; ++t) doc[t] = static_cast<int32_t>(d);
    doc_pairs += double(bounds[d + 1] - bounds[d]) * double(bounds[d + 1] - bounds[d]);
  }
  const double causal_pairs = double(S) * double(S + 1) / 2;

  auto args = [&](MaskSpec m) {
    PrefillArgs a;
    a.problem.dtype = DType::F32;
    a.problem.head_dim = static_cast<int>(D);
    a.problem.mask = m;
    a.problem.heads_q = a.problem.heads_kv = H;
    a.problem.seqlen_q = a.problem.seqlen_k = S;
    a.q = TensorView::bshd(q.data(), S, H, D);
    a.k = TensorView::bshd(k.data(), S, H, D);
    a.v = TensorView::bshd(v.data(), S, H, D);
    a.o = TensorView::bshd(o.data(), S, H, D);
    return a;
  };
  auto time_ms = [&](const PrefillArgs& a) {
    rt.prefill(a);  // compile + warm
    std::vector<double> t;
    for (int r = 0; r < 5; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      rt.prefill(a);
      t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
  };

  PrefillArgs causal = args({MaskKind::Causal, 0, 0});
  PrefillArgs dm = args({});
  dm.problem.mask_mod = "const int* doc = aux<int>(0);\nreturn doc[q_idx] == doc[kv_idx];";
  dm.aux[0] = {doc.data(), AuxType::I32, S};
  const auto b0 = std::chrono::steady_clock::now();
  const BlockMask bm = build_block_mask(rt, dm.problem, dm.aux, 128);
  const double build_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - b0).count();
  dm.problem.block_sparse = 128;
  dm.block_mask = bm.view;

  std::printf("CPU %s; S %lld, %lld documents%s, H %lld, D %lld, f32; block mask built in %.0f ms (incl. compile)\n",
              rt.backend().describe().c_str(), (long long)S, (long long)docs, ragged ? " (ragged)" : "",
              (long long)H, (long long)D, build_ms);
  std::printf("%-4s %12s %12s %16s %16s %8s\n", "run", "causal ms", "doc ms", "causal Gpair/s", "doc Gpair/s", "ratio");
  for (int r = 0; r < reps; ++r) {
    const double tc = time_ms(causal), td = time_ms(dm);
    const double rc = causal_pairs * H / tc / 1e6, rd = doc_pairs * H / td / 1e6;
    std::printf("%-4d %12.2f %12.2f %16.3f %16.3f %8.3f\n", r + 1, tc, td, rc, rd, rd / rc);
  }
  return 0;
#endif
}
