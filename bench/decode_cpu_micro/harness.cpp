// The CPU decode template (templates/decode/cpu.h) timed alone, without the runtime: one work item
// (every KV head of one sequence, no split) on the calling thread, by thread CPU time, either from
// warm caches (a short cache run 50 times per sample: the arithmetic) or streaming from memory
// (a long cache, caches evicted before every run). Built by bench/decode_cpu_micro.sh with clang
// (in a folder of its own because every bench/*.cpp is a CMake target linked to the library)
// and the same code-generation options as the JIT, so a template edit can be A/B-timed in seconds
// and with far less noise than `attnjit bench-decode` on a busy machine: it prints the median and
// the best sample (on shared cores the best is the stable statistic).
//   decode_cpu_micro KV_LEN SAMPLES [SPLITS]
// SPLITS (default 1) splits the KV length as the runtime's rule does for few heads; the splits run
// one after another on this thread, the last one combining. Built with DECODE_MICRO_PHASES=1 it
// also prints the TSC cycles per key and KV head of each phase (Q.K^T, softmax, P.V).
// The kernel comes from DECODE_MICRO_KERNEL (a source with `extern "C" void entry(...)` over a
// prelude Config) and the shape from DECODE_MICRO_{GROUP,HEADS_KV,ESIZE,COLD}.
#if DECODE_MICRO_PHASES
#if !defined(__x86_64__) && !defined(__i386__)
#error "PHASES=1 reads the x86 time-stamp counter"
#endif
// TSC cycles spent in each phase of the template's block loop, and the key x head rows it did.
namespace decode_micro {
inline unsigned long long phase_cycles[3], key_heads, last_mark;
inline void mark(int m, long long kh) {
  const unsigned long long t = __builtin_ia32_rdtsc();
  if (m > 0) phase_cycles[m - 1] += t - last_mark;
  last_mark = t;
  key_heads += (unsigned long long)kh;
}
}  // namespace decode_micro
#define ATTNJIT_DECODE_CPU_MARK(m, kh) decode_micro::mark(m, kh)
#endif
#include DECODE_MICRO_KERNEL

#include "runtime/host_pages.h"
#include "thread_seconds.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>
#include <unistd.h>
#if defined(__AMXTILE__)
#include <sys/syscall.h>
#endif

