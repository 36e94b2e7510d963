// The cost of one Runtime::prefill call on a kernel-cache hit, from C++: the baseline for the
// Python overhead benchmark (bench/python_overhead.py runs the same problem from Python).
//   bench_prefill_call [--backend cpu|cuda] [--reps N] [--batch N]
// cpu (default): f32, batch 1, 16 tokens, 1 head, head dim 32, no mask, with LSE, host memory —
//   tiny, so the call's fixed cost is most of what is measured; the call returns when done.
// cuda: bf16, batch 1, 16 tokens, 1 head, head dim 64, no mask, with LSE, device buffers, the
//   default stream. What is timed is the host side of an enqueue: batches of --batch calls with
//   no synchronization between them, then one synchronize (not timed in "median_ns"; the
//   "with_sync_*" figures include it, i.e. the device's own throughput for back-to-back calls).
//   The driver is opened at run time as everywhere: without a usable device this prints
//   {"backend": "cuda", "skipped": "<why>"} and exits 77.
// Prints JSON: median, p10 and min ns per call over the batches, and the same median over the
// "quiet" batches only: those during which this thread was not preempted (no involuntary context
// switch, getrusage RUSAGE_THREAD). On a loaded machine one preemption costs a scheduler slice
// (~4 ms on the 2-core VM) and lands in whichever batch it hits, so longer batches are hit more
// often; "preempted" counts the batches left out of quiet_median_ns.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <sys/resource.h>

#include "attnjit/attnjit.h"
#include "runtime/backend.h"

namespace {

constexpr int kSkip = 77;

struct Stats {
  double median, p10, min;
};

Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v[v.size() / 10], v[0]};
}

// Involuntary context switches of the calling thread so far.
long preemptions() {
  rusage ru{};
  if (getrusage(RUSAGE_THREAD, &ru) != 0) {
    std::perror("getrusage(RUSAGE_THREAD)");
    std::exit(1);
  }
  return ru.ru_nivcsw;
}

// Per-call times of the batches plus whether each batch was preempted.
struct Batches {
  std::vector<double> per_call, quiet;
  int preempted = 0;
  void add(double ns_per_call, bool was_preempted) {
    per_call.push_back(ns_per_call);
    if (was_preempted) ++preempted; else quiet.push_back(ns_per_call);
  }
  // Median of the quiet batches; -1 when every batch was preempted.
  double quiet_median() const { return quiet.empty() ? -1 : stats(quiet).median; }
};

using Clock = std::chrono::steady_clock;
double ns(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::nano>(b - a).count(); }

// JSON string contents: the skip reason comes from the driver loader and may hold quotes.
std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += (c == '\n' || c == '\t') ? ' ' : c;
  }
  return out;
}

int run_cpu(int reps, int batch) {
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
  // Per-call times from a steady clock over a batch, without timing the clock itself.
  Batches r;
  for (int b = 0; b < reps / batch; ++b) {
    const long p0 = preemptions();
    const auto t0 = Clock::now();
    for (int i = 0; i < batch; ++i) rt->prefill(a);
    const auto t1 = Clock::now();
    r.add(ns(t0, t1) / batch, preemptions() != p0);
  }
  const Stats s = stats(r.per_call);
  std::printf("{\"backend\": \"cpu\", \"problem\": \"f32 b1 s16 h1 d32 none, lse\", \"reps\": %d, \"batch\": %d, "
              "\"median_ns\": %.0f, \"p10_ns\": %.0f, \"min_ns\": %.0f, \"quiet_median_ns\": %.0f, "
              "\"batches\": %zu, \"preempted\": %d}\n",
              reps, batch, s.median, s.p10, s.min, r.quiet_median(), r.per_call.size(), r.preempted);
  return 0;
}

