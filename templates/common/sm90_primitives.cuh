// Hopper (sm_90a) device primitives: warpgroups, wgmma with shared-memory descriptors, mbarriers,
// TMA (cp.async.bulk.tensor), named barriers, proxy fences and setmaxnreg — each a small
// inline-PTX helper, so kernels read as algorithms and tests/emu can replace exactly these
// functions (same signatures) to run the kernels on the CPU.
//
// Include-free, like the sm80 helpers: NVRTC compiles it with no include paths.
//
// Facts the helpers rely on (PTX ISA 8.x, "Asynchronous Warpgroup Level Matrix Operations",
// "Tensor Copy", "mbarrier"; checked with NVRTC for sm_90a, see shared/HOPPER.md):
// - A warpgroup is 4 consecutive warps (128 threads, first warp a multiple of 4). wgmma,
//   wgmma.fence/commit_group/wait_group and setmaxnreg are .sync.aligned over it.
// - wgmma.mma_async m64nNk16 (N = 8..256 step 8), fp32 accumulators: thread t = 32w + 4g + q of
//   the warpgroup holds D[16w + g + 8*((i/2)%2)][8*(i/4) + 2q + i%2] in register i (i < N/2).
//   A in registers (m64k16, 4 x b32) is the mma.m16n8k16 A fragment of rows 16w..16w+15.
// - Shared operands go through a 64-bit matrix descriptor: start address >> 4 in bits 0-13,
//   leading byte offset >> 4 in 16-29, stride byte offset >> 4 in 32-45, swizzle in 62-63
//   (0 none, 1 = 128B, 2 = 64B, 3 = 32B). The layouts (T = 16 bytes):
//     K-major, no swizzle: core matrices of 8 rows x 16 bytes (rows 16 bytes apart); LBO = step
//       between core matrices along K, SBO = along M/N.
//     K-major, swizzle S bytes: rows S bytes apart, 8 rows per atom; SBO = step between 8-row
//       groups; K advances inside the row (start address + 32 bytes per k16 step).
//     MN-major (B with kTransB = 1), swizzle S: S bytes of N contiguous per K row, 8 K rows per
//       atom (rows S bytes apart); LBO = step between S-byte column blocks along N, SBO = step
//       between 8-row groups along K.
//   Swizzle S XORs address bits [4, 4+log2(S/16)) with bits [7, ...): computed on the absolute
//   shared address, so a swizzled tile is aligned to its pattern (S * 8 bytes: 1024 for 128B).
// - TMA box writes use the same swizzle, so a box of rows S bytes wide lands in exactly the
//   K-major (or MN-major) swizzled layout above; out-of-bounds elements are written as zeros
//   on load and skipped on store; the full box bytes count toward the mbarrier's transactions.
// - An mbarrier phase completes when its pending arrivals and its transaction count both reach
//   zero; try_wait.parity(P) succeeds once the phase with parity P has completed.
#pragma once

#include "common/sm90_wgmma_asm.cuh"  // by its path under templates/, as NVRTC sees it

