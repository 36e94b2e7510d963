// Prefill attention forward for sm_90a — FlashAttention-3 style (warp-specialised).
//
// One thread block computes a 128-row query tile of one (batch, head) with three warpgroups:
// warpgroup 0 is the producer (setmaxnreg down to 24 registers): one thread TMA-loads the Q tile
// once and streams the K/V tiles the tile's mask can see through a ring of kStages stages (full
// barriers complete by transaction bytes; empty barriers are released by both consumers).
// Warpgroups 1 and 2 are consumers (setmaxnreg up to 240), 64 query rows each: S = Q K^T by
// wgmma with both operands in shared memory, the online softmax in registers with exp2, P
// converted to 16-bit A fragments in registers and O += P V by wgmma with V as an N-major B.
// The consumers take turns issuing their S GEMMs (ping-pong on named barriers 1 and 2), so
// one's softmax overlaps the other's tensor-core work.
//
// Layout: rows are head_dim * 2 bytes; TMA boxes are at most 128 bytes wide with the 128-byte
// swizzle, so a tile is stored as head_dim / 64 column blocks of [rows][64 elements], each a
// run of 1024-byte swizzle atoms (K-major for Q and K; the same tile read N-major for V).
// Tensor maps are 4-D (d, row, head, batch), so any strides TMA can describe work, uneven
// lengths read zeros past the end, and O's TMA store drops the rows past seqlen_q. LSE goes
// out by direct predicated stores. Masks are the sm80 path's policies (bottom-right aligned);
// a row that sees no key gets O = 0 and LSE = -inf.
#pragma once

// The primitives first: in the emulator their shadow brings the CUDA shim the mask header needs.
#include "common/sm90_primitives.cuh"
#include "common/sm80_mask.cuh"
#include "prefill/params.h"

namespace attnjit {

// Element types of the sm90 template (the wgmma helpers only ask for kIsBf16).
namespace sm90 {
struct F16 {
  static constexpr bool kIsBf16 = false;
};
struct Bf16 {
  static constexpr bool kIsBf16 = true;
};
}  // namespace sm90

// The kernel's single parameter: tensor maps for Q, K, V (loads) and O (store), then the
// plain launch parameters (sizes, scale, LSE pointer and strides). Built by the host in
// build_arguments; passed `const __grid_constant__` so the maps stay in parameter space.
struct PrefillSm90Params {
  sm90::TensorMap tq, tk, tv, to;
  PrefillParams p;
};

template <class Element_, int kHeadDim_, int kBlockN_, int kStages_, class Mask_>
struct PrefillSm90Traits {
  using Element = Element_;
  using Mask = Mask_;
  static constexpr int kHeadDim = kHeadDim_, kBlockN = kBlockN_, kStages = kStages_;
  static constexpr int kConsumers = 2;
  static constexpr int kBlockM = 64 * kConsumers;
  static constexpr int kThreads = 128 * (1 + kConsumers);
  static constexpr int kColBlocks = kHeadDim / 64;  // 128-byte column blocks per row
  static constexpr unsigned kQBytes = kBlockM * kHeadDim * 2, kKvBytes = kBlockN * kHeadDim * 2;
  // Shared layout from a 1024-aligned base: Q (reused for O) | K stages | V stages | barriers.
  static constexpr unsigned kOffK = kQBytes, kOffV = kOffK + kStages * kKvBytes;
  static constexpr unsigned kOffBar = kOffV + kStages * kKvBytes;
  static constexpr unsigned kSmemBytes = kOffBar + 8 * (1 + 3 * kStages) + 1024;  // + align slack

