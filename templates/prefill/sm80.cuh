// Prefill attention forward for sm_80 and newer — FlashAttention-2 style.
//
// One thread block computes a kBlockM-row query tile of one (batch, head): Q is copied to
// shared memory once (and to registers when they fit), then K/V tiles of kBlockN keys stream
// through a kStages-deep cp.async pipeline; S = Q K^T and O += P V run on mma.sync m16n8k16
// with fp32 accumulators, and the softmax is the online (running max / sum) form, so S never
// leaves registers. Each warp owns kBlockM / kWarps whole query rows: the softmax needs no
// inter-warp communication and the only block-wide barriers are the pipeline's.
//
// Pipeline (K and V have kStages buffers each and separate commit groups, issued in the order
// K0 V0 K1 V1 ...): iteration i waits for K_i, then starts V_{i+S-1} and computes S_i and the
// softmax while it lands; it then waits for V_i, starts K_{i+S} and computes P V_i. With S = 1
// this is FA2's schedule (V loads behind QK^T, the next K behind PV); larger S prefetch further.
//
// Everything the generator chooses is a compile-time constant of PrefillSm80Traits, so a
// kernel carries no dead branches: the mask policy, the even-length specialization (no bounds
// checks at all), the tile shape, the pipeline depth, and the batch layout (kVarlen: packed
// sequences, one CTA per tile number of common/layout_varlen.h; kPaged: K/V rows through a block
// table, loaded row by row).
#pragma once

#include "prefill/params.h"
#include "common/sm80_copy.cuh"
#include "common/sm80_mask.cuh"
#include "common/sm80_mma.cuh"
#include "common/sm80_softmax.cuh"
#include "common/sm80_user.cuh"
#include "common/variants.h"
#include "common/layout_varlen.h"
#include "common/variants_alibi.h"
#include "common/variants_sink.h"

namespace attnjit {

template <class Element_, int kHeadDim_, int kBlockM_, int kBlockN_, int kWarps_, int kStages_,
          class Mask_, bool kEven_, bool kVarlen_ = false, bool kPaged_ = false, int kKeyTiles_ = 0>
struct PrefillSm80Traits {
  using Element = Element_;
  using Mask = Mask_;
  using Layout = layout::Layout<kVarlen_, kPaged_>;
  static constexpr bool kVarlen = kVarlen_;
  static constexpr bool kPaged = kPaged_;
  static constexpr int kHeadDim = kHeadDim_;
  static constexpr int kBlockM = kBlockM_;
  static constexpr int kBlockN = kBlockN_;
  static constexpr int kWarps = kWarps_;
  static constexpr int kStages = kStages_;
  static constexpr bool kEven = kEven_;
  // Key tiles (the config's order): 0 on multiples of kBlockN; 1 ending at the block's last
  // visible key (rounded up to half a tile), the lowest one running only its upper half when its
  // lower half lies below every row's first key; 2 the same, and in a tile the mask cuts, each
  // warp skips the 16-key steps none of its rows sees (see the kernel's tile loop).
  static constexpr int kKeyTiles = kKeyTiles_;
  static constexpr bool kEndAligned = kKeyTiles_ >= 1;
  static constexpr bool kWarpSkip = kKeyTiles_ == 2;

  static constexpr int kThreads = 32 * kWarps;
  static constexpr int kWarpRows = kBlockM / kWarps;  // query rows owned by one warp
  static constexpr int kM = kWarpRows / 16;           // m16 atoms per warp
  static constexpr int kN = kBlockN / 8;              // n8 atoms of S
  static constexpr int kD = kHeadDim / 8;             // n8 atoms of O
  static constexpr int kKQ = kHeadDim / 16;           // k16 steps of Q K^T
  static constexpr int kKP = kBlockN / 16;            // k16 steps of P V
  static constexpr int kChunks = kHeadDim / 8;        // 16-byte chunks per shared row

