// Prefill attention forward for sm_90a — FlashAttention-3 style (warp-specialised).
//
// A thread block has one producer warpgroup and kConsumers (2 or 3) consumer warpgroups; a query
// tile is 64 rows per consumer. The producer (setmaxnreg down) has one thread TMA-load the Q tile
// and stream the K/V tiles the tile's mask can see through a ring of kStages stages (full
// barriers complete by transaction bytes; empty barriers are released by every consumer). K and
// V of a stage are released separately (k_empty once S = Q K^T has retired, v_empty once P V has),
// and the producer loads K(n+1) before V(n) (and a tile's K(0) before its Q): the next K streams
// in while P V (n) still reads V, as FlashAttention-3's producer does. The
// consumers (setmaxnreg up) compute S = Q K^T by wgmma with both operands in shared memory, apply
// the score variant (soft-capping) and the mask, run the online softmax in registers with exp2,
// convert P to 16-bit A fragments in registers and accumulate O += P V by wgmma (V an N-major B).
// Knobs (template parameters, the config's fields):
//   kPingPong    consumers take turns issuing their GEMMs (named barriers 1..kConsumers), so one
//                warpgroup's softmax overlaps another's tensor-core work;
//   kOverlap     intra-warpgroup pipelining: the next tile's S GEMM is issued with this tile's
//                P V GEMM, and the next softmax runs while P V is on the tensor cores;
//   kPersistent  a grid of about one block per SM walks every tile in the scheduler's order
//                (prefill/sm90_scheduler.h: L2 sections, longest first for causal); Q's shared
//                rows are released (q_empty) once O's TMA store has read them;
//   kSeparateO   (persistent only) O is staged in a buffer of its own, so Q's rows are released
//                as soon as the tile's last S GEMM has retired: the next tile's Q loads while this
//                tile's last P V, its epilogue and its store run (short sequences: few key tiles
//                per tile leave that latency otherwise exposed). Costs Q's bytes of shared memory.
//   kPassUnseen  (config order 1) a consumer computes only the key tiles its own 64 rows can see
//                and passes through the others (waits for them to land, releases them, takes its
//                ping-pong turn): near the causal diagonal of a 128-row tile with 80- or 112-key
//                tiles (head dim 256 / 192), or of a 192-row tile (three consumers), and at a
//                window's edges, a consumer's rows may see none of a tile the block loads, and
//                its S GEMM, softmax and P V there would add nothing.
//   kNextS       (config ps3: persistent, separate O, order 0) a consumer issues the next tile's
//                first S GEMM right after this tile's last P V, then runs this tile's epilogue
//                while that S is on the tensor cores (FlashAttention-3's overlapped epilogue):
//                otherwise each tile starts with its S GEMM and softmax exposed, a large share of
//                short sequences.
//
// Layout: rows are kHeadDimPad * 2 bytes, head dims padded to a multiple of 64 (96 -> 128: TMA
// reads zeros past the tensor's 96 columns, so the padding adds nothing to S, gives 0 in O and is
// dropped by the store). TMA boxes are at most 128 bytes wide with the 128-byte swizzle, so a tile
// is stored as kHeadDimPad / 64 column blocks of [rows][64 elements], each a run of 1024-byte
// swizzle atoms (K-major for Q and K; the same tile read N-major for V). Tensor maps are 4-D
// (d, row, head, batch), so any strides TMA can describe work, uneven lengths read zeros past the
// end, and O's TMA store drops the rows past seqlen_q. LSE goes out by direct predicated stores.
// Varlen (kVarlen; FlashAttention's cu_seqlens): the maps span the packed rows as one batch, a tile
// number maps to a sequence and its rows as in the sm80 path (common/layout_varlen.h), the loads
// start at the sequence's first row (rows past its end, the next sequence's, are masked as keys
// past seqlen_k and never stored as queries), and O goes out by direct 16-byte stores of the rows
// inside the sequence. Paged K/V (kPaged; FlashInfer's paged prefill): the K/V maps are (d, row in
// page, head, page), and a key tile is loaded page by page through the block table (pages of 8 or
// more rows that divide the tile, or tiles that divide the page). User variants as in the sm80
// path (common/variants_user.h): score_mod after ALiBi, mask_mod with the built-in mask on every
// tile the block mask (if any) does not call full, and a block mask's tile lists as the key tiles.
// Masks are the sm80 path's policies (bottom-right aligned); a row that sees no key gets O = 0
// and LSE = -inf. Score variants as in the sm80 path (common/variants*.h): soft-capping, then
// ALiBi, on the raw scores before the mask; a sink folded into each row's denominator in the
// epilogue (an empty row then has LSE = the sink).
#pragma once

// The primitives first: in the emulator their shadow brings the CUDA shim the mask header needs.
#include "common/sm90_primitives.cuh"
#include "common/sm80_mask.cuh"
#include "common/variants.h"
#include "common/variants_alibi.h"
#include "common/variants_sink.h"
#include "common/layout_varlen.h"
#include "common/sm80_user.cuh"
#include "prefill/params.h"
#include "prefill/sm90_scheduler.h"

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

// The kernel's single parameter: tensor maps for Q, K, V (loads) and O (store), the plain launch
// parameters (sizes, scale, LSE pointer and strides) and the persistent tile order. Built by the
// host in build_arguments; passed `const __grid_constant__` so the maps stay in parameter space.
struct PrefillSm90Params {
  sm90::TensorMap tq, tk, tv, to;
  PrefillParams p;
  Sm90TileSched sched;
};

