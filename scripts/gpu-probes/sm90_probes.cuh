// Layout probes for sm_90a: tiny kernels whose output pins down what the emulator must match.
// On a GPU, probe_main.cu runs them and prints the golden files of tests/emu/golden/; in CI,
// tests/emu/sm90_golden_test.cpp runs the same kernels in the emulator and compares with those
// files. Every kernel runs as one block of 128 threads (one warpgroup).
#pragma once

#include "sm90_primitives.cuh"

namespace attnjit {
namespace probes {

struct Bf16 {
  static constexpr bool kIsBf16 = true;
};

inline constexpr int kAccN = 16;  // wgmma m64n16k16: registers 0..7 cover both 8-column blocks

// D = A B with A[r][0] = r, A[r][1] = 1, B[0][c] = 64, B[1][c] = c: D[r][c] = 64 r + c, so each
// accumulator register names its (row, column). A and B unswizzled K-major (8x16-byte core
// matrices: SBO 128 between 8-row groups, LBO 1024 to k 8..15). out[128][8].
__global__ void __launch_bounds__(128, 1) probe_wgmma_acc(float* out) {
  using namespace sm90;
  extern __shared__ __align__(1024) unsigned char probe_smem[];
  const int t = static_cast<int>(threadIdx.x);
  unsigned short* h = reinterpret_cast<unsigned short*>(probe_smem);
  for (int i = t; i < 4096; i += 128) h[i] = 0;  // 8 KB: A at 0, B at 4096 bytes
  __syncthreads();
  if (t < 64) {
    const int r = t;
    // bf16 bits of small integers: exact.
    const unsigned ab = pack_half2<Bf16>(static_cast<float>(r), 1.f);
    *reinterpret_cast<unsigned*>(probe_smem + (r / 8) * 128 + (r % 8) * 16) = ab;  // k 0, 1
  }
  if (t < kAccN) {
    const int c = t;
    const unsigned bb = pack_half2<Bf16>(64.f, static_cast<float>(c));
    *reinterpret_cast<unsigned*>(probe_smem + 4096 + (c / 8) * 128 + (c % 8) * 16) = bb;
  }
  fence_proxy_async();  // generic writes -> async proxy (wgmma reads shared memory through it)
  __syncthreads();
  const unsigned base = smem_addr(probe_smem);
  WgAccum<kAccN> d;
  wgmma_fence();
  wgmma_ss<Bf16, kAccN, 0>(d, make_smem_desc(base, 1024, 128, Swizzle::None),
                           make_smem_desc(base + 4096, 1024, 128, Swizzle::None), false);
  wgmma_commit();
  wgmma_wait<0>();
  for (int i = 0; i < WgAccum<kAccN>::kRegs; ++i) out[t * WgAccum<kAccN>::kRegs + i] = d[i];
}

// One TMA load of an 8-row box whose rows are exactly one swizzle span wide, from a tensor with
// g[r][c] = 256 r + c; out = the shared image (8 * span bytes).
__global__ void __launch_bounds__(128, 1) probe_tma_swizzle(const __grid_constant__ sm90::TensorMap map,
                                                            unsigned span, unsigned short* out) {
  using namespace sm90;
  extern __shared__ __align__(1024) unsigned char probe_smem[];
  const unsigned base = (smem_addr(probe_smem) + 1023u) & ~1023u;
  const unsigned char* img = probe_smem + (base - smem_addr(probe_smem));
  const unsigned bar = base + 4096;
  if (threadIdx.x == 0) {
    mbar_init(bar, 1);
    fence_mbar_init();
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    mbar_arrive_expect_tx(bar, 8 * span);
    tma_load_2d(base, &map, 0, 0, bar);
  }
  mbar_wait(bar, 0);
  for (unsigned i = threadIdx.x; i < 8 * span / 2; i += 128)
    out[i] = reinterpret_cast<const unsigned short*>(img)[i];
}

// The mbarrier phase sequence seen by mbarrier.test_wait.parity (non-blocking) for parities 0
// and 1 after each step: 0 init(2), 1 arrive, 2 arrive (phase 0 completes), 3 expect_tx(32) and
// arrive, 4 arrive (arrivals done, 32 bytes missing), 5 complete_tx(32) (phase 1 completes),
// 6 arrive, 7 arrive (phase 2 completes). out[8][2].
inline constexpr int kMbarSteps = 8;
__global__ void __launch_bounds__(128, 1) probe_mbarrier(int* out) {
  using namespace sm90;
  extern __shared__ __align__(1024) unsigned char probe_smem[];
  const unsigned bar = smem_addr(probe_smem);
  if (threadIdx.x != 0) return;
  auto record = [&](int step) {
    out[2 * step] = mbar_test_wait(bar, 0) ? 1 : 0;
    out[2 * step + 1] = mbar_test_wait(bar, 1) ? 1 : 0;
  };
  mbar_init(bar, 2);
  fence_mbar_init();
  record(0);
  mbar_arrive(bar);
  record(1);
  mbar_arrive(bar);
  record(2);
  mbar_arrive_expect_tx(bar, 32);
  record(3);
  mbar_arrive(bar);
  record(4);
  mbar_complete_tx(bar, 32);
  record(5);
  mbar_arrive(bar);
  record(6);
  mbar_arrive(bar);
  record(7);
}

}  // namespace probes
}  // namespace attnjit
