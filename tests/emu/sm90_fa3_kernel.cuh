// A small FlashAttention-3-shaped forward kernel for sm_90a, used to prove that the emulator
// carries a real warp-specialised kernel and that the primitives compile to HGMMA / UTMALDG:
// head dim 64, block_m 128 (two consumer warpgroups of 64 rows), block_n 64, 2 K/V stages,
// no mask beyond the key length. Real CUDA C++: NVRTC compiles it for sm_90a (tests/gates) and
// the emulator runs it through tests/emu/sm90_emu_ops.h.
//
// Warpgroup 0 (producer) drops to 24 registers; one thread TMA-loads Q once and K/V tiles into a
// 2-stage ring (full barriers with transaction bytes, empty barriers released by the consumers).
// Warpgroups 1 and 2 (consumers, 240 registers) each own 64 query rows: S = Q K^T with both
// operands in shared memory (128-byte swizzle, K-major), online softmax in registers, P converted
// to bf16/f16 A fragments and O += P V with V as an N-major B operand. The two consumers take
// turns issuing their S GEMMs (ping-pong on named barriers 1 and 2) so one's softmax overlaps
// the other's tensor-core work. O goes out through shared memory and a TMA store.
#pragma once

#include "sm90_primitives.cuh"

namespace attnjit {
namespace sm90_test {

struct F16 {
  static constexpr bool kIsBf16 = false;
};
struct Bf16 {
  static constexpr bool kIsBf16 = true;
};

struct Fa3Params {
  int seqlen_q, seqlen_k;
  float scale_log2;  // softmax scale * log2(e)
};

inline constexpr int kHeadDim = 64, kBlockM = 128, kBlockN = 64, kStages = 2;
inline constexpr int kThreads = 384;
// Shared layout (bytes from a 1024-aligned base): Q | K stages | V stages | O | barriers.
inline constexpr unsigned kRowBytes = kHeadDim * 2;  // 128: one swizzle row
inline constexpr unsigned kQBytes = kBlockM * kRowBytes, kKvBytes = kBlockN * kRowBytes;
inline constexpr unsigned kOffK = kQBytes, kOffV = kOffK + kStages * kKvBytes;
inline constexpr unsigned kOffO = kOffV + kStages * kKvBytes, kOffBar = kOffO + kQBytes;
inline constexpr unsigned kSmemBytes = kOffBar + 64 + 1024;  // + alignment slack

__device__ __forceinline__ float neg_inf() { return __uint_as_float(0xff800000u); }

template <class Element>
__global__ void __launch_bounds__(kThreads, 1)
    fa3_test_kernel(const __grid_constant__ sm90::TensorMap tq,
                    const __grid_constant__ sm90::TensorMap tk,
                    const __grid_constant__ sm90::TensorMap tv,
                    const __grid_constant__ sm90::TensorMap to, const Fa3Params p) {
  using namespace sm90;
  extern __shared__ __align__(128) unsigned char fa3_smem[];
  const unsigned base = (smem_addr(fa3_smem) + 1023u) & ~1023u;
  unsigned char* const base_ptr = fa3_smem + (base - smem_addr(fa3_smem));
  const unsigned q_full = base + kOffBar;
  auto k_full = [&](int s) { return base + kOffBar + 8u + 8u * static_cast<unsigned>(s); };
  auto v_full = [&](int s) { return base + kOffBar + 24u + 8u * static_cast<unsigned>(s); };
  auto kv_empty = [&](int s) { return base + kOffBar + 40u + 8u * static_cast<unsigned>(s); };

  const int m_block = static_cast<int>(blockIdx.x), head = static_cast<int>(blockIdx.y);
  const int n_blocks = (p.seqlen_k + kBlockN - 1) / kBlockN;
  if (threadIdx.x == 0) {
    mbar_init(q_full, 1);
    for (int s = 0; s < kStages; ++s) {
      mbar_init(k_full(s), 1);
      mbar_init(v_full(s), 1);
      mbar_init(kv_empty(s), 2);  // one arrive per consumer warpgroup
    }
    fence_mbar_init();
  }
  __syncthreads();

  const int wg = warpgroup_index();
  if (wg == 0) {
    setmaxnreg_dec<24>();
    if (threadIdx.x == 0) {
      mbar_arrive_expect_tx(q_full, kQBytes);
      tma_load_3d(base, &tq, 0, m_block * kBlockM, head, q_full);
      for (int n = 0; n < n_blocks; ++n) {
        const int s = n % kStages;
        mbar_wait(kv_empty(s), ((n / kStages) & 1) ^ 1);  // first round passes at once
        mbar_arrive_expect_tx(k_full(s), kKvBytes);
        tma_load_3d(base + kOffK + s * kKvBytes, &tk, 0, n * kBlockN, head, k_full(s));
        mbar_arrive_expect_tx(v_full(s), kKvBytes);
        tma_load_3d(base + kOffV + s * kKvBytes, &tv, 0, n * kBlockN, head, v_full(s));
      }
    }
    return;
  }

  setmaxnreg_inc<240>();
  const int c = wg - 1;  // consumer 0 or 1: rows 64c .. 64c+63 of the tile
  const int t = warpgroup_thread(), warp = t / 32, g = (t % 32) / 4, q4 = t % 4;
  const unsigned q_tile = base + static_cast<unsigned>(c) * 64u * kRowBytes;
  // The other consumer lets consumer 0 start: one arrival on consumer 0's barrier.
  if (c == 1) named_bar_arrive(1, 256);

  WgAccum<kHeadDim> o;
  for (int i = 0; i < WgAccum<kHeadDim>::kRegs; ++i) o[i] = 0.f;
  float row_max[2] = {neg_inf(), neg_inf()}, row_sum[2] = {0.f, 0.f};
  mbar_wait(q_full, 0);

  for (int n = 0; n < n_blocks; ++n) {
    const int s = n % kStages;
    const unsigned phase = static_cast<unsigned>(n / kStages) & 1u;
    const unsigned k_tile = base + kOffK + s * kKvBytes, v_tile = base + kOffV + s * kKvBytes;
    mbar_wait(k_full(s), phase);

    // S = Q K^T: 4 k16 steps inside the 128-byte swizzled rows (start address + 32 bytes each).
    WgAccum<kBlockN> sacc;
    named_bar_sync(1 + c, 256);  // my turn
    wgmma_fence();
    for (int k = 0; k < kHeadDim / 16; ++k)
      wgmma_ss<Element, kBlockN, 0>(sacc, make_smem_desc(q_tile + 32u * k, 16, 1024, Swizzle::B128),
                                    make_smem_desc(k_tile + 32u * k, 16, 1024, Swizzle::B128), k > 0);
    wgmma_commit();
    if (!(c == 1 && n == n_blocks - 1)) named_bar_arrive(2 - c, 256);  // the other's turn
    wgmma_wait<0>();

    // Online softmax on rows g and g+8 of this warp's 16 (registers i with (i/2)%2 = 0 / 1).
    float mx[2] = {neg_inf(), neg_inf()};
    for (int i = 0; i < WgAccum<kBlockN>::kRegs; ++i) {
      const int col = n * kBlockN + 8 * (i >> 2) + 2 * q4 + (i & 1);
      if (col >= p.seqlen_k) sacc[i] = neg_inf();
      mx[(i >> 1) & 1] = fmaxf(mx[(i >> 1) & 1], sacc[i]);
    }
    float corr[2];
    for (int r = 0; r < 2; ++r) {
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
      const float m_new = fmaxf(row_max[r], mx[r] * p.scale_log2);
      corr[r] = sm90::exp2_approx(row_max[r] - m_new);
      row_max[r] = m_new;
      row_sum[r] *= corr[r];
    }
    unsigned pa[kBlockN / 16][4];
    for (int i = 0; i < WgAccum<kBlockN>::kRegs; i += 2) {
      const int r = (i >> 1) & 1;
      const float e0 = sm90::exp2_approx(sacc[i] * p.scale_log2 - row_max[r]);
      const float e1 = sm90::exp2_approx(sacc[i + 1] * p.scale_log2 - row_max[r]);
      row_sum[r] += e0 + e1;
      // Accumulator registers 8j..8j+7 are exactly the A fragment of k16 step j.
      pa[i / 8][(i % 8) / 2] = pack_half2<Element>(e0, e1);
    }
    for (int i = 0; i < WgAccum<kHeadDim>::kRegs; ++i) o[i] *= corr[(i >> 1) & 1];

    // O += P V: V is [key][d] with d contiguous, an N-major B (kTransB = 1); 16 keys per step
    // are two 8-row groups of 1024 bytes.
    mbar_wait(v_full(s), phase);
    wgmma_fence();
    for (int k = 0; k < kBlockN / 16; ++k)
      wgmma_rs<Element, kHeadDim, 1>(o, pa[k], make_smem_desc(v_tile + 2048u * k, 8192, 1024, Swizzle::B128),
                                     true);
    wgmma_commit();
    wgmma_wait<0>();
    if (t == 0) mbar_arrive(kv_empty(s));
  }

  // Epilogue: O / l as 16-bit values into the 128-byte swizzled O tile, then one TMA store.
  float inv[2];
  for (int r = 0; r < 2; ++r) {
    float l = row_sum[r];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    inv[r] = l > 0.f ? 1.f / l : 0.f;
  }
  const unsigned o_tile = base + kOffO + static_cast<unsigned>(c) * 64u * kRowBytes;
  unsigned char* const o_ptr = base_ptr + (o_tile - base);
  for (int i = 0; i < WgAccum<kHeadDim>::kRegs; i += 2) {
    const int r = (i >> 1) & 1, row = 16 * warp + g + 8 * r, chunk = i >> 2;
    const unsigned v = pack_half2<Element>(o[i] * inv[r], o[i + 1] * inv[r]);
    const unsigned off = static_cast<unsigned>(row) * kRowBytes +
                         16u * static_cast<unsigned>(chunk ^ (row % 8)) + 4u * static_cast<unsigned>(q4);
    *reinterpret_cast<unsigned*>(o_ptr + off) = v;
  }
  fence_proxy_async();
  named_bar_sync(3 + c, 128);
  if (t == 0) {
    tma_store_3d(&to, o_tile, 0, m_block * kBlockM + 64 * c, head);
    tma_store_commit();
    tma_store_wait_read<0>();
  }
}

}  // namespace sm90_test
}  // namespace attnjit