namespace attnjit {
namespace sm90 {

// The 128-byte opaque CUtensorMap (cuda.h is not available to NVRTC). Pass it to a kernel as
// `const __grid_constant__ TensorMap`: by value without __grid_constant__ it is copied to the
// stack and the TMA unit faults on the copy.
struct alignas(64) TensorMap {
  unsigned long long opaque[16];
};

// Warpgroup of the calling thread and its index inside it (threadIdx.x only: 1-D blocks).
__device__ __forceinline__ int warpgroup_index() { return static_cast<int>(threadIdx.x) / 128; }
__device__ __forceinline__ int warpgroup_thread() { return static_cast<int>(threadIdx.x) % 128; }

// 32-bit shared address of a generic pointer into shared memory.
__device__ __forceinline__ unsigned smem_addr(const void* p) {
  unsigned addr;
  asm volatile("{ .reg .u64 a; cvta.to.shared.u64 a, %1; cvt.u32.u64 %0, a; }\n"
               : "=r"(addr)
               : "l"(p));
  return addr;
}

// ---- wgmma ----

enum class Swizzle : int { None = 0, B128 = 1, B64 = 2, B32 = 3 };

// Matrix descriptor of a shared tile (byte values; the descriptor stores them >> 4).
__device__ __forceinline__ unsigned long long make_smem_desc(unsigned addr, unsigned lbo,
                                                             unsigned sbo, Swizzle sw) {
  return static_cast<unsigned long long>((addr >> 4) & 0x3fff) |
         (static_cast<unsigned long long>((lbo >> 4) & 0x3fff) << 16) |
         (static_cast<unsigned long long>((sbo >> 4) & 0x3fff) << 32) |
         (static_cast<unsigned long long>(static_cast<int>(sw)) << 62);
}

// Accumulators of one m64nN wgmma: N/2 fp32 registers per thread in the layout above. Access
// them only through operator[] (the emulator checks every access against in-flight wgmmas).
template <int N>
struct WgAccum {
  static_assert(N % 8 == 0 && N >= 8 && N <= 256, "wgmma N is a multiple of 8 in [8, 256]");
  static constexpr int kRegs = N / 2;
  float reg[kRegs];
  __device__ __forceinline__ float& operator[](int i) { return reg[i]; }
  __device__ __forceinline__ const float& operator[](int i) const { return reg[i]; }
};

// Orders earlier register accesses (accumulators, A fragments) before the next wgmma.
__device__ __forceinline__ void wgmma_fence() {
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void wgmma_commit() {
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
// Waits until at most N committed wgmma groups of this warpgroup are pending.
template <int N>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}

// D (+)= A * B, A and B in shared memory. kTransB: B is N-major (V in O = P V).
template <class Element, int N, int kTransB>
__device__ __forceinline__ void wgmma_ss(WgAccum<N>& d, unsigned long long desc_a,
                                         unsigned long long desc_b, bool accumulate) {
  detail::WgmmaAsm<N>::template ss<Element, kTransB>(d.reg, desc_a, desc_b, accumulate ? 1 : 0);
}

// D (+)= A * B, A (m64k16) from four registers per thread, B in shared memory.
template <class Element, int N, int kTransB>
__device__ __forceinline__ void wgmma_rs(WgAccum<N>& d, const unsigned (&a)[4],
                                         unsigned long long desc_b, bool accumulate) {
  detail::WgmmaAsm<N>::template rs<Element, kTransB>(d.reg, a, desc_b, accumulate ? 1 : 0);
}

// Two fp32 values as one packed f16x2 / bf16x2 register (lo in the low half): an A fragment
// element pair of wgmma_rs.
template <class Element>
__device__ __forceinline__ unsigned pack_half2(float lo, float hi) {
  unsigned r;
  if constexpr (Element::kIsBf16)
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
  else
    asm("cvt.rn.f16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}

// 2^x with ex2.approx.ftz (the softmax's exponential; exp2f would add a range reduction).
__device__ __forceinline__ float exp2_approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// ---- mbarrier ----

__device__ __forceinline__ void mbar_init(unsigned bar, unsigned count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
// Makes mbarrier.init visible to the async proxy (TMA) and other threads.
__device__ __forceinline__ void fence_mbar_init() {
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}
__device__ __forceinline__ void mbar_arrive(unsigned bar) {
  asm volatile("{ .reg .b64 st; mbarrier.arrive.shared::cta.b64 st, [%0]; }\n" ::"r"(bar)
               : "memory");
}
// Adds `bytes` to the expected transactions and arrives (the producer, before its TMA loads).
__device__ __forceinline__ void mbar_arrive_expect_tx(unsigned bar, unsigned bytes) {
  asm volatile("{ .reg .b64 st; mbarrier.arrive.expect_tx.shared::cta.b64 st, [%0], %1; }\n" ::"r"(
                   bar),
               "r"(bytes)
               : "memory");
}
__device__ __forceinline__ bool mbar_try_wait(unsigned bar, unsigned parity) {
  unsigned ok;
  asm volatile(
      "{ .reg .pred p; mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2; selp.u32 %0, 1, 0, p; }\n"
      : "=r"(ok)
      : "r"(bar), "r"(parity)
      : "memory");
  return ok != 0;
}

// Non-blocking: whether the phase with parity `parity` has completed.
__device__ __forceinline__ bool mbar_test_wait(unsigned bar, unsigned parity) {
  unsigned ok;
  asm volatile(
      "{ .reg .pred p; mbarrier.test_wait.parity.shared::cta.b64 p, [%1], %2; selp.u32 %0, 1, 0, p; }\n"
      : "=r"(ok)
      : "r"(bar), "r"(parity)
      : "memory");
  return ok != 0;
}
// Counts `bytes` of transactions as done without a copy (tests and probes).
__device__ __forceinline__ void mbar_complete_tx(unsigned bar, unsigned bytes) {
  asm volatile("mbarrier.complete_tx.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
// Adds `bytes` to the expected transactions without arriving.
__device__ __forceinline__ void mbar_expect_tx(unsigned bar, unsigned bytes) {
  asm volatile("mbarrier.expect_tx.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}

// Waits for the phase with parity `parity` to complete. With ATTNJIT_MBAR_WAIT_BOUND defined
// (debug builds) the wait gives up after that many tries and traps with a message: a lost arrive
// then fails in seconds instead of hanging the GPU until the launch times out.
__device__ __forceinline__ void mbar_wait(unsigned bar, unsigned parity) {
#ifdef ATTNJIT_MBAR_WAIT_BOUND
  for (long long i = 0; !mbar_try_wait(bar, parity); ++i)
    if (i >= (ATTNJIT_MBAR_WAIT_BOUND)) {
      printf("attnjit: mbarrier wait timed out: smem 0x%x parity %u block (%d,%d,%d) thread %d\n",
             bar, parity, blockIdx.x, blockIdx.y, blockIdx.z, static_cast<int>(threadIdx.x));
      asm volatile("trap;");
    }
#else
  while (!mbar_try_wait(bar, parity)) {
  }
#endif
}

// ---- TMA ----

// Loads the box at coordinates (c0 innermost, c1) of `map` into shared memory at `dst`; the
// bytes complete as transactions on mbarrier `bar`.
__device__ __forceinline__ void tma_load_2d(unsigned dst, const TensorMap* map, int c0, int c1,
                                            unsigned bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
      " [%0], [%1, {%2, %3}], [%4];\n" ::"r"(dst),
      "l"(map), "r"(c0), "r"(c1), "r"(bar)
      : "memory");
}
__device__ __forceinline__ void tma_load_3d(unsigned dst, const TensorMap* map, int c0, int c1,
                                            int c2, unsigned bar) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
      " [%0], [%1, {%2, %3, %4}], [%5];\n" ::"r"(dst),
      "l"(map), "r"(c0), "r"(c1), "r"(c2), "r"(bar)
      : "memory");
}
__device__ __forceinline__ void tma_load_4d(unsigned dst, const TensorMap* map, int c0, int c1,
                                            int c2, int c3, unsigned bar) {
  asm volatile(
      "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
      " [%0], [%1, {%2, %3, %4, %5}], [%6];\n" ::"r"(dst),
      "l"(map), "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(bar)
      : "memory");
}
// Stores the shared box at `src` to (c0, c1) of `map`; elements outside the tensor are dropped.
__device__ __forceinline__ void tma_store_2d(const TensorMap* map, unsigned src, int c0, int c1) {
  asm volatile("cp.async.bulk.tensor.2d.global.shared::cta.tile.bulk_group [%0, {%1, %2}], [%3];\n" ::"l"(
                   map),
               "r"(c0), "r"(c1), "r"(src)
               : "memory");
}
__device__ __forceinline__ void tma_store_3d(const TensorMap* map, unsigned src, int c0, int c1,
                                             int c2) {
  asm volatile(
      "cp.async.bulk.tensor.3d.global.shared::cta.tile.bulk_group [%0, {%1, %2, %3}], [%4];\n" ::"l"(
          map),
      "r"(c0), "r"(c1), "r"(c2), "r"(src)
      : "memory");
}
__device__ __forceinline__ void tma_store_4d(const TensorMap* map, unsigned src, int c0, int c1,
                                             int c2, int c3) {
  asm volatile(
      "cp.async.bulk.tensor.4d.global.shared::cta.tile.bulk_group [%0, {%1, %2, %3, %4}], [%5];\n" ::"l"(
          map),
      "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(src)
      : "memory");
}
__device__ __forceinline__ void tma_store_commit() {
  asm volatile("cp.async.bulk.commit_group;\n" ::: "memory");
}
// Waits until the shared sources of all but N committed stores have been read.
template <int N>
__device__ __forceinline__ void tma_store_wait_read() {
  asm volatile("cp.async.bulk.wait_group.read %0;\n" ::"n"(N) : "memory");
}
// Makes this thread's generic-proxy shared-memory writes visible to the async proxy (a TMA
// store reading them), and orders async-proxy writes before later generic accesses.
__device__ __forceinline__ void fence_proxy_async() {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

// ---- Named barriers and register reallocation ----

// bar.sync id, count: waits until `count` threads (a multiple of 32) have arrived at barrier
// `id` (1..15; 0 is __syncthreads).
__device__ __forceinline__ void named_bar_sync(unsigned id, unsigned count) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(count) : "memory");
}
// bar.arrive id, count: counts this thread's arrival without waiting.
__device__ __forceinline__ void named_bar_arrive(unsigned id, unsigned count) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(count) : "memory");
}

// setmaxnreg: N in [24, 256], a multiple of 8, the same for the whole warpgroup. ptxas ignores
// it (warning C7508) unless the kernel has __launch_bounds__(threads, 1).
template <int N>
__device__ __forceinline__ void setmaxnreg_inc() {
  static_assert(N % 8 == 0 && N >= 24 && N <= 256, "setmaxnreg: multiple of 8 in [24, 256]");
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(N));
}
template <int N>
__device__ __forceinline__ void setmaxnreg_dec() {
  static_assert(N % 8 == 0 && N >= 24 && N <= 256, "setmaxnreg: multiple of 8 in [24, 256]");
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(N));
}

}  // namespace sm90
}  // namespace attnjit