  // Keeping Q's A fragments in registers saves one ldmatrix per k-step, but costs kM*kHeadDim/4
  // registers; beyond this budget (with the O and S accumulators) the kernel would spill, so Q
  // is re-read from shared memory instead, as FA2 does by default. 144, not 160: hd192
  // bm64_bn32_w4 (112 + 48) spilled 4 bytes on sm_86 with Q in registers.
  static constexpr int kAccRegs = kM * (kD + kN) * 4;
  static constexpr int kQRegs = kM * kKQ * 4;
  static constexpr bool kQInRegs = kAccRegs + kQRegs <= 144;

  static constexpr int kTileBytesQ = kBlockM * kHeadDim * 2;
  static constexpr int kTileBytesKV = kBlockN * kHeadDim * 2;
  static constexpr int kSmemBytes = kTileBytesQ + 2 * kStages * kTileBytesKV;

  static_assert(kHeadDim % 32 == 0 && kHeadDim <= 256, "head dim: a multiple of 32, at most 256");
  static_assert(kWarpRows % 16 == 0 && kM >= 1, "block_m must be a multiple of 16 * warps");
  static_assert(kBlockN % 16 == 0, "block_n must be a multiple of 16");
  static_assert(kStages >= 1 && kStages <= 4, "stages: 1..4");
  static_assert(kKeyTiles_ >= 0 && kKeyTiles_ <= 2, "key tiles: order 0, 1 or 2");
  static_assert(!kEndAligned || kBlockN % 32 == 0, "end-aligned tiles: half a tile must be whole k16 steps");
  static_assert(!kEndAligned || variants::block_sparse_of<Mask_>() == 0,
                "end-aligned tiles: a block mask names its own tiles");
};

namespace sm80 {
// How the kernel runs one key tile: its upper half only (kHalf), and with each warp skipping the
// 16-key steps its rows cannot see (kSkip). Enumerators: NVRTC emits a PTX global for a class
// constant.
template <bool kHalf_, bool kSkip_>
struct TileStep {
  enum : bool { kHalf = kHalf_, kSkip = kSkip_ };
};
}  // namespace sm80

template <class Traits>
__global__ void __launch_bounds__(Traits::kThreads, 1)
    prefill_sm80_kernel(const PrefillParams params) {
  using Element = typename Traits::Element;
  using Mask = typename Traits::Mask;
  constexpr int kBlockM = Traits::kBlockM, kBlockN = Traits::kBlockN;
  constexpr int kHeadDim = Traits::kHeadDim, kThreads = Traits::kThreads;
  constexpr int kStages = Traits::kStages, kChunks = Traits::kChunks;
  constexpr int kM = Traits::kM, kN = Traits::kN, kD = Traits::kD;
  constexpr bool kCheck = !Traits::kEven;  // bounds checks only for uneven lengths

  extern __shared__ __align__(128) unsigned char smem[];
  unsigned char* const smem_q = smem;
  const unsigned s_q = sm80::smem_u32(smem_q);
  const unsigned s_k = s_q + Traits::kTileBytesQ;
  const unsigned s_v = s_k + kStages * Traits::kTileBytesKV;

  const int tid = threadIdx.x;
  const int warp = tid / 32, lane = tid % 32;
  const int g = lane / 4, t = lane % 4;  // C-fragment row group and column pair

  // Causal blocks near the bottom see the most keys; launching them first shortens the tail.
  using L = typename Traits::Layout;
  const int m_block = Mask::kCausal ? gridDim.x - 1 - blockIdx.x : blockIdx.x;
  layout::SeqTile tile;
  if constexpr (Traits::kVarlen) {
    if (!L::varlen_tile(params, m_block, kBlockM, tile)) return;  // idle tile number: whole CTA
  } else {
    tile = L::dense_tile(params, blockIdx.z, m_block, kBlockM);
  }
  const int head = blockIdx.y, batch = tile.b;
  const int head_kv = head / (params.heads_q / params.heads_kv);
  const int seqlen_q = tile.len_q, seqlen_k = tile.len_k;
  const int m0 = tile.m0;

  const unsigned short* const q_ptr = static_cast<const unsigned short*>(params.q) +
                                      L::q_rows(tile, params.q_batch_stride, params.q_row_stride) +
                                      head * params.q_head_stride;
  // Paged K/V add each row's page per load (kv_rows below); contiguous ones start at key 0.
  const unsigned short* const k_ptr =
      static_cast<const unsigned short*>(params.k) + head_kv * params.k_head_stride +
      (Traits::kPaged ? 0 : L::kv_row(params, tile, params.k_batch_stride, params.k_row_stride, 0));
  const unsigned short* const v_ptr =
      static_cast<const unsigned short*>(params.v) + head_kv * params.v_head_stride +
      (Traits::kPaged ? 0 : L::kv_row(params, tile, params.v_batch_stride, params.v_row_stride, 0));

  // Keys visible to the block: the union of its rows' ranges, which for these masks is
  // [lo(first row), hi(last valid row)). Tiles outside it are never loaded.
  const int last_row = (m0 + kBlockM < seqlen_q ? m0 + kBlockM : seqlen_q) - 1;
  int lo_first, hi_first, lo_last, hi_last;
  Mask::key_range(m0, seqlen_q, seqlen_k, lo_first, hi_first);
  Mask::key_range(last_row, seqlen_q, seqlen_k, lo_last, hi_last);
  const int n_block_min = lo_first / kBlockN;
  const int n_block_max = (hi_last + kBlockN - 1) / kBlockN;
  // ... or the block mask's tiles (variants_user.h).
  const auto blocks = variants::key_blocks<Mask, kBlockN>(params.user, batch, head, m0, n_block_min, n_block_max);
  // End-aligned tiles (kEndAligned): the tiles end at hi_last rounded up to half a tile, and
  // when [lo, hi) is an odd number of half tiles the lowest tile (it = 0, first key key0 < lo)
  // loads and computes only its upper half. A 64-row block under a 1024-key window spans 1087
  // keys: 9 aligned 128-key tiles (1152 keys), 8.5 end-aligned ones (1088); a 128-key window
  // 2 tiles against 1.5. Causal blocks whose last row ends half a tile short of a multiple of
  // kBlockN drop the diagonal tile's empty upper half the same way.
  constexpr int kHalfN = kBlockN / 2;
  int n_tiles = blocks.count(), key0 = 0;
  bool half_first = false;
  if constexpr (Traits::kEndAligned) {
    const int lo = lo_first / kHalfN * kHalfN, hi = (hi_last + kHalfN - 1) / kHalfN * kHalfN;
    const int halves = hi > lo ? (hi - lo) / kHalfN : 0;
    n_tiles = (halves + 1) / 2;
    half_first = halves % 2 != 0;
    key0 = hi - n_tiles * kBlockN;  // lo - kHalfN with a half first tile: maybe negative, never read
  }
  const auto mods = variants::make_mods<Mask>(params.user);

  // This thread's rows (2 per m-atom) and their visible key ranges, for the elementwise mask.
  const int warp_row0 = warp * Traits::kWarpRows;
  int key_lo[2 * kM], key_hi[2 * kM];
#pragma unroll
  for (int r = 0; r < 2 * kM; ++r)
    Mask::key_range(m0 + warp_row0 + (r / 2) * 16 + (r % 2) * 8 + g, seqlen_q, seqlen_k,
                    key_lo[r], key_hi[r]);
  // kWarpSkip: the keys some row of this warp can see, [lo(its first row), hi(its last row)) (a
  // row past seqlen_q only widens it). In a tile the mask cuts, a 16-key step outside it is
  // skipped by the whole warp: its scores would all be masked and its probabilities 0.
  int warp_lo = 0, warp_hi = 0;
  if constexpr (Traits::kWarpSkip) {
    int unused;
    Mask::key_range(m0 + warp_row0, seqlen_q, seqlen_k, warp_lo, unused);
    Mask::key_range(m0 + warp_row0 + Traits::kWarpRows - 1, seqlen_q, seqlen_k, unused, warp_hi);
  }

  // ALiBi (when the policy has it): this head's bias in raw score units (raw = scaled / scale).
  const auto alibi = variants::has_alibi<Mask>()
                         ? variants::AlibiBias<float>::make(variants::alibi_slope(params.alibi_slopes,
                                                                                  params.alibi_batch_stride,
                                                                                  batch, head),
                                                            1.f / params.scale)
                         : variants::AlibiBias<float>{0.f};

  const sm80::TileLoader<kBlockN, kHeadDim, kThreads> kv_loader(tid);
  // First key of tile `it` (0 past the end: a block mask's list must not be read beyond it).
  auto n0_of = [&](int it) {
    if constexpr (Traits::kEndAligned) return it < n_tiles ? key0 + it * kBlockN : 0;
    else return it < n_tiles ? static_cast<int>(blocks.n0(it)) : 0;
  };
  // K or V tile `it` (first key n0) of this block into its stage; empty past the end. Paged rows
  // are addressed one by one through the block table. A half first tile loads its upper half
  // only (rows kHalfN.. of the stage; the swizzle repeats every 8 rows).
  auto issue_load = [&](const auto& loader, unsigned dst, int n0, const unsigned short* base,
                       long long batch_stride, long long row_stride) {
    if constexpr (Traits::kPaged)
      loader.template load_rows<kCheck>(dst, [&](int r) {
        return base + L::kv_row(params, tile, batch_stride, row_stride, n0 + r);
      }, seqlen_k - n0);
    else
      loader.template load<kCheck>(dst, base + n0 * row_stride, row_stride, seqlen_k - n0);
  };
  auto load_kv = [&](int it, int n0, unsigned s_base, const unsigned short* base, long long batch_stride,
                     long long row_stride) {
    if (it < n_tiles) {
      const unsigned dst = s_base + (it % kStages) * Traits::kTileBytesKV;
      if constexpr (Traits::kEndAligned) {
        if (it == 0 && half_first)
          issue_load(sm80::TileLoader<kHalfN, kHeadDim, kThreads>(tid), dst + Traits::kTileBytesKV / 2,
                     n0 + kHalfN, base, batch_stride, row_stride);
        else
          issue_load(kv_loader, dst, n0, base, batch_stride, row_stride);
      } else {
        issue_load(kv_loader, dst, n0, base, batch_stride, row_stride);
      }
    }
    sm80::cp_async_commit();
  };
  auto load_k = [&](int it, int n0) { load_kv(it, n0, s_k, k_ptr, params.k_batch_stride, params.k_row_stride); };
  auto load_v = [&](int it, int n0) { load_kv(it, n0, s_v, v_ptr, params.v_batch_stride, params.v_row_stride); };

  // Prologue: Q, then K0 V0 K1 ... V_{S-2} K_{S-1}.
  sm80::TileLoader<kBlockM, kHeadDim, kThreads>(tid).template load<kCheck>(
      s_q, q_ptr, params.q_row_stride, seqlen_q - m0);
  sm80::cp_async_commit();
  load_k(0, n0_of(0));
#pragma unroll
  for (int s = 1; s < kStages; ++s) {
    load_v(s - 1, n0_of(s - 1));
    load_k(s, n0_of(s));
  }

  // ldmatrix lane addressing. A operand (Q): lanes 0-15 give rows 0-15 at k-chunk 0, lanes
  // 16-31 rows 0-15 at k-chunk 1. B operand of Q K^T (K rows = keys): matrix i = lane / 8 is
  // (keys +8*(i/2), k-chunk i%2), giving b0,b1 of n-atom 2p and b0,b1 of n-atom 2p+1.
  // B operand of P V via .trans (V rows = keys): matrix i is (keys +8*(i%2), d-chunk i/2).
  const sm80::FragAddr<kChunks> q_frag_addr(s_q, warp_row0 + lane % 16, lane / 16);
  const sm80::FragAddr<kChunks> k_frag_addr(s_k, (lane / 16) * 8 + lane % 8, (lane / 8) % 2);
  const sm80::FragAddr<kChunks> v_frag_addr(s_v, ((lane / 8) % 2) * 8 + lane % 8, lane / 16);

  auto load_q_frag = [&](unsigned (&a)[4], int mi, int kk) {
    sm80::ldmatrix_x4(a, q_frag_addr.at(mi * 16, 2 * kk));
  };

  unsigned q_frag[Traits::kQInRegs ? kM : 1][Traits::kQInRegs ? Traits::kKQ : 1][4];
  if constexpr (Traits::kQInRegs) {
    sm80::cp_async_wait<2 * kStages - 1>();  // Q is the oldest group
    __syncthreads();
#pragma unroll
    for (int mi = 0; mi < kM; ++mi)
#pragma unroll
      for (int kk = 0; kk < Traits::kKQ; ++kk) load_q_frag(q_frag[mi][kk], mi, kk);
  }

  float acc_o[kM][kD][4];
#pragma unroll
  for (int mi = 0; mi < kM; ++mi)
#pragma unroll
    for (int d = 0; d < kD; ++d)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc_o[mi][d][e] = 0.f;
  sm80::OnlineSoftmax<kM> softmax;
  softmax.init();

  // Tile positions are carried from one iteration to the next, so that a block mask's list
  // (global memory) is read an iteration before its value is needed: V_{it+S-1} is the K tile
  // issued last, and K_{it+S}'s load is issued at the top and consumed after the softmax.
  int n0_cur = n0_of(0), n0_last_k = n0_of(kStages - 1);
  // Whether keys [k0, k0 + 16) hold one this warp's rows can see (kWarpSkip).
  auto warp_sees = [&](int k0) { return k0 + 16 > warp_lo && k0 < warp_hi; };
  // One tile: the whole tile, or (kHalf, the first of end-aligned tiles) its upper half only:
  // n8 atoms kNLo.. of S and k16 steps kNLo / 2.. of P V, so the skipped half costs nothing.
  // With kSkip (a tile the mask cuts, kWarpSkip) a warp also skips each 16-key step outside its
  // rows' keys, in Q K^T and in P V: warp-uniform branches, only in these tiles.
  auto step = [&](int it, auto how) {
    constexpr bool kHalf = decltype(how)::kHalf, kSkip = decltype(how)::kSkip;
    constexpr int kNLo = kHalf ? kN / 2 : 0;  // first n8 atom computed
    constexpr int kNT = kN - kNLo;            // n8 atoms computed
    const int stage = it % kStages;
    const int n0 = n0_cur;
    const int n0s = n0 + 8 * kNLo;  // first key computed
    const int n0_next_k = n0_of(it + kStages);
    n0_cur = kStages == 1 ? n0_next_k : n0_of(it + 1);
    const unsigned stage_offset = stage * Traits::kTileBytesKV;

    sm80::cp_async_wait<2 * (kStages - 1)>();  // K_it (and everything older) has landed
    __syncthreads();  // ... for all threads; and every warp is done with iteration it-1
    load_v(it + kStages - 1, n0_last_k);  // its buffer held V_{it-1}, consumed last iteration

    // S = Q K^T.
    float acc_s[kM][kNT][4];
#pragma unroll
    for (int mi = 0; mi < kM; ++mi)
#pragma unroll
      for (int j = 0; j < kNT; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) acc_s[mi][j][e] = 0.f;
#pragma unroll
    for (int kk = 0; kk < Traits::kKQ; ++kk) {
      unsigned a[kM][4];
#pragma unroll
      for (int mi = 0; mi < kM; ++mi) {
        if constexpr (Traits::kQInRegs) {
#pragma unroll
          for (int e = 0; e < 4; ++e) a[mi][e] = q_frag[mi][kk][e];
        } else {
          load_q_frag(a[mi], mi, kk);
        }
      }
#pragma unroll
      for (int p = 0; p < kNT / 2; ++p) {
        if (kSkip && !warp_sees(n0s + 16 * p)) continue;
        unsigned b[4];
        sm80::ldmatrix_x4(b, k_frag_addr.at(16 * p + 8 * kNLo, 2 * kk) + stage_offset);
#pragma unroll
        for (int mi = 0; mi < kM; ++mi) {
          sm80::mma_16816<Element>(acc_s[mi][2 * p], a[mi], b[0], b[1]);
          sm80::mma_16816<Element>(acc_s[mi][2 * p + 1], a[mi], b[2], b[3]);
        }
      }
    }

    // Score modification (soft-capping) on the raw scores, in raw units u = 1/scale.
    if constexpr (variants::softcap_of<Mask>() > 0.f) {
      const auto cap = variants::SoftCap<float>::make(variants::softcap_of<Mask>(), 1.f / params.scale);
#pragma unroll
      for (int mi = 0; mi < kM; ++mi)
#pragma unroll
        for (int j = 0; j < kNT; ++j)
#pragma unroll
          for (int e = 0; e < 4; ++e) acc_s[mi][j][e] = cap(acc_s[mi][j][e], [](float x) { return tanhf(x); });
    }

    // ALiBi bias on the (capped) raw scores, before the mask; positions are bottom-right aligned.
    if constexpr (variants::has_alibi<Mask>())
      variants::alibi_mma_tile(acc_s, alibi, static_cast<long long>(m0 + warp_row0 + g) + seqlen_k - seqlen_q,
                               n0s + 2 * t);
    if constexpr (variants::mods_of<Mask>::kScoreMod)
      variants::score_mod_fragments(mods, acc_s, batch, head, m0 + warp_row0 + g, n0s + 2 * t, seqlen_q, seqlen_k, params.scale);

    // Elementwise mask, only on tiles that cut some row's key range (block-uniform test:
    // lo is non-decreasing and hi non-decreasing in the row, so the first row has the
    // smallest hi and the last row the largest lo).
    if constexpr (Mask::kMasksKeys || kCheck) {
      const bool full = n0s >= lo_last && n0 + kBlockN <= hi_first && blocks.user_full(it);
      if (!full) {
#pragma unroll
        for (int mi = 0; mi < kM; ++mi)
#pragma unroll
          for (int j = 0; j < kNT; ++j)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
              const int r = 2 * mi + e / 2;
              const int col = n0s + j * 8 + 2 * t + e % 2;
              if (col < key_lo[r] || col >= key_hi[r] ||
                  !variants::mask_mod_at(mods, batch, head, m0 + warp_row0 + 16 * mi + 8 * (e / 2) + g, col, seqlen_q))
                acc_s[mi][j][e] = sm80::neg_inf();
            }
      }
    }

    softmax.update(acc_s, acc_o, params.scale_log2);

    sm80::cp_async_wait<2 * (kStages - 1)>();  // V_it has landed
    __syncthreads();  // ... for all threads; and every warp is done reading K_it
    load_k(it + kStages, n0_next_k);
    n0_last_k = n0_next_k;

    // O += P V: the S accumulators of n-atoms 2kk, 2kk+1 are exactly the A fragment of k-step
    // kk once packed to 16 bits.
#pragma unroll
    for (int kk = 0; kk < kNT / 2; ++kk) {
      if (kSkip && !warp_sees(n0s + 16 * kk)) continue;
      unsigned a[kM][4];
#pragma unroll
      for (int mi = 0; mi < kM; ++mi) {
        a[mi][0] = sm80::pack2<Element>(acc_s[mi][2 * kk][0], acc_s[mi][2 * kk][1]);
        a[mi][1] = sm80::pack2<Element>(acc_s[mi][2 * kk][2], acc_s[mi][2 * kk][3]);
        a[mi][2] = sm80::pack2<Element>(acc_s[mi][2 * kk + 1][0], acc_s[mi][2 * kk + 1][1]);
        a[mi][3] = sm80::pack2<Element>(acc_s[mi][2 * kk + 1][2], acc_s[mi][2 * kk + 1][3]);
      }
#pragma unroll
      for (int p = 0; p < kD / 2; ++p) {
        unsigned b[4];
        sm80::ldmatrix_x4_trans(b, v_frag_addr.at(16 * kk + 8 * kNLo, 2 * p) + stage_offset);
#pragma unroll
        for (int mi = 0; mi < kM; ++mi) {
          sm80::mma_16816<Element>(acc_o[mi][2 * p], a[mi], b[0], b[1]);
          sm80::mma_16816<Element>(acc_o[mi][2 * p + 1], a[mi], b[2], b[3]);
        }
      }
    }
  };
  int it0 = 0;
  if constexpr (Traits::kEndAligned)
    if (half_first) {  // n_tiles >= 1 here
      step(0, sm80::TileStep<true, Traits::kWarpSkip>());
      it0 = 1;
    }
  for (int it = it0; it < n_tiles; ++it) {
    if constexpr (Traits::kWarpSkip) {
      // Only a tile the built-in mask cuts can hold a step this warp cannot see.
      const int n0 = n0_of(it);
      if (!(n0 >= lo_last && n0 + kBlockN <= hi_first)) {
        step(it, sm80::TileStep<false, true>());
        continue;
      }
    }
    step(it, sm80::TileStep<false, false>());
  }