int run_cuda(int reps, int batch) {
  std::unique_ptr<attnjit::Runtime> rt;
  try {
    rt = attnjit::Runtime::create(attnjit::BackendKind::Cuda);
  } catch (const attnjit::BackendError& e) {
    std::printf("{\"backend\": \"cuda\", \"skipped\": \"%s\"}\n", json_escape(e.what()).c_str());
    std::fprintf(stderr, "bench_prefill_call: skipped: no usable CUDA backend: %s\n", e.what());
    return kSkip;
  }
  attnjit::Backend& be = rt->backend();
  const int64_t S = 16, H = 1, D = 64;
  const size_t elems = S * H * D;
  attnjit::DeviceBuffer q(be, elems * 2), k(be, elems * 2), v(be, elems * 2), o(be, elems * 2);
  attnjit::DeviceBuffer lse(be, H * S * 4);
  for (auto* b : {&q, &k, &v}) be.fill_bytes(b->get(), 0x3f, b->size());  // bf16 0x3f3f ≈ 0.75
  attnjit::PrefillArgs a;
  a.problem = {.dtype = attnjit::DType::BF16, .head_dim = int(D), .mask = {}, .batch = 1, .heads_q = H,
               .heads_kv = H, .seqlen_q = S, .seqlen_k = S};
  a.q = attnjit::TensorView::bshd(q.get(), S, H, D);
  a.k = attnjit::TensorView::bshd(k.get(), S, H, D);
  a.v = attnjit::TensorView::bshd(v.get(), S, H, D);
  a.o = attnjit::TensorView::bshd(o.get(), S, H, D);
  a.lse = attnjit::LseView::dense(static_cast<float*>(lse.get()), H, S);
  rt->prefill(a);  // compile (or load from the disk cache)
  be.synchronize();
  for (int i = 0; i < 1000; ++i) rt->prefill(a);
  be.synchronize();
  Batches r;
  std::vector<double> with_sync;
  for (int b = 0; b < reps / batch; ++b) {
    const long p0 = preemptions();
    const auto t0 = Clock::now();
    for (int i = 0; i < batch; ++i) rt->prefill(a);
    const auto t1 = Clock::now();
    r.add(ns(t0, t1) / batch, preemptions() != p0);
    be.synchronize();
    with_sync.push_back(ns(t0, Clock::now()) / batch);
  }
  const Stats s = stats(r.per_call), w = stats(with_sync);
  std::printf("{\"backend\": \"cuda\", \"device\": \"%s\", \"problem\": \"bf16 b1 s16 h1 d64 none, lse\", "
              "\"reps\": %d, \"batch\": %d, \"median_ns\": %.0f, \"p10_ns\": %.0f, \"min_ns\": %.0f, "
              "\"quiet_median_ns\": %.0f, \"batches\": %zu, \"preempted\": %d, "
              "\"with_sync_median_ns\": %.0f, \"with_sync_min_ns\": %.0f}\n",
              json_escape(be.describe()).c_str(), reps, batch, s.median, s.p10, s.min, r.quiet_median(),
              r.per_call.size(), r.preempted, w.median, w.min);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 20000, batch = 100;
  std::string backend = "cpu";
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--batch") && i + 1 < argc) {
      batch = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--backend") && i + 1 < argc) {
      backend = argv[++i];
    } else {
      std::fprintf(stderr, "usage: bench_prefill_call [--backend cpu|cuda] [--reps N] [--batch N]\n");
      return 2;
    }
  }
  if (backend != "cpu" && backend != "cuda") {
    std::fprintf(stderr, "--backend: '%s' is not cpu or cuda\n", backend.c_str());
    return 2;
  }
  // Batches above ~1000 could fill the driver's launch queue on CUDA, which then blocks the host.
  if (batch < 1 || batch > 1000) {
    std::fprintf(stderr, "--batch: must be in [1, 1000]\n");
    return 2;
  }
  if (reps < 5 * batch) {
    std::fprintf(stderr, "--reps: must be >= 5 * --batch (%d)\n", 5 * batch);
    return 2;
  }
  try {
    return backend == "cuda" ? run_cuda(reps, batch) : run_cpu(reps, batch);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_prefill_call: %s\n", e.what());
    return 1;
  }
}
