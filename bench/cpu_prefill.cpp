// CPU prefill benchmark: the JIT-compiled kernel (templates/prefill/cpu.h) against a
// straightforward three-loop attention compiled ahead of time at -O3 (below), in one run.
// GFLOP/s = 4 * B * H * S * S * D / time (halved for causal), as in bench/RESULTS.md.
// PyTorch is not installed on the machines this runs on, so there is no torch column.
//
// Usage: bench_cpu_prefill [--quick] [--threads N] [--dtype f32|bf16|f16] [--sweep S D causal]
//   --quick      seqlen 512 and 1024 only
//   --threads N  threads for the "JIT, N threads" column (default: all hardware threads)
//   --sweep      instead: every single-thread config of the search space on one problem
//                (seqlen S, head dim D, causal 0/1), by thread CPU time
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#ifdef ATTNJIT_WITH_LLVM
#include "codegen/kernel_template.h"
#include "codegen/registry.h"
#include "runtime/cpu/cpu_backend.h"
#include "runtime/half.h"
#endif

namespace {

// The baseline: for each query row, scores over all visible keys (dot product over d),
// softmax, then the weighted sum of V rows. Layout [S, H, D] like the kernel's. target_clones
// builds it for AVX-512 and AVX2 too, so the comparison is not against SSE2 code.
__attribute__((target_clones("avx512f", "avx2", "default"), optimize("O3")))
void naive_attention(const float* q, const float* k, const float* v, float* o, int S, int H, int D,
                     bool causal, float scale, float* scores) {
  for (int h = 0; h < H; ++h)
    for (int i = 0; i < S; ++i) {
      const float* qi = q + (size_t(i) * H + h) * D;
      const int n = causal ? i + 1 : S;
      float mx = -INFINITY;
      for (int j = 0; j < n; ++j) {
        const float* kj = k + (size_t(j) * H + h) * D;
        float s = 0;
        for (int d = 0; d < D; ++d) s += qi[d] * kj[d];
        scores[j] = s * scale;
        mx = std::max(mx, scores[j]);
      }
      float sum = 0;
      for (int j = 0; j < n; ++j) {
        scores[j] = std::exp(scores[j] - mx);
        sum += scores[j];
      }
      float* oi = o + (size_t(i) * H + h) * D;
      for (int d = 0; d < D; ++d) oi[d] = 0;
      for (int j = 0; j < n; ++j) {
        const float* vj = v + (size_t(j) * H + h) * D;
        const float p = scores[j] / sum;
        for (int d = 0; d < D; ++d) oi[d] += p * vj[d];
      }
    }
}

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
// CPU time of the calling thread: on a shared machine, wall time of a long single-threaded run
// includes the time slices other processes got; thread CPU time does not.
double thread_cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

#ifdef ATTNJIT_WITH_LLVM
namespace {
using namespace attnjit;

// Dense [S, H, D] params over the given buffers.
// Dense [1, S, H, D] prefill arguments, the default softmax scale.
PrefillArgs dense_args(const ProblemSpec& spec, const void* q, const void* k, const void* v, void* o,
                       int S, int H, int D) {
  PrefillArgs a;
  a.problem = {spec.dtype, D, spec.mask, 1, H, H, S, S};
  a.q = TensorView::bshd(q, S, H, D);
  a.k = TensorView::bshd(k, S, H, D);
  a.v = TensorView::bshd(v, S, H, D);
  a.o = TensorView::bshd(o, S, H, D);
  return a;
}

// The kernel's launch through the template's contract.
KernelLaunch launch_of(const KernelTemplate& t, const ProblemSpec& spec, const TileConfig& cfg,
                       const Target& target, const PrefillArgs& a) {
  return t.make_launch(spec, cfg, target, LaunchArgs{&a, nullptr});
}

int sweep(Backend& be, DType dtype, int S, int D, bool causal) {
  const int H = 2;
  const Target& target = be.target();
  MaskSpec mask;
  if (causal) mask.kind = MaskKind::Causal;
  ProblemSpec spec = ProblemSpec::for_shape(Family::Prefill, dtype, D, mask, H, H, S, S);
  const KernelTemplate& t = select_template(spec, target);
  const size_t bytes = size_t(S) * H * D * size_t(dtype_bytes(dtype));
  DeviceBuffer q(be, bytes), k(be, bytes), v(be, bytes), o(be, bytes);
  for (DeviceBuffer* b : {&q, &k, &v}) be.fill_bytes(b->get(), 0x3c, bytes);  // small finite values
  const PrefillArgs args = dense_args(spec, q.get(), k.get(), v.get(), o.get(), S, H, D);
  const double flops = 4.0 * H * double(S) * S * D * (causal ? 0.5 : 1.0);
  const TileConfig def = t.default_config(spec, target);
  std::printf("# sweep %s, %d heads, 1 thread, GFLOP/s by thread CPU time (median of 3)\n", spec.key().c_str(), H);
  std::printf("| config | GFLOP/s | compile ms |\n| --- | --- | --- |\n");
  for (const TileConfig& cfg : t.search_space(spec, target)) {
    if (cfg.threads != 1) continue;
    auto kernel = be.get_kernel(t.render(spec, cfg, target));
    const KernelLaunch l = launch_of(t, spec, cfg, target, args);
    std::vector<double> ms;
    be.launch(*kernel, l.geometry, l.params.data(), l.params.size());  // warm-up
    for (int r = 0; r < 3; ++r) {
      double c0 = thread_cpu_ms();
      be.launch(*kernel, l.geometry, l.params.data(), l.params.size());
      ms.push_back(thread_cpu_ms() - c0);
    }
    TileConfig d1 = def;
    d1.threads = 1;
    std::printf("| %s%s | %.1f | %.0f |\n", cfg.key().c_str(), cfg == d1 ? " (default)" : "",
                flops / median(ms) / 1e6, kernel->compile_ms);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
#endif

#ifndef ATTNJIT_WITH_LLVM
int main() {
  std::puts("bench_cpu_prefill: built without the LLVM CPU backend (ATTNJIT_WITH_LLVM=OFF)");
  return 0;
}
#else
using namespace attnjit;

int main(int argc, char** argv) {
  bool quick = false;
  int sweep_args[3] = {0, 0, 0};
  int threads = 0;
  DType dtype = DType::F32;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") quick = true;
    else if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--dtype" && i + 1 < argc) dtype = parse_dtype(argv[++i]);
    else if (a == "--sweep" && i + 3 < argc) {
      sweep_args[0] = std::atoi(argv[++i]);
      sweep_args[1] = std::atoi(argv[++i]);
      sweep_args[2] = std::atoi(argv[++i]);
    }
    else {
      std::fprintf(stderr, "usage: %s [--quick] [--threads N] [--dtype f32|bf16|f16] [--sweep S D causal]\n", argv[0]);
      return 2;
    }
  }
  auto backend = make_cpu_backend();
  const Target& target = backend->target();
  if (sweep_args[0] > 0) return sweep(*backend, dtype, sweep_args[0], sweep_args[1], sweep_args[2] != 0);
  if (threads <= 0) threads = target.sm_count;
  std::printf("# %s\n# JIT dtype %s (naive baseline: f32, 1 thread); GFLOP/s, median of runs\n",
              backend->describe().c_str(), std::string(to_string(dtype)).c_str());
  std::printf("# wall: steady clock; cpu: thread CPU time (1 thread), immune to other processes' time slices\n");
  std::printf("| seqlen | hd | causal | naive 1t wall | JIT 1t wall | JIT %dt wall | ratio wall | naive 1t cpu | "
              "JIT 1t cpu | ratio cpu | config | compile ms |\n", threads);
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");

  const int H = 2;
  std::vector<int> seqlens = quick ? std::vector<int>{512, 1024} : std::vector<int>{512, 1024, 2048, 4096};
  for (int D : {64, 128})
    for (bool causal : {false, true})
      for (int S : seqlens) {
        const size_t n = size_t(S) * H * D;
        std::mt19937 rng(S + D);
        std::uniform_real_distribution<float> dist(-1.f, 1.f);
        std::vector<float> q(n), k(n), v(n), o(n), scores(S);
        for (auto* x : {&q, &k, &v})
          for (auto& e : *x) e = round_to(dtype, dist(rng));
        const float scale = 1.f / std::sqrt(float(D));
        const double flops = 4.0 * H * double(S) * S * D * (causal ? 0.5 : 1.0);

        // Baseline: as many runs as fit ~1.5 s (at least one), median of wall and CPU time.
        std::vector<double> tn, cn;
        double t_start = now_ms();
        do {
          double t0 = now_ms(), c0 = thread_cpu_ms();
          naive_attention(q.data(), k.data(), v.data(), o.data(), S, H, D, causal, scale, scores.data());
          cn.push_back(thread_cpu_ms() - c0);
          tn.push_back(now_ms() - t0);
        } while (now_ms() - t_start < 1500 && tn.size() < 5);

        // JIT kernel with the template's default tile config.
        MaskSpec mask;
        if (causal) mask.kind = MaskKind::Causal;
        ProblemSpec spec = ProblemSpec::for_shape(Family::Prefill, dtype, D, mask, H, H, S, S);
        const KernelTemplate& t = select_template(spec, target);
        TileConfig cfg = t.default_config(spec, target);
        auto kernel = backend->get_kernel(t.render(spec, cfg, target));
        const size_t bytes = n * size_t(dtype_bytes(dtype));
        DeviceBuffer dq(*backend, bytes), dk(*backend, bytes), dv(*backend, bytes), dout(*backend, bytes);
        std::vector<unsigned char> tmp(bytes);
        for (auto [src, dst] : {std::pair{&q, &dq}, std::pair{&k, &dk}, std::pair{&v, &dv}}) {
          for (size_t i = 0; i < n; ++i) store_from_float(dtype, tmp.data(), int64_t(i), (*src)[i]);
          backend->copy_to_device(dst->get(), tmp.data(), bytes);
        }
        const PrefillArgs args = dense_args(spec, dq.get(), dk.get(), dv.get(), dout.get(), S, H, D);
        auto timed = [&](int nthreads) {
          TileConfig c = cfg;
          c.threads = nthreads;
          const KernelLaunch kl = launch_of(t, spec, c, target, args);
          auto ts = backend->time({Backend::Launch{kernel.get(), kl.geometry, kl.params}}, 1, 5);
          std::sort(ts.begin(), ts.end());
          return ts[ts.size() / 2];
        };
        const double t1 = timed(1), tt = timed(threads);
        // One thread runs on the caller, so its CPU time is this thread's.
        std::vector<double> c1;
        {
          TileConfig c = cfg;
          c.threads = 1;
          const KernelLaunch l1 = launch_of(t, spec, c, target, args);
          for (int r = 0; r < 5; ++r) {
            double c0 = thread_cpu_ms();
            backend->launch(*kernel, l1.geometry, l1.params.data(), l1.params.size());
            c1.push_back(thread_cpu_ms() - c0);
          }
        }
        // Sanity: the JIT output agrees with the baseline (both f32 compute on the same inputs).
        std::vector<unsigned char> out(bytes);
        backend->copy_to_host(out.data(), dout.get(), bytes);
        double err = 0;
        for (size_t i = 0; i < n; ++i) err = std::max(err, std::abs(double(load_as_float(dtype, out.data(), int64_t(i))) - o[i]));
        if (!(err < 1e-2)) {
          std::fprintf(stderr, "mismatch vs baseline: max abs err %g (S=%d D=%d causal=%d)\n", err, S, D, causal);
          return 1;
        }
        const double tnm = median(tn), cnm = median(cn), c1m = median(c1);
        std::printf("| %d | %d | %s | %.2f | %.1f | %.1f | %.1fx | %.2f | %.1f | %.1fx | %s | %.0f |\n", S, D,
                    causal ? "yes" : "no", flops / tnm / 1e6, flops / t1 / 1e6, flops / tt / 1e6, tnm / t1,
                    flops / cnm / 1e6, flops / c1m / 1e6, cnm / c1m, cfg.key().c_str(), kernel->compile_ms);
        std::fflush(stdout);
      }
  return 0;
}
#endif