namespace {

// A buffer allocated as the runtime allocates (CpuBackend::allocate, runtime/host_pages.h): at
// least 64-byte aligned (a std::vector's large blocks start 16 bytes into a page, which splits
// every 64-byte load across two cache lines and understated the kernel: bf16 MHA warm 26.5 GB/s
// vs 41 aligned, Zen 4), and on huge pages where the host offers them (ATTNJIT_HUGE_PAGES=0: not).
struct Buffer {
  explicit Buffer(size_t n) : n_(n), p_(static_cast<unsigned char*>(attnjit::allocate_host(n, 4096))) {
    if (!p_) {
      std::fprintf(stderr, "decode_cpu_micro: cannot allocate %zu bytes\n", n);
      std::exit(1);
    }
    std::memset(p_, 0, n);
  }
  ~Buffer() { attnjit::release_host(p_); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  unsigned char* data() const { return p_; }
  size_t size() const { return n_; }
  unsigned char* begin() const { return p_; }
  unsigned char* end() const { return p_ + n_; }

 private:
  size_t n_;
  unsigned char* p_;
};

// Values in [-1, 1) in the kernel's storage (f32, or bf16 = the top half of an f32).
void fill(Buffer& buf, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (size_t i = 0; i + DECODE_MICRO_ESIZE <= buf.size(); i += DECODE_MICRO_ESIZE) {
    const float x = u(rng);
    uint32_t bits;
    std::memcpy(&bits, &x, 4);
    if (DECODE_MICRO_ESIZE == 2) {
      const uint16_t h = uint16_t(bits >> 16);
      std::memcpy(buf.data() + i, &h, 2);
    } else {
      std::memcpy(buf.data() + i, &bits, 4);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: %s KV_LEN SAMPLES [SPLITS]\n", argv[0]);
    return 2;
  }
  const long long len = std::atoll(argv[1]);
  const int samples = std::atoi(argv[2]);
  const int splits = argc == 4 ? std::atoi(argv[3]) : 1;
#if defined(__AMXTILE__)
  // Linux hands out the AMX tile state on request (ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA), as
  // the runtime does before it compiles kernels with tiles (ORDER=2).
  if (syscall(SYS_arch_prctl, 0x1023, 18) != 0) std::fprintf(stderr, "decode_cpu_micro: no AMX tile permission\n");
#endif
  if (len < 1 || samples < 1 || splits < 1 || splits > len) {
    std::fprintf(stderr, "KV_LEN and SAMPLES must be >= 1, SPLITS in 1..KV_LEN\n");
    return 2;
  }
  constexpr int D = 128, G = DECODE_MICRO_GROUP, HKV = DECODE_MICRO_HEADS_KV, ES = DECODE_MICRO_ESIZE;
  const size_t kv = size_t(len) * HKV * D, qn = size_t(G) * HKV * D;
  Buffer k(kv * ES), v(kv * ES), q(qn * ES), o(qn * ES);
  std::mt19937 rng(1);
  fill(k, rng);
  fill(v, rng);
  fill(q, rng);
  attnjit::DecodeParams p{};
  p.q = q.data();
  p.k = k.data();
  p.v = v.data();
  p.o = o.data();
  p.q_head_stride = p.o_head_stride = D;
  p.q_row_stride = p.q_batch_stride = p.o_row_stride = p.o_batch_stride = G * HKV * D;
  p.k_head_stride = p.v_head_stride = D;
  p.k_row_stride = p.v_row_stride = HKV * D;
  p.k_batch_stride = p.v_batch_stride = len * HKV * D;
  p.batch = 1;
  p.heads_q = G * HKV;
  p.heads_kv = HKV;
  p.q_tokens = 1;
  p.seqlen_k = int(len);
  p.num_splits = splits;
  std::vector<float> partial_o(size_t(splits) * HKV * G * D), partial_lse(size_t(splits) * HKV * G);
  std::vector<int> counters(HKV, 0);
  p.partial_o = partial_o.data();
  p.partial_lse = partial_lse.data();
  p.counters = counters.data();
  p.row_chunks = 1;
  p.scale = 0.08838834764831845f;
  p.scale_log2 = p.scale * 1.4426950408889634f;

  // Evicted by reading (as attnjit bench-decode does): a writing pass would leave dirty lines whose
  // write-back the timed run pays for.
  // Twice the last-level cache, at least 64 MiB (64 MiB alone left a 32k cache in the 300 MiB L3
  // of an Emerald Rapids VM).
  const long llc = std::max(sysconf(_SC_LEVEL3_CACHE_SIZE), sysconf(_SC_LEVEL2_CACHE_SIZE));
  std::vector<unsigned char> junk(DECODE_MICRO_COLD ? std::max(size_t(64) << 20, llc > 0 ? 2 * size_t(llc) : 0) : 0, 1);
  volatile unsigned long long junk_sum = 0;
  const int inner = DECODE_MICRO_COLD ? 1 : 50;
  entry(&p, 0, splits);  // page in the cache and the kernel
#if DECODE_MICRO_PHASES
  decode_micro::phase_cycles[0] = decode_micro::phase_cycles[1] = decode_micro::phase_cycles[2] = 0;
  decode_micro::key_heads = 0;
#endif
  std::vector<double> t;
  for (int s = 0; s < samples; ++s) {
    unsigned long long sum = 0;
    for (size_t i = 0; i < junk.size(); i += 64) sum += junk[i];
    junk_sum = junk_sum + sum;
    const double t0 = thread_seconds();
    for (int i = 0; i < inner; ++i) entry(&p, 0, splits);
    t.push_back((thread_seconds() - t0) / inner);
  }
  std::sort(t.begin(), t.end());
  const double bytes = 2.0 * double(kv) * ES;
  std::printf("%s gqa %d kv_len %lld: median %.2f GB/s, best %.2f GB/s (K+V bytes / thread CPU time)\n",
              DECODE_MICRO_COLD ? "streaming" : "warm", G, len, bytes / t[t.size() / 2] / 1e9, bytes / t[0] / 1e9);
#if DECODE_MICRO_PHASES
  const double kh = double(decode_micro::key_heads);
  std::printf("%s phases (TSC cycles per key and KV head, mean): Q.K^T %.1f softmax %.1f P.V %.1f\n",
              DECODE_MICRO_COLD ? "streaming" : "warm", decode_micro::phase_cycles[0] / kh,
              decode_micro::phase_cycles[1] / kh, decode_micro::phase_cycles[2] / kh);
#endif
  float sink = 0;
  for (unsigned char c : o) sink += c;
  return sink < 0 ? 1 : 0;  // keeps the output live
}