template <class Element_, int kHeadDim_, int kBlockN_, int kStages_, class Mask_, int kConsumers_ = 2,
          bool kPingPong_ = true, bool kOverlap_ = false, bool kPersistent_ = false, bool kSeparateO_ = false,
          bool kPassUnseen_ = false, bool kVarlen_ = false, bool kPaged_ = false, bool kNextS_ = false>
struct PrefillSm90Traits {
  using Element = Element_;
  using Mask = Mask_;
  static constexpr int kHeadDim = kHeadDim_, kBlockN = kBlockN_, kStages = kStages_;
  static constexpr int kConsumers = kConsumers_;
  static constexpr bool kPingPong = kPingPong_, kOverlap = kOverlap_, kPersistent = kPersistent_;
  static constexpr bool kSeparateO = kSeparateO_;
  static constexpr bool kPassUnseen = kPassUnseen_;
  static constexpr bool kVarlen = kVarlen_;
  static constexpr bool kPaged = kPaged_;
  static constexpr bool kNextS = kNextS_;
  static constexpr int kHeadDimPad = (kHeadDim + 63) / 64 * 64;
  static constexpr int kBlockM = 64 * kConsumers;
  static constexpr int kThreads = 128 * (1 + kConsumers);
  // setmaxnreg: the register file (64 K) split between the producer and the consumers.
  static constexpr int kProducerRegs = kConsumers == 2 ? 24 : 32;
  static constexpr int kConsumerRegs = kConsumers == 2 ? 240 : 160;
  static constexpr int kColBlocks = kHeadDimPad / 64;  // 128-byte column blocks per row
  static constexpr unsigned kQBytes = kBlockM * kHeadDimPad * 2, kKvBytes = kBlockN * kHeadDimPad * 2;
  // Shared layout from a 1024-aligned base: Q (reused for O unless kSeparateO) | O (kSeparateO)
  // | K stages | V stages | barriers (q_full, q_empty, then k_full, v_full, k_empty, v_empty per
  // stage).
  static constexpr unsigned kOffO = kSeparateO ? kQBytes : 0u;
  static constexpr unsigned kOffK = kQBytes * (kSeparateO ? 2u : 1u), kOffV = kOffK + kStages * kKvBytes;
  static constexpr unsigned kOffBar = kOffV + kStages * kKvBytes;
  static constexpr unsigned kSmemBytes = kOffBar + 8 * (2 + 4 * kStages) + 1024;  // + align slack

  static_assert(kHeadDim == 64 || kHeadDim == 96 || kHeadDim == 128 || kHeadDim == 192 || kHeadDim == 256,
                "head dim 64, 96, 128, 192 or 256");
  static_assert(kConsumers == 2 || kConsumers == 3, "2 or 3 consumer warpgroups");
  static_assert(kBlockN % 16 == 0 && kBlockN >= 16 && kBlockN <= 256, "block_n: 16..256, step 16");
  static_assert(kStages >= 1 && kStages <= 4, "stages: 1..4");
  static_assert(!kOverlap || kStages >= 2, "overlap holds two K/V stages at once");
  static_assert(!kSeparateO || kPersistent, "a separate O buffer only pays in the persistent loop");
  static_assert(!kNextS || (kSeparateO && !kPassUnseen),
                "the next tile's S GEMM: persistent with O in its own buffer (Q's rows free), order 0");
  static_assert(!kPassUnseen || variants::block_sparse_of<Mask>() == 0,
                "order 1 passes through a contiguous tile range; a block mask's tiles are a list");
  static_assert(kProducerRegs * 128 + kConsumerRegs * 128 * kConsumers <= 65536, "register file");
  static_assert(kSmemBytes <= 227 * 1024, "shared memory beyond sm_90's 227 KB");
};