  // Epilogue. Drain the pipeline (only empty groups remain, or Q's copies when no tile was
  // visited) and wait for every thread's, since the warp reuses its Q rows to stage O.
  sm80::cp_async_wait<0>();
  __syncthreads();

  float inv_sum[2 * kM], lse[2 * kM];
  softmax.finalize(params.scale, inv_sum, lse);
  if constexpr (variants::has_sink<Mask>())  // the sink joins each row's denominator
    variants::fold_sink_rows(params.sinks[head], lse, inv_sum, [](float x) { return expf(x); },
                             [](float x) { return log1pf(x); });

  // O fragments -> 16-bit -> this warp's rows of the Q tile, then 16-byte coalesced stores.
  const sm80::FragAddr<kChunks> o_frag_addr(0u, warp_row0 + g, 0);
#pragma unroll
  for (int mi = 0; mi < kM; ++mi)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const float inv = inv_sum[2 * mi + h];
#pragma unroll
      for (int d = 0; d < kD; ++d) {
        const unsigned packed = sm80::pack2<Element>(acc_o[mi][d][2 * h] * inv,
                                                     acc_o[mi][d][2 * h + 1] * inv);
        *reinterpret_cast<unsigned*>(smem_q + o_frag_addr.at(mi * 16 + h * 8, d) + 4 * t) =
            packed;
      }
    }
  __syncwarp();
  unsigned short* const o_ptr = static_cast<unsigned short*>(params.o) +
                                L::q_rows(tile, params.o_batch_stride, params.o_row_stride) +
                                head * params.o_head_stride;
  sm80::store_rows_warp<Traits::kWarpRows, kHeadDim, kCheck>(o_ptr, params.o_row_stride, smem_q,
                                                             warp_row0, seqlen_q - m0, lane);

  if (params.lse != nullptr && t == 0) {
    float* const lse_ptr = params.lse + L::lse_rows(params, tile) + head * params.lse_head_stride;
#pragma unroll
    for (int r = 0; r < 2 * kM; ++r) {
      const int row = warp_row0 + (r / 2) * 16 + (r % 2) * 8 + g;
      if (!kCheck || m0 + row < seqlen_q) lse_ptr[row] = lse[r];
    }
  }
}

}  // namespace attnjit