  static_assert(kHeadDim == 64 || kHeadDim == 128 || kHeadDim == 256, "head dim 64, 128 or 256");
  static_assert(kBlockN % 16 == 0 && kBlockN >= 16 && kBlockN <= 256, "block_n: 16..256, step 16");
  static_assert(kStages >= 1 && kStages <= 4, "stages: 1..4");
  static_assert(kSmemBytes <= 227 * 1024, "shared memory beyond sm_90's 227 KB");
};

template <class Traits>
__global__ void __launch_bounds__(Traits::kThreads, 1)
    prefill_sm90_kernel(const __grid_constant__ PrefillSm90Params params) {
  using namespace sm90;
  using Element = typename Traits::Element;
  using Mask = typename Traits::Mask;
  constexpr int kHeadDim = Traits::kHeadDim, kBlockM = Traits::kBlockM, kBlockN = Traits::kBlockN;
  constexpr int kStages = Traits::kStages, kColBlocks = Traits::kColBlocks;
  const PrefillParams& p = params.p;

  extern __shared__ __align__(128) unsigned char sm90_smem[];
  const unsigned base = (smem_addr(sm90_smem) + 1023u) & ~1023u;
  unsigned char* const base_ptr = sm90_smem + (base - smem_addr(sm90_smem));
  const unsigned q_full = base + Traits::kOffBar;
  auto k_full = [&](int s) { return q_full + 8u + 8u * static_cast<unsigned>(s); };
  auto v_full = [&](int s) { return q_full + 8u + 8u * static_cast<unsigned>(kStages + s); };
  auto kv_empty = [&](int s) { return q_full + 8u + 8u * static_cast<unsigned>(2 * kStages + s); };
  auto k_tile = [&](int s) { return base + Traits::kOffK + static_cast<unsigned>(s) * Traits::kKvBytes; };
  auto v_tile = [&](int s) { return base + Traits::kOffV + static_cast<unsigned>(s) * Traits::kKvBytes; };

  // Causal blocks near the bottom see the most keys; launching them first shortens the tail.
  const int m_block = Mask::kCausal ? static_cast<int>(gridDim.x - 1 - blockIdx.x)
                                    : static_cast<int>(blockIdx.x);
  const int head = static_cast<int>(blockIdx.y), batch = static_cast<int>(blockIdx.z);
  const int head_kv = head / (p.heads_q / p.heads_kv);
  const int seqlen_q = p.seqlen_q, seqlen_k = p.seqlen_k, m0 = m_block * kBlockM;

  // Keys visible to the tile: [lo(first row), hi(last valid row)), as in the sm80 path.
  const int last_row = (m0 + kBlockM < seqlen_q ? m0 + kBlockM : seqlen_q) - 1;
  int lo_first, hi_first, lo_last, hi_last;
  Mask::key_range(m0, seqlen_q, seqlen_k, lo_first, hi_first);
  Mask::key_range(last_row, seqlen_q, seqlen_k, lo_last, hi_last);
  const int n_block_min = lo_first / kBlockN;
  const int n_block_max = (hi_last + kBlockN - 1) / kBlockN;
  const int n_tiles = n_block_max > n_block_min ? n_block_max - n_block_min : 0;

  if (threadIdx.x == 0) {
    mbar_init(q_full, 1);
    for (int s = 0; s < kStages; ++s) {
      mbar_init(k_full(s), 1);
      mbar_init(v_full(s), 1);
      mbar_init(kv_empty(s), Traits::kConsumers);  // one arrive per consumer warpgroup
    }
    fence_mbar_init();
  }
  __syncthreads();

  const int wg = warpgroup_index();
  if (wg == 0) {
    setmaxnreg_dec<24>();
    if (threadIdx.x == 0) {
      mbar_arrive_expect_tx(q_full, Traits::kQBytes);
      for (int cb = 0; cb < kColBlocks; ++cb)
        tma_load_4d(base + cb * kBlockM * 128u, &params.tq, 64 * cb, m0, head, batch, q_full);
      for (int n = 0; n < n_tiles; ++n) {
        const int s = n % kStages, row = (n_block_min + n) * kBlockN;
        mbar_wait(kv_empty(s), ((n / kStages) & 1) ^ 1);  // the first round passes at once
        mbar_arrive_expect_tx(k_full(s), Traits::kKvBytes);
        for (int cb = 0; cb < kColBlocks; ++cb)
          tma_load_4d(k_tile(s) + cb * kBlockN * 128u, &params.tk, 64 * cb, row, head_kv, batch,
                      k_full(s));
        mbar_arrive_expect_tx(v_full(s), Traits::kKvBytes);
        for (int cb = 0; cb < kColBlocks; ++cb)
          tma_load_4d(v_tile(s) + cb * kBlockN * 128u, &params.tv, 64 * cb, row, head_kv, batch,
                      v_full(s));
      }
    }
    return;
  }

  setmaxnreg_inc<240>();
  const int c = wg - 1;  // consumer 0 or 1: rows 64c .. 64c+63 of the tile
  const int t = warpgroup_thread(), warp = t / 32, g = (t % 32) / 4, q4 = t % 4;
  // This consumer's 64 rows inside column block 0 of Q (block cb is kBlockM * 128 bytes on).
  const unsigned q_rows = base + static_cast<unsigned>(c) * 64u * 128u;
  // The other consumer lets consumer 0 start: one arrival on consumer 0's barrier.
  if (c == 1 && n_tiles > 0) named_bar_arrive(1, 256);

  // This thread's two rows (g and g + 8 of its warp's 16) and the keys each may see.
  int key_lo[2], key_hi[2];
  for (int r = 0; r < 2; ++r)
    Mask::key_range(m0 + 64 * c + 16 * warp + g + 8 * r, seqlen_q, seqlen_k, key_lo[r], key_hi[r]);

  WgAccum<kHeadDim> o;
  for (int i = 0; i < WgAccum<kHeadDim>::kRegs; ++i) o[i] = 0.f;
  // Running maxima of the raw scores and per-thread partial sums of exp2.
  float row_max[2] = {-__int_as_float(0x7f800000), -__int_as_float(0x7f800000)};
  float row_sum[2] = {0.f, 0.f};
  const float neg_inf = -__int_as_float(0x7f800000);
  mbar_wait(q_full, 0);

  for (int n = 0; n < n_tiles; ++n) {
    const int s = n % kStages, n0 = (n_block_min + n) * kBlockN;
    const unsigned phase = static_cast<unsigned>(n / kStages) & 1u;
    mbar_wait(k_full(s), phase);

    // S = Q K^T: 4 k16 steps inside each 128-byte swizzled row of a column block.
    WgAccum<kBlockN> sacc;
    named_bar_sync(1 + c, 256);  // my turn
    wgmma_fence();
    for (int k = 0; k < kHeadDim / 16; ++k) {
      const unsigned col = static_cast<unsigned>(k / 4), in_row = 32u * static_cast<unsigned>(k % 4);
      wgmma_ss<Element, kBlockN, 0>(
          sacc, make_smem_desc(q_rows + col * kBlockM * 128u + in_row, 16, 1024, Swizzle::B128),
          make_smem_desc(k_tile(s) + col * kBlockN * 128u + in_row, 16, 1024, Swizzle::B128), k > 0);
    }
    wgmma_commit();
    if (!(c == 1 && n == n_tiles - 1)) named_bar_arrive(2 - c, 256);  // the other's turn
    wgmma_wait<0>();

    // Elementwise mask only on tiles that cut some row's key range (tile-uniform test).
    if (Mask::kMasksKeys || n0 + kBlockN > seqlen_k) {
      if (!(n0 >= lo_last && n0 + kBlockN <= hi_first)) {
        for (int i = 0; i < WgAccum<kBlockN>::kRegs; ++i) {
          const int r = (i >> 1) & 1, col = n0 + 8 * (i >> 2) + 2 * q4 + (i & 1);
          if (col < key_lo[r] || col >= key_hi[r]) sacc[i] = neg_inf;
        }
      }
    }

    // Online softmax on rows g and g + 8 (registers i with (i/2)%2 = 0 / 1). A row that has
    // seen no key yet keeps max -inf; its exponentials use 0 instead so they are 0, not NaN.
    float mx[2] = {row_max[0], row_max[1]};
    for (int i = 0; i < WgAccum<kBlockN>::kRegs; ++i) mx[(i >> 1) & 1] = fmaxf(mx[(i >> 1) & 1], sacc[i]);
    float corr[2], m_scaled[2];
    for (int r = 0; r < 2; ++r) {
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
      m_scaled[r] = mx[r] == neg_inf ? 0.f : mx[r] * p.scale_log2;
      corr[r] = exp2_approx(row_max[r] * p.scale_log2 - m_scaled[r]);
      row_max[r] = mx[r];
      row_sum[r] *= corr[r];
    }
    unsigned pa[kBlockN / 16][4];
    for (int i = 0; i < WgAccum<kBlockN>::kRegs; i += 2) {
      const int r = (i >> 1) & 1;
      const float e0 = exp2_approx(sacc[i] * p.scale_log2 - m_scaled[r]);
      const float e1 = exp2_approx(sacc[i + 1] * p.scale_log2 - m_scaled[r]);
      row_sum[r] += e0 + e1;
      // Accumulator registers 8j..8j+7 are exactly the A fragment of k16 step j.
      pa[i / 8][(i % 8) / 2] = pack_half2<Element>(e0, e1);
    }
    for (int i = 0; i < WgAccum<kHeadDim>::kRegs; ++i) o[i] *= corr[(i >> 1) & 1];

    // O += P V: V is [key][d] with d contiguous, an N-major B; 16 keys per step are two 8-row
    // groups of 1024 bytes; the next 64 columns of d are one column block (kBlockN * 128 B) on.
    mbar_wait(v_full(s), phase);
    wgmma_fence();
    for (int k = 0; k < kBlockN / 16; ++k)
      wgmma_rs<Element, kHeadDim, 1>(
          o, pa[k], make_smem_desc(v_tile(s) + 2048u * k, kBlockN * 128u, 1024, Swizzle::B128), true);
    wgmma_commit();
    wgmma_wait<0>();
    if (t == 0) mbar_arrive(kv_empty(s));
  }

  // Epilogue: O / l as 16-bit values into this consumer's (now free) Q rows, in the same
  // swizzled layout, then TMA stores (rows past seqlen_q dropped); LSE by direct stores.
  float inv[2];
  for (int r = 0; r < 2; ++r) {
    float l = row_sum[r];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    inv[r] = l > 0.f ? 1.f / l : 0.f;
    const int row = m0 + 64 * c + 16 * warp + g + 8 * r;
    if (p.lse != nullptr && q4 == 0 && row < seqlen_q)
      p.lse[batch * p.lse_batch_stride + head * p.lse_head_stride + row] =
          l > 0.f ? row_max[r] * p.scale + logf(l) : neg_inf;
  }
  unsigned char* const o_ptr = base_ptr + (q_rows - base);
  for (int i = 0; i < WgAccum<kHeadDim>::kRegs; i += 2) {
    const int r = (i >> 1) & 1, row = 16 * warp + g + 8 * r, chunk = i >> 2;  // 16-byte chunk of d
    const unsigned v = pack_half2<Element>(o[i] * inv[r], o[i + 1] * inv[r]);
    const unsigned off = static_cast<unsigned>(chunk / 8) * kBlockM * 128u +
                         static_cast<unsigned>(row) * 128u +
                         16u * static_cast<unsigned>((chunk % 8) ^ (row % 8)) + 4u * static_cast<unsigned>(q4);
    *reinterpret_cast<unsigned*>(o_ptr + off) = v;
  }
  fence_proxy_async();
  named_bar_sync(3 + c, 128);
  if (t == 0) {
    for (int cb = 0; cb < kColBlocks; ++cb) {
      if (cb > 0) fence_proxy_async();  // the emulator asks for one per store; free on hardware
      tma_store_4d(&params.to, q_rows + cb * kBlockM * 128u, 64 * cb, m0 + 64 * c, head, batch);
    }
    tma_store_commit();
    tma_store_wait_read<0>();
  }
}

}  // namespace attnjit