template <class Traits>
__global__ void __launch_bounds__(Traits::kThreads, 1)
    prefill_sm90_kernel(const __grid_constant__ PrefillSm90Params params) {
  using namespace sm90;
  using Element = typename Traits::Element;
  using Mask = typename Traits::Mask;
  constexpr int kHeadDim = Traits::kHeadDim, kHeadDimPad = Traits::kHeadDimPad;
  constexpr int kBlockM = Traits::kBlockM, kBlockN = Traits::kBlockN, kConsumers = Traits::kConsumers;
  constexpr int kStages = Traits::kStages, kColBlocks = Traits::kColBlocks;
  const PrefillParams& p = params.p;

  extern __shared__ __align__(128) unsigned char sm90_smem[];
  const unsigned base = (smem_addr(sm90_smem) + 1023u) & ~1023u;
  unsigned char* const base_ptr = sm90_smem + (base - smem_addr(sm90_smem));
  const unsigned q_full = base + Traits::kOffBar, q_empty = q_full + 8u;
  auto k_full = [&](int s) { return q_full + 16u + 8u * static_cast<unsigned>(s); };
  auto v_full = [&](int s) { return q_full + 16u + 8u * static_cast<unsigned>(kStages + s); };
  auto k_empty = [&](int s) { return q_full + 16u + 8u * static_cast<unsigned>(2 * kStages + s); };
  auto v_empty = [&](int s) { return q_full + 16u + 8u * static_cast<unsigned>(3 * kStages + s); };
  auto k_tile = [&](int s) { return base + Traits::kOffK + static_cast<unsigned>(s) * Traits::kKvBytes; };
  auto v_tile = [&](int s) { return base + Traits::kOffV + static_cast<unsigned>(s) * Traits::kKvBytes; };

  const int dense_len_q = p.seqlen_q, dense_len_k = p.seqlen_k;  // the lengths of dense batches
  // The tiles this block computes: its own (blockIdx), or every gridDim.x-th of the scheduler's
  // order. Causal blocks near the bottom see the most keys; running them first shortens the tail.
  const int first_tile = Traits::kPersistent ? static_cast<int>(blockIdx.x) : 0;
  const int tile_count = Traits::kPersistent ? params.sched.total : 1;
  const int tile_stride = Traits::kPersistent ? static_cast<int>(gridDim.x) : 1;
  // User variants (score_mod / mask_mod snippets, block-sparse): the key tiles a tile visits come
  // from variants_user.h's KeyBlocks (the block mask's lists, or the built-in range).
  constexpr bool kUser = variants::mods_of<Mask>::kScoreMod || variants::mods_of<Mask>::kMaskMod ||
                         variants::block_sparse_of<Mask>() > 0;
  using Blocks = decltype(variants::key_blocks<Mask, kBlockN>(p.user, 0, 0, 0, 0, 0));
  // A tile: its rows, head and sequence, the sequence's lengths (the masks align to them) and
  // first rows in the packed q / o / lse and k / v (varlen; 0 otherwise), and its key tiles.
  struct Tile {
    int m0, head, batch, n_block_min, n_tiles, lo_last, hi_first;
    int len_q, len_k, row_q, row_k;
    Blocks blocks;  // user variants only
    bool idle;  // varlen: a tile number past its sequence (layout_varlen.h), skipped by everyone
  };
  auto tile_at = [&](int i) {
    Tile tl;
    int m_block;
    if (Traits::kPersistent) {
      int bh;
      sm90_tile_at(params.sched, i, Mask::kCausal, m_block, bh);
      tl.batch = bh / p.heads_q;
      tl.head = bh - tl.batch * p.heads_q;
    } else {
      // Causal dense batches run their bottom tiles (the most keys) first; varlen numbers mix
      // sequences, so they run in order.
      m_block = Mask::kCausal && !Traits::kVarlen ? static_cast<int>(gridDim.x - 1 - blockIdx.x)
                                                  : static_cast<int>(blockIdx.x);
      tl.head = static_cast<int>(blockIdx.y);
      tl.batch = static_cast<int>(blockIdx.z);
    }
    if constexpr (Traits::kVarlen) {  // m_block is a varlen tile number (one batch of them)
      layout::SeqTile st;
      tl.idle = !layout::Layout<true, Traits::kPaged>::varlen_tile(p, m_block, kBlockM, st);
      tl.batch = st.b;
      tl.m0 = st.m0;
      tl.len_q = st.len_q;
      tl.len_k = st.len_k;
      tl.row_q = st.row_q;
      tl.row_k = st.row_k;
    } else {
      tl.idle = false;
      tl.m0 = m_block * kBlockM;
      tl.len_q = dense_len_q;
      tl.len_k = Traits::kPaged ? p.seqused_k[tl.batch] : dense_len_k;
      tl.row_q = tl.row_k = 0;
    }
    const int seqlen_q = Traits::kVarlen ? tl.len_q : dense_len_q;
    const int seqlen_k = Traits::kVarlen || Traits::kPaged ? tl.len_k : dense_len_k;
    // Keys visible to the tile: [lo(first row), hi(last valid row)), as in the sm80 path.
    const int last_row = (tl.m0 + kBlockM < seqlen_q ? tl.m0 + kBlockM : seqlen_q) - 1;
    int lo_first, hi_last;
    Mask::key_range(tl.m0, seqlen_q, seqlen_k, lo_first, tl.hi_first);
    Mask::key_range(last_row, seqlen_q, seqlen_k, tl.lo_last, hi_last);
    tl.n_block_min = lo_first / kBlockN;
    const int n_block_max = (hi_last + kBlockN - 1) / kBlockN;
    tl.n_tiles = n_block_max > tl.n_block_min ? n_block_max - tl.n_block_min : 0;
    if constexpr (kUser) {
      tl.blocks = variants::key_blocks<Mask, kBlockN>(p.user, tl.batch, tl.head, tl.m0, tl.n_block_min, n_block_max);
      tl.n_tiles = tl.blocks.count();
    }
    return tl;
  };
  // The first key of the n-th key tile a tile visits.
  auto key0 = [&](const Tile& tl, int n) {
    if constexpr (kUser) return static_cast<int>(tl.blocks.n0(n));
    else return (tl.n_block_min + n) * kBlockN;
  };
  const int group = p.heads_q / p.heads_kv;

  if (threadIdx.x == 0) {
    mbar_init(q_full, 1);
    mbar_init(q_empty, kConsumers);  // one arrive per consumer once it no longer reads Q's rows
    for (int s = 0; s < kStages; ++s) {
      mbar_init(k_full(s), 1);
      mbar_init(v_full(s), 1);
      mbar_init(k_empty(s), kConsumers);  // one arrive per consumer warpgroup
      mbar_init(v_empty(s), kConsumers);
    }
    fence_mbar_init();
  }
  __syncthreads();

  const int wg = warpgroup_index();
  if (wg == 0) {
    setmaxnreg_dec<Traits::kProducerRegs>();
    if (threadIdx.x == 0) {
      int kv_iter = 0, round = 0;  // K/V tiles loaded so far (the ring position); tiles begun
      // round counts the tiles begun (varlen: not the idle ones, which touch no barrier).
      for (int i = first_tile; i < tile_count; i += tile_stride, round += Traits::kVarlen ? 0 : 1) {
        const Tile tl = tile_at(i);
        if (Traits::kVarlen && tl.idle) continue;
        // K or V of ring position it (key tile n of this tile) into its stage, once the consumers
        // have released that stage's previous K (resp. V); the first round passes at once.
        auto load = [&](bool is_v, int it, int n) {
          const int s = it % kStages, row = tl.row_k + key0(tl, n);
          const unsigned full = is_v ? v_full(s) : k_full(s), tile = is_v ? v_tile(s) : k_tile(s);
          mbar_wait(is_v ? v_empty(s) : k_empty(s), ((it / kStages) & 1) ^ 1);
          mbar_arrive_expect_tx(full, Traits::kKvBytes);
          if constexpr (Traits::kPaged) {
            // The maps are (d, row in page, head, page): one box per page the tile spans (pages of
            // at least 8 rows, so each box starts on a 1024-byte swizzle atom), or the tile's rows
            // of one page. A page past the sequence's keys is page -1: out of range, zero-filled.
            const int box = p.page_size < kBlockN ? p.page_size : kBlockN;
            for (int j = 0; j < kBlockN; j += box) {
              const int key = row + j;
              const int page =
                  key < tl.len_k ? p.block_table[tl.batch * p.block_table_stride + (key >> p.page_shift)] : -1;
              for (int cb = 0; cb < kColBlocks; ++cb)
                tma_load_4d(tile + cb * kBlockN * 128u + static_cast<unsigned>(j) * 128u,
                            is_v ? &params.tv : &params.tk, 64 * cb, key & (p.page_size - 1), tl.head / group, page,
                            full);
            }
          } else {
            for (int cb = 0; cb < kColBlocks; ++cb)
              tma_load_4d(tile + cb * kBlockN * 128u, is_v ? &params.tv : &params.tk, 64 * cb, row,
                          tl.head / group, Traits::kVarlen ? 0 : tl.batch, full);
          }
        };
        // K(0) first: it needs only a free K stage, not Q's rows, which the previous tile's O
        // store may still be reading (persistent).
        if (tl.n_tiles > 0) load(false, kv_iter, 0);
        if (round > 0) mbar_wait(q_empty, static_cast<unsigned>(round - 1) & 1u);
        mbar_arrive_expect_tx(q_full, Traits::kQBytes);
        for (int cb = 0; cb < kColBlocks; ++cb)
          tma_load_4d(base + cb * kBlockM * 128u, &params.tq, 64 * cb, tl.row_q + tl.m0, tl.head,
                      Traits::kVarlen ? 0 : tl.batch, q_full);
        // K runs one tile ahead of V: K(0), K(1), V(0), K(2), V(1), ..., V(last).
        for (int n = 1; n < tl.n_tiles; ++n) {
          load(false, kv_iter + n, n);
          load(true, kv_iter + n - 1, n - 1);
        }
        if (tl.n_tiles > 0) load(true, kv_iter + tl.n_tiles - 1, tl.n_tiles - 1);
        kv_iter += tl.n_tiles;
        if constexpr (Traits::kVarlen) ++round;
      }
    }
    return;
  }

  setmaxnreg_inc<Traits::kConsumerRegs>();
  const int c = wg - 1;  // consumer c: rows 64c .. 64c+63 of the tile
  const int t = warpgroup_thread(), warp = t / 32, g = (t % 32) / 4, q4 = t % 4;
  // This consumer's 64 rows inside column block 0 of Q (block cb is kBlockM * 128 bytes on).
  const unsigned q_rows = base + static_cast<unsigned>(c) * 64u * 128u;
  const float neg_inf = -__int_as_float(0x7f800000);
  // Ping-pong: consumer c issues after consumer c-1 (a ring on named barriers 1..kConsumers).
  auto my_turn = [&] {
    if (Traits::kPingPong) named_bar_sync(1 + c, 256);
  };
  auto pass_turn = [&](bool last) {  // the last consumer keeps its last turn: the ring ends
    if (Traits::kPingPong && !(c == kConsumers - 1 && last)) named_bar_arrive(1 + (c + 1) % kConsumers, 256);
  };

  int kv_iter = 0, round = 0;
  // S of the current key tile, and P of the previous one as wgmma A fragments. Outside the tile
  // loop: with kNextS the next tile's first S is in flight in sacc through this tile's epilogue.
  WgAccum<kBlockN> sacc;
  unsigned pa[kBlockN / 16][4];
  // kNextS: this tile's first S GEMM was issued (its ping-pong turn taken, Q and K(0) waited for)
  // at the end of the previous tile; its softmax has not run.
  bool s0_issued = false;
  for (int tile_i = first_tile; tile_i < tile_count; tile_i += tile_stride, round += Traits::kVarlen ? 0 : 1) {
    const Tile tl = tile_at(tile_i);
    if (Traits::kVarlen && tl.idle) continue;
    const bool pre = Traits::kNextS && s0_issued;
    s0_issued = false;
    const int seqlen_q = Traits::kVarlen ? tl.len_q : dense_len_q;
    const int seqlen_k = Traits::kVarlen || Traits::kPaged ? tl.len_k : dense_len_k;
    const int m0 = tl.m0, n_tiles = tl.n_tiles;
    // The last consumer lets consumer 0 start the tile's ring.
    if (Traits::kPingPong && c == kConsumers - 1 && n_tiles > 0 && !pre) named_bar_arrive(1, 256);

    // This thread's two rows (g and g + 8 of its warp's 16) and the keys each may see.
    int key_lo[2], key_hi[2];
    for (int r = 0; r < 2; ++r)
      Mask::key_range(m0 + 64 * c + 16 * warp + g + 8 * r, seqlen_q, seqlen_k, key_lo[r], key_hi[r]);
    // ALiBi (when the policy has it): this head's bias in raw score units (raw = scaled / scale),
    // and the bottom-right aligned position of this thread's first row.
    const auto alibi = variants::has_alibi<Mask>()
                           ? variants::AlibiBias<float>::make(
                                 variants::alibi_slope(p.alibi_slopes, p.alibi_batch_stride, tl.batch, tl.head),
                                 1.f / p.scale)
                           : variants::AlibiBias<float>{0.f};
    const long long alibi_p0 =
        variants::has_alibi<Mask>() ? static_cast<long long>(m0 + 64 * c + 16 * warp + g) + seqlen_k - seqlen_q : 0;

    WgAccum<kHeadDimPad> o;
    for (int i = 0; i < WgAccum<kHeadDimPad>::kRegs; ++i) o[i] = 0.f;
    // Running maxima of the raw scores and per-thread partial sums of exp2.
    float row_max[2] = {neg_inf, neg_inf};
    float row_sum[2] = {0.f, 0.f};

    auto stage_of = [&](int it) { return it % kStages; };
    auto phase_of = [&](int it) { return static_cast<unsigned>(it / kStages) & 1u; };
    // S = Q K^T of K stage s: kHeadDim / 16 k16 steps, 4 inside each 128-byte swizzled row of a
    // column block (the zero padding of head dim 96 is never read).
    auto issue_s = [&](int s) {
      for (int k = 0; k < kHeadDim / 16; ++k) {
        const unsigned col = static_cast<unsigned>(k / 4), in_row = 32u * static_cast<unsigned>(k % 4);
        wgmma_ss<Element, kBlockN, 0>(
            sacc, make_smem_desc(q_rows + col * kBlockM * 128u + in_row, 16, 1024, Swizzle::B128),
            make_smem_desc(k_tile(s) + col * kBlockN * 128u + in_row, 16, 1024, Swizzle::B128), k > 0);
      }
    };
    // O += P V of V stage s: V is [key][d] with d contiguous, an N-major B; 16 keys per step are
    // two 8-row groups of 1024 bytes; the next 64 columns of d are one column block on.
    auto issue_pv = [&](const unsigned (&a)[kBlockN / 16][4], int s) {
      for (int k = 0; k < kBlockN / 16; ++k)
        wgmma_rs<Element, kHeadDimPad, 1>(
            o, a[k], make_smem_desc(v_tile(s) + 2048u * k, kBlockN * 128u, 1024, Swizzle::B128), true);
    };
    // Score variants, mask and online softmax of the S tile of key tile n (its first key key0), in
    // place: sacc becomes exp2 of the scaled scores; corr is the factor O must be scaled by before
    // this tile's P V is added. Touches only sacc and the row statistics, so it may run while P V
    // is in flight.
    const auto mods = variants::make_mods<Mask>(p.user);
    auto softmax = [&](int n, float (&corr)[2]) {
      const int n0 = key0(tl, n);
      // Soft-capping on the raw scores (units u = 1/scale), before the mask: a masked score
      // stays -inf whatever the cap.
      if constexpr (variants::softcap_of<Mask>() > 0.f) {
        const auto cap = variants::SoftCap<float>::make(variants::softcap_of<Mask>(), 1.f / p.scale);
        for (int i = 0; i < WgAccum<kBlockN>::kRegs; ++i)
          sacc[i] = cap(sacc[i], [](float x) { return tanhf(x); });
      }
      // ALiBi on the (capped) raw scores, before the mask: register i is row g + 8 ((i / 2) % 2)
      // and key n0 + 8 (i / 4) + 2 q4 + i % 2, so |p - j| is |base + a constant|.
      if constexpr (variants::has_alibi<Mask>()) {
        const float base = static_cast<float>(alibi_p0 - n0 - 2 * q4);
        for (int i = 0; i < WgAccum<kBlockN>::kRegs; ++i)
          sacc[i] = alibi(sacc[i], fabsf(base + static_cast<float>(8 * ((i >> 1) & 1) - 8 * (i >> 2) - (i & 1))));
      }
      // score_mod (natural units: raw * scale) on the rows and keys in bounds.
      const int row0 = m0 + 64 * c + 16 * warp + g;
      if constexpr (variants::mods_of<Mask>::kScoreMod) {
        for (int i = 0; i < WgAccum<kBlockN>::kRegs; ++i) {
          const int row = row0 + 8 * ((i >> 1) & 1), col = n0 + 8 * (i >> 2) + 2 * q4 + (i & 1);
          if (row < seqlen_q && col < seqlen_k)
            sacc[i] = mods.score_mod(sacc[i] * p.scale, tl.batch, tl.head, row, col) / p.scale;
        }
      }
      // Elementwise mask only on tiles that cut some row's key range (tile-uniform test), or that
      // the user variants do not call full (a mask_mod without a block mask: every tile).
      if (Mask::kMasksKeys || n0 + kBlockN > seqlen_k) {
        if (!(n0 >= tl.lo_last && n0 + kBlockN <= tl.hi_first && (!kUser || tl.blocks.user_full(n)))) {
          for (int i = 0; i < WgAccum<kBlockN>::kRegs; ++i) {
            const int r = (i >> 1) & 1, col = n0 + 8 * (i >> 2) + 2 * q4 + (i & 1);
            if (col < key_lo[r] || col >= key_hi[r] ||
                !variants::mask_mod_at(mods, tl.batch, tl.head, row0 + 8 * r, col, seqlen_q))
              sacc[i] = neg_inf;
          }
        }
      }
      // Online softmax on rows g and g + 8 (registers i with (i/2)%2 = 0 / 1). A row that has
      // seen no key yet keeps max -inf; its exponentials use 0 instead so they are 0, not NaN.
      float mx[2] = {row_max[0], row_max[1]};
      for (int i = 0; i < WgAccum<kBlockN>::kRegs; ++i) mx[(i >> 1) & 1] = fmaxf(mx[(i >> 1) & 1], sacc[i]);
      float m_scaled[2];
      for (int r = 0; r < 2; ++r) {
        mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
        mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
        m_scaled[r] = mx[r] == neg_inf ? 0.f : mx[r] * p.scale_log2;
        corr[r] = exp2_approx(row_max[r] * p.scale_log2 - m_scaled[r]);
        row_max[r] = mx[r];
        row_sum[r] *= corr[r];
      }
      for (int i = 0; i < WgAccum<kBlockN>::kRegs; ++i) {
        const int r = (i >> 1) & 1;
        sacc[i] = exp2_approx(sacc[i] * p.scale_log2 - m_scaled[r]);
        row_sum[r] += sacc[i];
      }
    };
    // P as 16-bit A fragments: accumulator registers 8j..8j+7 are exactly the A fragment of k16
    // step j. Writes pa, the operand of P V: only once the previous P V has retired.
    auto to_p = [&] {
      for (int i = 0; i < WgAccum<kBlockN>::kRegs; i += 2) pa[i / 8][(i % 8) / 2] = pack_half2<Element>(sacc[i], sacc[i + 1]);
    };
    auto rescale_o = [&](const float (&corr)[2]) {
      for (int i = 0; i < WgAccum<kHeadDimPad>::kRegs; ++i) o[i] *= corr[(i >> 1) & 1];
    };
    // K of a stage is free once its S GEMM has retired, V once its P V GEMM has.
    auto release_k = [&](int s) {
      if (t == 0) mbar_arrive(k_empty(s));
    };
    auto release_v = [&](int s) {
      if (t == 0) mbar_arrive(v_empty(s));
    };
    // With a separate O buffer Q's rows are free once the tile's last S GEMM has retired.
    auto release_q_after = [&](bool last_s) {
      if (Traits::kSeparateO && last_s && t == 0) mbar_arrive(q_empty);
    };

    // The key tiles this consumer computes, [nf, nl]: all of them, or (kPassUnseen) those its rows
    // can see (contiguous: the rows' ranges move right with the row; a row past seqlen_q only
    // widens them). It passes through the others in order, so every barrier phase and ping-pong
    // turn happens as before.
    constexpr bool kPass = Traits::kPassUnseen && Mask::kMasksKeys;
    int nf = 0, nl = n_tiles - 1;
    // [first(), end()): the tiles this consumer computes (literally 0 and n_tiles without kPass,
    // so those kernels compile as before).
    auto first = [&] {
      if constexpr (kPass) return nf;
      else return 0;
    };
    auto end = [&] {
      if constexpr (kPass) return nl + 1;
      else return n_tiles;
    };
    if constexpr (kPass) {
      int c_lo, c_hi, unused;
      Mask::key_range(m0 + 64 * c, seqlen_q, seqlen_k, c_lo, unused);
      Mask::key_range(m0 + 64 * c + 63, seqlen_q, seqlen_k, unused, c_hi);
      const int k0 = tl.n_block_min * kBlockN;
      nf = c_lo > k0 ? (c_lo - k0) / kBlockN : 0;
      const int stop = c_hi > k0 ? (c_hi - k0 + kBlockN - 1) / kBlockN : 0;
      nl = (stop < n_tiles ? stop : n_tiles) - 1;
    }
    auto pass_through = [&](int n) {
      const int it = kv_iter + n, s = stage_of(it);
      // K(it) landed, so the producer has passed k_empty's previous phase and this release counts
      // toward the next. (The wait for V of the tile before already implies it — the producer loads
      // K(n+1) before V(n) — but not for a tile's first pass-through; kept for all: it costs nothing
      // the next computed tile would not wait for anyway.)
      mbar_wait(k_full(s), phase_of(it));
      my_turn();
      pass_turn(n == n_tiles - 1);
      release_k(s);
      release_q_after(n == n_tiles - 1);
      mbar_wait(v_full(s), phase_of(it));
      release_v(s);
    };

    // Epilogue: O / l as 16-bit values into this consumer's (now free) Q rows, or its rows of the
    // separate O buffer, in the same swizzled layout, then TMA stores (rows past seqlen_q
    // dropped); LSE by direct stores.
    auto epilogue = [&] {
      // LSE of row `row` of the tile's sequence: dense [b, h, i]; varlen [h, total_q].
      auto lse_at = [&](int row) {
        return (Traits::kVarlen ? tl.row_q : tl.batch * p.lse_batch_stride) + tl.head * p.lse_head_stride + row;
      };
      float inv[2];
      for (int r = 0; r < 2; ++r) {
        float l = row_sum[r];
        l += __shfl_xor_sync(0xffffffffu, l, 1);
        l += __shfl_xor_sync(0xffffffffu, l, 2);
        inv[r] = l > 0.f ? 1.f / l : 0.f;
        const int row = m0 + 64 * c + 16 * warp + g + 8 * r;
        if constexpr (variants::has_sink<Mask>()) {  // the sink joins the row's denominator
          float lse = l > 0.f ? row_max[r] * p.scale + logf(l) : neg_inf;
          variants::fold_sink(p.sinks[tl.head], lse, inv[r], [](float x) { return expf(x); },
                              [](float x) { return log1pf(x); });
          if (p.lse != nullptr && q4 == 0 && row < seqlen_q) p.lse[lse_at(row)] = lse;
        } else if (p.lse != nullptr && q4 == 0 && row < seqlen_q) {
          p.lse[lse_at(row)] = l > 0.f ? row_max[r] * p.scale + logf(l) : neg_inf;
        }
      }
      const unsigned o_rows = q_rows + Traits::kOffO;
      unsigned char* const o_ptr = base_ptr + (o_rows - base);
      if constexpr (Traits::kSeparateO) {  // the previous tile's store must have read these rows
        if (t == 0) tma_store_wait_read<0>();
        named_bar_sync(1 + kConsumers + c, 128);
      }
      for (int i = 0; i < WgAccum<kHeadDimPad>::kRegs; i += 2) {
        const int r = (i >> 1) & 1, row = 16 * warp + g + 8 * r, chunk = i >> 2;  // 16-byte chunk of d
        const unsigned v = pack_half2<Element>(o[i] * inv[r], o[i + 1] * inv[r]);
        const unsigned off = static_cast<unsigned>(chunk / 8) * kBlockM * 128u +
                             static_cast<unsigned>(row) * 128u +
                             16u * static_cast<unsigned>((chunk % 8) ^ (row % 8)) + 4u * static_cast<unsigned>(q4);
        *reinterpret_cast<unsigned*>(o_ptr + off) = v;
      }
      fence_proxy_async();
      named_bar_sync(1 + kConsumers + c, 128);
      if constexpr (Traits::kVarlen) {
        // Packed sequences: the rows past this one's end are the next one's, which a TMA store of
        // the whole 64-row box would overwrite. Every thread copies 16-byte chunks of the staged
        // rows that lie inside the sequence (head dim 96's padding stays behind).
        struct alignas(16) Chunk16 {
          unsigned w[4];
        };
        constexpr int kChunks = kHeadDim / 8;
        for (int e = t; e < 64 * kChunks; e += 128) {
          const int row = e / kChunks, chunk = e - row * kChunks;
          if (m0 + 64 * c + row >= seqlen_q) break;  // rows grow with e: the rest are past the end too
          const unsigned off = static_cast<unsigned>(chunk / 8) * kBlockM * 128u + static_cast<unsigned>(row) * 128u +
                               16u * static_cast<unsigned>((chunk % 8) ^ (row % 8));
          const long long dst = (static_cast<long long>(tl.row_q + m0 + 64 * c + row) * p.o_row_stride +
                                 static_cast<long long>(tl.head) * p.o_head_stride) * 2 + 16ll * chunk;
          *reinterpret_cast<Chunk16*>(static_cast<unsigned char*>(p.o) + dst) =
              *reinterpret_cast<const Chunk16*>(o_ptr + off);
        }
        if constexpr (!Traits::kSeparateO && Traits::kPersistent) {
          named_bar_sync(1 + kConsumers + c, 128);  // every thread has read the rows the next Q reuses
          if (t == 0) mbar_arrive(q_empty);
        }
      } else if (t == 0) {
        for (int cb = 0; cb < kColBlocks; ++cb) {
          if (cb > 0) fence_proxy_async();  // the emulator asks for one per store; free on hardware
          tma_store_4d(&params.to, o_rows + cb * kBlockM * 128u, 64 * cb, m0 + 64 * c, tl.head, tl.batch);
        }
        tma_store_commit();
        if constexpr (!Traits::kSeparateO) {
          tma_store_wait_read<0>();
          if (Traits::kPersistent) mbar_arrive(q_empty);  // the producer may load the next Q here
        }
      }
    };

    // The tile's last P V (V of stage s_prev, ring position it_last). With kNextS, when the next
    // tile this block computes sees keys, that tile's first S GEMM follows it (in the next tile's
    // first ping-pong turn), and this tile's epilogue runs while that S is on the tensor cores;
    // s0_issued then tells the next tile (and the end of this one) so.
    auto last_pv = [&](int s_prev, int it_last) {
      int next_tiles = 0;  // key tiles of the next tile (kNextS)
      if constexpr (Traits::kNextS) {
        // The next tile this block computes (varlen: past the idle ones); when it sees keys, its
        // first S GEMM goes out right after this tile's last P V, in the next tile's first
        // ping-pong turn (the last consumer opens that ring here instead of at the tile's start).
        int ni = tile_i + tile_stride;
        Tile nt;
        for (; ni < tile_count; ni += tile_stride) {
          nt = tile_at(ni);
          if (!(Traits::kVarlen && nt.idle)) break;
        }
        next_tiles = ni < tile_count ? nt.n_tiles : 0;
        s0_issued = next_tiles > 0;
      }
      mbar_wait(v_full(s_prev), phase_of(it_last));
      if (s0_issued) {
        const int it_next = kv_iter + n_tiles, s_next = stage_of(it_next);
        // P V first (outside the ping-pong ring, as without kNextS): a next Q or K(0) still in
        // flight never delays it.
        wgmma_fence();
        issue_pv(pa, s_prev);
        wgmma_commit();
        mbar_wait(q_full, static_cast<unsigned>(round + 1) & 1u);  // loaded after every consumer's last S
        mbar_wait(k_full(s_next), phase_of(it_next));
        if (Traits::kPingPong && c == kConsumers - 1) named_bar_arrive(1, 256);
        my_turn();
        wgmma_fence();
        issue_s(s_next);
        wgmma_commit();
        pass_turn(next_tiles == 1);
        wgmma_wait<1>();  // P V has retired (O is final); the next S may still run
        release_v(s_prev);
        epilogue();
        // Retire the next S here, not across the tile loop's back edge: ptxas serialises every
        // wgmma (C7515) when a GEMM is in flight where the next tile zeroes O.
        wgmma_wait<0>();
      } else {
        wgmma_fence();
        issue_pv(pa, s_prev);
        wgmma_commit();
        wgmma_wait<0>();
        release_v(s_prev);
      }
    };

    if (!pre) mbar_wait(q_full, static_cast<unsigned>(round) & 1u);
    if constexpr (!Traits::kOverlap) {
      // S of key tile n, its softmax and P; returns its stage. (kNextS: the previous tile issued
      // and retired the first S.)
      auto s_and_softmax = [&](int n) {
        const int it = kv_iter + n, s = stage_of(it);
        if (!(pre && n == 0)) {
          mbar_wait(k_full(s), phase_of(it));
          my_turn();
          wgmma_fence();
          issue_s(s);
          wgmma_commit();
          pass_turn(n == n_tiles - 1);
          wgmma_wait<0>();
        }
        release_k(s);
        release_q_after(n == n_tiles - 1);
        float corr[2];
        softmax(n, corr);
        to_p();
        rescale_o(corr);
        return s;
      };
      // kNextS peels the last key tile off the loop: its P V goes out through last_pv.
      for (int n = 0; n < n_tiles - (Traits::kNextS ? 1 : 0); ++n) {
        if (kPass && (n < nf || n > nl)) {
          pass_through(n);
          continue;
        }
        const int s = s_and_softmax(n);
        mbar_wait(v_full(s), phase_of(kv_iter + n));
        wgmma_fence();
        issue_pv(pa, s);
        wgmma_commit();
        wgmma_wait<0>();
        release_v(s);
      }
      if constexpr (Traits::kNextS)
        if (n_tiles > 0) last_pv(s_and_softmax(n_tiles - 1), kv_iter + n_tiles - 1);
    } else if (first() < end()) {  // (if constexpr: only one main loop is compiled)
      // Intra-warpgroup pipelining (FlashAttention-3): S of tile n and P V of tile n-1 are issued
      // together; the softmax of tile n (in place in sacc) runs while P V (n-1) is on the tensor
      // cores; P is rewritten and O rescaled only once that GEMM has retired. Over tiles nf..nl;
      // kPassUnseen passes through the others before and after.
      if constexpr (kPass)
        for (int n = 0; n < nf; ++n) pass_through(n);
      float corr[2];
      int s_prev = stage_of(kv_iter + first());
      if (!pre) {
        mbar_wait(k_full(s_prev), phase_of(kv_iter + first()));
        my_turn();
        wgmma_fence();
        issue_s(s_prev);
        wgmma_commit();
        pass_turn(first() == n_tiles - 1);
        wgmma_wait<0>();  // (kNextS: the previous tile retired this S; a wait here on that path too
                          // would make ptxas serialise every wgmma, C7515)
      }
      release_k(s_prev);
      release_q_after(first() == n_tiles - 1);
      softmax(first(), corr);  // O is 0: nothing to rescale
      to_p();
      for (int n = first() + 1; n < end(); ++n) {
        const int it = kv_iter + n, s = stage_of(it);
        // Both waits before the GEMMs: a wait loop between them makes ptxas serialise them (C7520).
        mbar_wait(k_full(s), phase_of(it));
        mbar_wait(v_full(s_prev), phase_of(it - 1));
        my_turn();
        wgmma_fence();
        issue_s(s);
        wgmma_commit();
        issue_pv(pa, s_prev);
        wgmma_commit();
        pass_turn(n == n_tiles - 1);
        wgmma_wait<1>();  // S (n) has retired; P V (n-1) may still run
        release_k(s);
        release_q_after(n == n_tiles - 1);
        softmax(n, corr);
        wgmma_wait<0>();
        release_v(s_prev);
        to_p();
        rescale_o(corr);
        s_prev = s;
      }
      last_pv(s_prev, kv_iter + end() - 1);
      if constexpr (kPass)
        for (int n = nl + 1; n < n_tiles; ++n) pass_through(n);
    } else if constexpr (kPass) {
      for (int n = 0; n < n_tiles; ++n) pass_through(n);  // this consumer sees none of them
    }
    kv_iter += n_tiles;
    release_q_after(n_tiles == 0);  // no S GEMM read Q

    if (!s0_issued) epilogue();  // (kNextS ran it while the next tile's first S GEMM was in flight)
    if constexpr (Traits::kVarlen) ++round;
  }
  // Shared memory must outlive the reads of the last store (kSeparateO does not wait per tile).
  if (Traits::kSeparateO && t == 0) tma_store_wait_read<0>();
}

}  // namespace attnjit
