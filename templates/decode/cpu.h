// CPU decode: the algorithm of decode/sm80.cuh (split-KV online softmax + in-launch combine) for
// the CPU backend, JIT-compiled by clang with no system headers (runtime/cpu/).
//
// Decode is memory-bound: every key and value row is used once per query row and never again,
// so the kernel's job is to stream K and V at the memory's speed with the multiply-adds hidden
// under the loads. Hence:
//   - One work item holds all kRowsPerItem query rows of a KV head (the GQA heads times the
//     query tokens), so each K/V row is read from memory once for the whole group.
//   - K/V rows are used in place, converted to fp32 in registers (cpu_simd.h RowPairs: bf16 is
//     two integer ops per 2V elements), never copied into a buffer.
//   - Q.K^T runs as register tiles of QR query rows x QJ keys over the head dim; the QR*QJ dot
//     products leave the tile as one vector through TreeSum (no per-score horizontal sums), and
//     stay in that layout: the softmax runs on the tile vectors for all QR rows at once (a row's
//     max and sum over its QJ lanes by butterfly shuffles), and on AVX-512 BF16 one
//     vcvtneps2bf16 packs a tile's probabilities into the bf16 pairs P.V needs. (Scattering the
//     scores to a row-major block and reducing each row horizontally made the softmax a fifth
//     of the kernel's time on Zen 4: 20 -> 9 TSC cycles per key and KV head at bf16 GQA 8.)
//     P.V runs as register tiles of PR rows x PS row segments, the accumulators loaded and
//     stored once per key block and the probabilities broadcast.
//   - kOrder 1 (bf16 only): bf16 pair dot products (vdpbf16ps on AVX-512 BF16 hosts, the same
//     products with FMAs elsewhere) for Q.K^T on the raw bf16 query and for P.V with P rounded
//     to bf16 (as tensor-core kernels do) against V rows interleaved two keys at a time: half
//     the instructions of kOrder 0 where the instruction exists.
//
// Work split: one work item = (sequence b, group of kHeadsPerItem KV heads, row chunk, split),
// item index ((b * groups + hg) * row_chunks + chunk) * num_splits + split. Inside an item the
// key loops run outside the head loops, so K and V are read whole row after whole row, in
// address order: reading one head's 256-byte slice out of every row runs at half the rate on
// Zen 3 (prefetchers lose the stream at every page). The host calls the entry on ranges of items
// from several threads; with few items the KV length is split so every thread has work.
//
// Splits and combine as on the GPU: with num_splits > 1 each item stores its normalized partial
// O and log2 sum-exp, then increments the slot's counter (acq_rel); the item that sees
// num_splits - 1 merges the partials with weights exp2(lse_i - lse_max), writes O and LSE, and
// resets the counter to 0. Split boundaries are the GPU's (blocks of kBlockN from the first key
// any row can see), so both backends compute the same partials for the same config. Partials
// are kept in the accumulators' lane order (pv_element; only this template reads them).
//
// Numerics: fp32, scores scaled by scale * log2(e), exp2; the LSE's log in double. A row with no
// visible key stores O = 0, LSE = -inf.
//
// The prelude defines a policy struct with kHeadDim, kGroup, kQTokens, kRowsPerItem, kBlockN,
// kVec, kHeadsPerItem, kAccRegs (vector registers for accumulators), kOrder (0 fp32, 1 bf16 pairs), kStorage
// (StorageKind), kPageSize (0 = contiguous), kMask (DecodeMask), kWindowLeft, kWindowRight, and
// optionally kKvFp8 (fp8::Kind: K/V are fp8 codes with DecodeParams::k_scale / v_scale), kAlibi,
// kSink (decode/cpu_variants.h; the params are then a DecodeVariantParams), `using UserMods`
// (decode/cpu_user_mods.h; the params are then a DecodeModParams).
#pragma once

#include "common/cpu_simd.h"
#include "common/fp8.h"
#include "common/cpu_amx.h"
#include "common/variants.h"
#include "decode/cpu_user_mods.h"
#include "decode/cpu_variants.h"
#include "decode/params.h"

// Profiling hook: bench/decode_cpu_micro (PHASES=1) defines it to time each block's Q.K^T, softmax
// and P.V with the TSC; empty in the JIT, so it costs nothing there. Called with marks 0-3 around
// the three phases, mark 3 with the block's key x head count.
#ifndef ATTNJIT_DECODE_CPU_MARK
#define ATTNJIT_DECODE_CPU_MARK(mark, key_heads) ((void)0)
#endif

namespace attnjit::cpu {

enum DecodeMask { kDecodeMaskNone = 0, kDecodeMaskCausal = 1, kDecodeMaskWindow = 2 };

constexpr int largest_divisor_at_most(int n, int cap) {
  for (int d = cap < n ? cap : n; d > 1; --d)
    if (n % d == 0) return d;
  return 1;
}

// The prelude's kLongRowAhead (bytes a long row's prefetches run ahead; see process), or 0.
template <class C>
constexpr auto long_row_ahead_(int) -> decltype(static_cast<int>(C::kLongRowAhead)) { return C::kLongRowAhead; }
template <class C>
constexpr int long_row_ahead_(long) { return 0; }

template <bool B, class X, class Y>
struct Pick {
  typedef X type;
};
template <class X, class Y>
struct Pick<false, X, Y> {
  typedef Y type;
};

template <class C>
struct DecodeCpu {
  static constexpr int D = C::kHeadDim, G = C::kGroup, QT = C::kQTokens, ROWS = G * QT;
  static constexpr int RPI = C::kRowsPerItem, BN = C::kBlockN, V = C::kVec, P = C::kPageSize;
  static constexpr int HPI = C::kHeadsPerItem;  // KV heads per work item (at most)
  static constexpr int SEG = 2 * V;   // elements per row segment (a RowPairs pair)
  static constexpr int NS = D / SEG;  // segments per head-dim row
  static constexpr int NVD = D / V;   // vectors per head-dim row
  static constexpr bool kPairDot = C::kOrder >= 1;  // bf16 pairs: kOrder 1 (vdpbf16ps) or 2 (AMX)
  // kOrder 2: Q.K^T and P.V on AMX tiles (amx_scores, amx_accumulate).
  static constexpr bool kAmx = C::kOrder == 2;
#if defined(ATTNJIT_CPU_AMX)
  static_assert(!kAmx || (V == 16 && 16 % RPI == 0 && D % 32 == 0 && BN % 32 == 0),
                "kOrder 2 (AMX) needs 16 lanes, rows dividing 16, and head dim and block_n multiples of 32");
#else
  static_assert(!kAmx, "kOrder 2 (AMX) needs a target with amx-tile, amx-bf16 and avx512bf16");
#endif
  static_assert(D % SEG == 0, "head dim must be a multiple of twice the vector width");
  static_assert(BN % V == 0, "block_n must be a multiple of the vector width");
  static_assert(P == 0 || (P & (P - 1)) == 0, "page size must be a power of two");
  static_assert(!kPairDot || C::kStorage == kStoreBF16, "kOrder 1 (bf16 pairs) needs bf16 storage");

  // Register tiles. Q.K^T: QR rows x QJ keys, QR*QJ <= min(kAccRegs, V) accumulators (TreeSum
  // folds them into one vector; with QR*QJ < V its upper lanes repeat the lower ones). P.V: PR
  // rows x PS segments = 2*PR*PS <= kAccRegs accumulators, over chunks of JC keys or more
  // (pv_chunk; the accumulators go to memory between chunks). A P.V tile walks one
  // 64-byte column of JC consecutive V rows, whose stride (KV heads x head dim x element size) is
  // usually a multiple of 2-4 KiB, so all JC lines fall into one or two L1 sets: JC = 8 keeps them
  // within the 8 ways (JC = 16 evicted them before the next row tile used them: hot-cache
  // microbenchmark on Zen 3, f32 GQA 4 +24%, GQA 8 +11%, bf16 GQA 4 +7%). A Q.K^T tile reads the
  // same column of QJ key rows, so QJ is capped at 8 for the same reason: with one query row
  // (MHA) QJ = 16 put 16 lines in one set (Zen 4, aligned K/V: warm bf16 MHA Q.K^T 17 -> 13-15
  // TSC cycles per key and head, streaming +8%; f32 +6%; QJ = 4 was no better than 8).
  static constexpr int A = C::kAccRegs;
  static constexpr int NQ = A < V ? A : V;
  // Quad-broadcast Q.K^T (kQuadQk, scores_quad): bf16 pairs on 16-lane vectors for items of 8
  // rows of one query token (GQA 8), in tiles of 4 rows x 4 keys. Zen 4, bf16 GQA 8 at 32k, 4 KV
  // heads: Q.K^T 37 -> 32 TSC cycles per key and head streaming (33 -> 29 warm). The other tiles
  // stay where it was no faster: GQA 4 (4 rows; 2 cycles slower than TreeSum), and 8 rows of
  // several tokens (CLI, 1 thread, 32k: 2 tokens x GQA 4 and 4 x GQA 2 the same, 8 x MHA -4%).
  // Only where vdpbf16ps exists: elsewhere each pair product costs shifts and two FMAs, and the
  // tiles were not measured there.
#if defined(__AVX512BF16__)
  static constexpr bool kHostPairDot = true;
#else
  static constexpr bool kHostPairDot = false;
#endif
  static constexpr bool kQuadQk =
      C::kOrder == 1 && kHostPairDot && V == 16 && A >= 16 && RPI == 8 && QT == 1 && D % 32 == 0;
  // AMX tiles store S^T (keys x rows), so kOrder 2's score vectors are key-major: all the rows,
  // 16 / RPI keys (kLaneKey below).
  static constexpr int QR = kAmx ? RPI : kQuadQk ? 4 : RPI < NQ ? RPI : NQ;
  static constexpr int QJ = kAmx ? V / RPI : kQuadQk ? 4 : NQ / QR < 8 ? NQ / QR : 8;
  static constexpr int PR = RPI < A / 2 ? RPI : A / 2;
  static constexpr int PS = largest_divisor_at_most(NS, A / (2 * PR) < 1 ? 1 : A / (2 * PR));
  static constexpr int JC = BN < 8 ? BN : 8;
  static constexpr int NRT = RPI / QR, NJT = BN / QJ;  // Q.K^T row tiles, key tiles per block
  static_assert(RPI % QR == 0 && RPI % PR == 0 && BN % QJ == 0 && BN % JC == 0, "tiles must divide the item");

  typedef typename Vec<V>::F F;
  typedef typename Vec<V>::I I;
  typedef typename Vec<V>::U U;
  typedef Storage_<C::kStorage> S;
  typedef typename S::T T;
  typedef RowPairs<C::kStorage, V> Pairs;
  typedef RowPairs<kStoreBF16, V> Bf16Pairs;
  // K/V storage: the query's, or fp8 codes (kKvFp8) converted in registers in the query's lane
  // order; the K scale multiplies the query, the V scale the output.
  static constexpr int KV = fp8::kind_of<C>();
  typedef typename Pick<KV != 0, unsigned char, T>::type TK;
  typedef typename Pick<KV != 0, RowPairsFp8<KV, V, C::kStorage == kStoreBF16>, Pairs>::type KvPairs;
  static_assert(!kPairDot || KV == 0, "kOrder 1 (bf16 pairs) needs bf16 K/V, not fp8");
  // Broadcast-K Q.K^T (kBcastQk): when one tile holds all the item's rows (QR = RPI >= 8) and
  // they fill a whole or half vector (QJ = 1 or 2), a key's dot products with every row
  // accumulate in one RPI-lane vector (lane = row): each step multiplies a query column (one
  // unit, an f32 element or a bf16 pair, of every row; built per item in w.q / w.qb) by one unit
  // of the key row broadcast from memory as the instruction's operand. No TreeSum: the tile is
  // the accumulator (QJ = 1) or two of them interleaved (QJ = 2). Half vectors rather than one
  // 64-bit broadcast per full vector, because that broadcast costs a shuffle on Zen 4 (1.0
  // instead of 0.71 TSC cycles per vdpbf16ps) while a 32-bit one is free. Zen 4, 32k,
  // CLI A/B: 2 query tokens at GQA 8 +12% (bf16) and +24% (f32), 4 tokens +8..11% (bf16 GQA
  // 4-8), 1 token bf16 GQA 8 +1%; f32 with half vectors ran 10 cycles per key and head slower
  // warm (its TreeSum is cheap next to 8 multiply-adds per key unit), so f32 needs QJ = 1.
  // Needs the key's units raw in memory: f32 or bf16 pairs, not fp8 or f16.
  static constexpr int EPU = kPairDot ? 2 : 1;  // elements per unit
  static constexpr bool kBcastQk = !kAmx && QR == RPI && RPI >= 8 && QR * QJ == V && (D / EPU) % 32 == 0 &&
                                   (kPairDot ? QJ <= 2 : QJ == 1 && C::kStorage == kStoreF32 && KV == 0);
  static constexpr int JT = 8;                  // keys per pass (the L1 set limit above)
  static_assert(!(kBcastQk || kQuadQk) || (BN % JT == 0 && JT % QJ == 0), "broadcast Q.K^T: key passes must divide the block");
  static constexpr float kNegInf = -__builtin_huge_valf();
  // How far ahead prefetch_span runs, in head rows (keys x KV heads): 128 beat 16-64 on Zen 3
  // at GQA 1-8 (a GQA-8 head row takes ~190 cycles, far longer than a miss; more does not hurt).
  static constexpr int kPrefetchHeadRows = 128;
  static constexpr int kLongRowBytes = 8192;

  struct alignas(64) Work {
    // With kBcastQk, each head's q (kOrder 0) or qb (kOrder 1) holds its D / EPU query columns
    // instead, and with kQuadQk its qb holds 4-row x 4-pair blocks (put_query), the same size.
    F q[HPI][RPI][NVD];    // kOrder 0: query rows (RowPairs order), scaled by scale * log2(e)
    U qb[kPairDot ? HPI : 1][RPI][NS];  // kOrder 1: the raw bf16 query rows
    F acc[HPI][RPI][NVD];  // unnormalized output rows (RowPairs order)
    // The block's scores, then probabilities, one vector per Q.K^T tile as TreeSum leaves it
    // (lane rr * QJ + jk: row tile-row rr, key jk of the tile; see score()).
    F st[HPI][NRT][NJT];
    unsigned pp[kPairDot && !kAmx ? HPI : 1][NRT][NJT * V / 2];  // kOrder 1: bf16 probability pairs (pair_index)
    // Running max, sum and this block's rescale factor per row, in the score tiles' lanes (every
    // lane of a row holds its value; row_value reads one).
    F mv[HPI][NRT], lv[HPI][NRT], cv[HPI][NRT];
    long long row_lo[RPI], row_hi[RPI];  // visible keys [lo, hi] (the same for every head)
    const TK* kp[BN];  // the block's key and value rows at the item's first head (the first n)
    const TK* vp[BN];
    const TK* kn[BN];  // the next block's rows (the first nn)
    const TK* vn[BN];
    const TK* ka[BN];  // the rows pd keys after the block's (the item's last row past its end)
    const TK* va[BN];
    int nn, pd;
    int jc;  // keys per P.V chunk (pv_chunk)
    bool near_v;  // prefetch V rows pd keys ahead in accumulate (see prime_key)
    const char* kl;  // the next K / V line to prefetch when the block's rows are linear_rows
    const char* vl;
    int prime_bytes;  // bytes of a row to prime the pages of (0: no priming)
    unsigned long long klast, vlast;  // the pages primed last
    long long ks, vs;  // head strides of kp / vp
    float vscale[HPI];  // V dequantisation scale per head (1 without an fp8 cache)
    alignas(64) TK zero[D];
    // kOrder 2 (AMX): 16 key rows gathered where they are not one stride apart (amx_scores); a
    // 32-key chunk's probabilities in bf16, row-major, and its V rows in key pairs
    // (pv_element's order), the A and B tiles of amx_accumulate.
    alignas(64) TK kt[kAmx ? 16 : 1][kAmx ? D : 1];
    alignas(64) unsigned short pa[kAmx ? RPI : 1][32];
    alignas(64) unsigned vt[kAmx ? NS : 1][2][16][16];
  };

  static float exp2s(float x) {
    F v = x;
    return vexp2<F, I>(v)[0];
  }
  static F load_f(const float* p) {
    F v;
    __builtin_memcpy(&v, p, sizeof(F));
    return v;
  }
  static void store_f(float* p, F v) { __builtin_memcpy(p, &v, sizeof(F)); }

  // Scores stay in the Q.K^T tiles' layout: TreeSum's vector is stored whole (no per-score
  // scatter), and the softmax runs on those vectors for all the tile's rows at once (no
  // horizontal max / sum per row). Lanes >= QR * QJ repeat the first ones.
  // Lane of row rr, key jk in a score tile: row-major as TreeSum and the broadcast tiles leave
  // it (rr * QJ + jk), key-major as an AMX tile stores S^T (jk * QR + rr).
  static constexpr int kLaneKey = kAmx ? QR : 1, kLaneRow = kAmx ? 1 : QJ;
  static constexpr int lane(int rr, int jk) { return rr * kLaneRow + jk * kLaneKey; }
  static constexpr int lane_row(int l) { return kAmx ? l % QR : l / QJ; }
  static constexpr int lane_key(int l) { return kAmx ? l / QR : l % QJ; }
  static float& score(Work& w, int h, int r, int j) {
    return ((float*)&w.st[h][r / QR][j / QJ])[lane(r % QR, j % QJ)];
  }
  static float row_value(const F (&v)[HPI][NRT], int h, int r) { return v[h][r / QR][lane(r % QR, 0)]; }
  // kOrder 1: where the bf16 pair (p[r][j], p[r][j + 1]) of an even key j lies in pp[h][r / QR]:
  // with QJ even the two keys are neighbouring lanes of one tile (one conversion in lane order);
  // with QJ = 1 they are one lane of two consecutive tiles (pack_tiles).
  static int pair_index(int r, int j) {
    if constexpr (QJ == 1) return (j / 2) * V + r % QR;
    return (j / QJ) * (V / 2) + ((r % QR) * QJ + j % QJ) / 2;
  }

  static void run(const DecodeParams& p, long long begin, long long end) {
    Work w;
    for (int i = 0; i < D; ++i) w.zero[i] = 0;  // +0 in every storage
#if defined(ATTNJIT_CPU_AMX)
    if constexpr (kAmx) {  // the tile shapes of amx_scores (0-2) and amx_accumulate (3-5)
      amx::TileConfig tc;
      tc.set(0, 16, RPI * 4);  // S^T: 16 keys x RPI rows, fp32
      tc.set(1, 16, 64);       // K: 16 keys x 32 dims
      tc.set(2, 16, RPI * 4);  // Q^T: 16 dim pairs x RPI rows
      tc.set(3, RPI, 64);      // O: RPI rows x 16 dims, fp32
      tc.set(4, RPI, 64);      // P: RPI rows x 32 keys
      tc.set(5, 16, 64);       // V: 16 key pairs x 16 dims
      amx::load_config(tc);
    }
#endif
    for (long long item = begin; item < end; ++item) process(p, item, w);
#if defined(ATTNJIT_CPU_AMX)
    if constexpr (kAmx) amx::release();
#endif
  }

  // Hardware prefetchers stop at 4 KiB pages and restart slowly, which halves the rate at which a
  // row-by-row walk through K and V gets its data (measured on Zen 3); so the kernel prefetches
  // the row pd keys ahead, one 64-byte line at a time as it uses the same elements of this row
  // (prefetch_span): bursts of prefetches fill the L1 miss buffers and stall the loads of
  // this block's rows behind them (a whole block prefetched at once ran at half the rate).
  static void prefetch_row(const TK* row, long long head_stride, int nh) {
    for (int h = 0; h < nh; ++h) prefetch_span(row + h * head_stride, 0, D);
  }
  // The lines of row elements [e0, e1) (those starting there).
  static void prefetch_span(const TK* row, int e0, int e1) {
    constexpr int sz = (int)sizeof(TK);
    for (int c = (e0 * sz + 63) & ~63; c < e1 * sz; c += 64) __builtin_prefetch((const char*)row + c, 0, 2);
  }
  // What a tile about to read elements [e0, e1) of a row prefetches: as many lines as that span
  // has, pd keys ahead -- the same span of `row` (the row pd keys after), or, when the block's
  // rows are one run of memory (linear_rows), the next lines of that run in address order
  // (`next`: Work::kl or vl, in memory, which keeps the prefetches where the tiles issue them; as
  // a local LLVM moved them, and f32 GQA 4's Q.K^T took 53-58 instead of 50-52 TSC cycles per key
  // and head). A compile-time choice: chosen per line at run time, it slowed the other rows'
  // kernels too (the quad-broadcast Q.K^T 29 -> 53 cycles warm with a branch; bf16 GQA 8 -6..-12%
  // and f32 MHA -2..-12% streaming with a select).
  template <bool Lin>
  static void prefetch_ahead(const char*& next, const TK* row, int e0, int e1) {
    constexpr int sz = (int)sizeof(TK);
    if constexpr (Lin)
      for (int c = (e0 * sz + 63) & ~63; c < e1 * sz; c += 64, next += 64) __builtin_prefetch(next, 0, 2);
    else
      prefetch_span(row, e0, e1);
  }
  // Whether an item's rows can be one page (nh <= HPI heads): the kernels without it are the only
  // ones instantiated. With codegen's heads-per-item rule (8192 query elements per item) that is
  // items of at most 8 rows with f32 K/V, 4 with bf16 / f16 and 2 with fp8, so the broadcast
  // tiles (8 rows and more) never take the walk today.
  static constexpr bool kMayLinear =
      HPI * D * (int)sizeof(TK) >= 4096 && 4096 % (D * (int)sizeof(TK)) == 0;
  // Whether the block's prefetches walk K and V in address order: for rows of one 4 KiB page
  // (kPrimeMaxRowBytes) that follow each other in memory, heads included (a contiguous cache, or
  // pages that happen to follow each other). The row-by-row prefetches touch QJ (or JC) pages at
  // once, a few lines of each, and V's were off for such rows (see prime_key); the walk makes one
  // stream of each. Zen 4, 32k, micro harness, alternating rounds: f32 GQA 4 with 8 KV heads
  // 20.6-21.8 -> 23.6-24.3 GB/s, f32 GQA 8 with 8 KV heads 13.1-13.7 -> 14.8-15.3, bf16 GQA 2 with
  // 16 KV heads 18.1-21.8 -> 22.2-23.0; CLI, f32 GQA 4, +12-14% at 1 thread, +5-8% at 2. Other
  // row sizes were no faster with it (8-16 KiB rows -5..+4%; 1-2 KiB rows -5..+4%, with or
  // without page priming), so they keep the row-by-row prefetches (bench/RESULTS.md, round 15).
  static bool linear_rows(const Work& w, int nh, int n) {
    const long long row = (long long)nh * D;
    if (row * (long long)sizeof(TK) != kPrimeMaxRowBytes || w.ks != D || w.vs != D) return false;
    for (int jj = 1; jj < n; ++jj)
      if (w.ka[jj] != w.ka[jj - 1] + row || w.va[jj] != w.va[jj - 1] + row) return false;
    return true;
  }

  // Page priming. Zen 3's L2 stream prefetcher stops at every 4 KiB page and needs a few misses
  // to restart, and the software prefetches above each hold an L1 miss buffer for a whole DRAM
  // round trip, so when an item's rows are short (a few heads: a page holds 1-4 rows) neither
  // keeps enough lines in flight and the loads wait for memory instead of overlapping it. One
  // prefetch at the start of each page of the next block's rows lets
  // the L2 prefetcher stream the rest of those pages well before the prefetches above ask for
  // them: +7-13% at GQA 4-8 from DRAM on Zen 3; rows of 8 KiB and more stream well without it.
  // Rows of exactly one page are then fetched whole by the L2 prefetcher, and accumulate's
  // per-line V prefetches only cost issue slots and L1 sets (f32 GQA 4: 12.2 -> 14.3 GB/s
  // without them); shorter rows still need them (without: -20% at 2 KiB rows).
  // The primes are spread over the block's Q.K^T (one next-block row per key) rather than
  // issued at once: a burst of them fills the L1 miss buffers like any other (2 threads at 32k
  // ran slower with the burst).
  static constexpr int kPrimeMaxRowBytes = 4096;
  static void prime_row(const TK* row, int row_bytes, unsigned long long& last) {
    const unsigned long long a = (unsigned long long)row, e = a + row_bytes - 1;
    for (unsigned long long pg = a >> 12; pg <= e >> 12; ++pg)
      if (pg != last) {
        __builtin_prefetch((const char*)(pg == a >> 12 ? a : pg << 12), 0, 2);
        last = pg;
      }
  }
  // Key j's share of the priming of the next block (rows kn / vn).
  static void prime_key(Work& w, int j) {
    if (w.prime_bytes > 0 && j < w.nn) {
      prime_row(w.kn[j], w.prime_bytes, w.klast);
      prime_row(w.vn[j], w.prime_bytes, w.vlast);
    }
  }

  // Row j of the block at head h (the zero row past the block's end).
  static const TK* krow(const Work& w, int j, int h, int n) { return j < n ? w.kp[j] + h * w.ks : w.zero; }
  static const TK* vrow(const Work& w, int j, int h, int n) { return j < n ? w.vp[j] + h * w.vs : w.zero; }

  // Q.K^T of the block: s[h][r][j] = q_hr . k_hj (log2 units), for j < n rounded up to QJ.
  // Keys outer, heads inner: the rows are read in address order (whole rows, all heads).
  template <bool Lin>
  static void scores(const DecodeParams& p, Work& w, int nh, int n) {
    if constexpr (kAmx) return amx_scores<Lin>(p, w, nh, n);
    if constexpr (kBcastQk) return scores_bcast<Lin>(p, w, nh, n);
    if constexpr (kQuadQk) return scores_quad<Lin>(p, w, nh, n);
    for (int j = 0; j < n; j += QJ) {
      for (int jk = 0; jk < QJ; ++jk) prime_key(w, j + jk);
      for (int h = 0; h < nh; ++h) {
        const TK* kr[QJ];
        for (int jk = 0; jk < QJ; ++jk) kr[jk] = krow(w, j + jk, h, n);
        for (int r0 = 0; r0 < RPI; r0 += QR) {
          F acc[QR * QJ];
          for (int i = 0; i < QR * QJ; ++i) acc[i] = 0.f;
          for (int sg = 0; sg < NS; ++sg)
            for (int jk = 0; jk < QJ; ++jk) {
              if (r0 == 0) prefetch_ahead<Lin>(w.kl, w.ka[j + jk < n ? j + jk : n - 1] + h * w.ks, sg * SEG, (sg + 1) * SEG);
              if constexpr (kPairDot) {
                const U kx = Bf16Pairs::raw((const unsigned short*)kr[jk] + sg * SEG);
                for (int rr = 0; rr < QR; ++rr)
                  acc[rr * QJ + jk] = dot_bf16_pairs<V>(acc[rr * QJ + jk], kx, w.qb[h][r0 + rr][sg]);
              } else {
                F ka, kb;
                KvPairs::load(kr[jk] + sg * SEG, ka, kb);
                for (int rr = 0; rr < QR; ++rr) {
                  acc[rr * QJ + jk] += ka * w.q[h][r0 + rr][2 * sg];
                  acc[rr * QJ + jk] += kb * w.q[h][r0 + rr][2 * sg + 1];
                }
              }
            }
          store_tile(p, w, h, r0 / QR, j / QJ, TreeSum<V>::template run<QR * QJ>(acc));
        }
      }
    }
  }

  // A Q.K^T tile's dot products -> st (log2 units).
  static void store_tile(const DecodeParams& p, Work& w, int h, int rt, int jt, F sum) {
    if constexpr (kPairDot) sum *= p.scale_log2;
    // Score modification (soft-capping) in log2 units u = log2(e), on the whole tile.
    if constexpr (variants::softcap_of<C>() > 0.f)
      sum = variants::SoftCap<float>::make(variants::softcap_of<C>(), 1.4426950408889634f)(
          sum, [](F x) { return vtanh<F, I>(x); });
    w.st[h][rt][jt] = sum;
  }

  // kBcastQk: query row r's unit u (an element scaled by qscale, or a raw bf16 pair) -> lane r
  // of head h's column u. kQuadQk: pair u -> lane 4 (r % 4) + u % 4 of block (u / 4, r / 4).
  // kAmx: pair u -> lane r of row u, i.e. Q^T as AMX pair rows (the B tile of amx_scores).
  static void put_query(Work& w, int h, int r, int u, float x, unsigned pair) {
    if constexpr (kQuadQk) ((unsigned*)&w.qb[h][0][0])[((u / 4) * (RPI / 4) + r / 4) * 16 + (r % 4) * 4 + u % 4] = pair;
    else if constexpr (kPairDot) ((unsigned*)&w.qb[h][0][0])[u * RPI + r] = pair;
    else ((float*)&w.q[h][0][0])[u * RPI + r] = x;
  }

  // Q.K^T by broadcast key units (kBcastQk): for JT keys at a time, every row's dot product with
  // each key accumulates in one RPI-lane vector (two, for the even and odd units: 8 chains
  // waited on the multiply-add's latency, 0.54 instead of 0.42 TSC cycles per ymm vdpbf16ps),
  // each step a query column times one unit of the key row broadcast from memory (as the last
  // operand, which LLVM folds into vdpbf16ps / vfmadd; as the first it emitted a separate
  // vbroadcastss: 41 instead of 35 cycles). Per 64-byte line of the key rows: one prefetch of
  // the same line pd keys ahead.
  template <bool Lin>
  static void scores_bcast(const DecodeParams& p, Work& w, int nh, int n) {
    typedef typename Vec<RPI>::F FR;
    typedef typename Vec<RPI>::U UR;
    constexpr int NU = D / EPU, CL = 16;  // units per row, units per line
    static_assert(NU % (2 * CL) == 0, "broadcast Q.K^T: a row must be whole line pairs");
    for (int j = 0; j < n; j += JT) {
      for (int jk = 0; jk < JT; ++jk) prime_key(w, j + jk);
      for (int h = 0; h < nh; ++h) {
        const unsigned* kr[JT];
        for (int jk = 0; jk < JT; ++jk) kr[jk] = (const unsigned*)krow(w, j + jk, h, n);
        const FR* qf = (const FR*)&w.q[h][0][0];
        const UR* qu = (const UR*)&w.qb[h][0][0];
        FR a0[JT], a1[JT];
        for (int i = 0; i < JT; ++i) a0[i] = a1[i] = 0.f;
        for (int u0 = 0; u0 < NU; u0 += CL) {
          for (int jk = 0; jk < JT; ++jk)
            prefetch_ahead<Lin>(w.kl, w.ka[j + jk < n ? j + jk : n - 1] + h * w.ks, u0 * 4 / (int)sizeof(TK), (u0 * 4 + 64) / (int)sizeof(TK));
#pragma clang loop unroll(full)
          for (int u = u0; u < u0 + CL; u += 2)
#pragma clang loop unroll(full)
            for (int jk = 0; jk < JT; ++jk) {
              const UR k0 = kr[jk][u], k1 = kr[jk][u + 1];
              if constexpr (kPairDot) {
                a0[jk] = dot_bf16_pairs<RPI>(a0[jk], qu[u], k0);
                a1[jk] = dot_bf16_pairs<RPI>(a1[jk], qu[u + 1], k1);
              } else {
                a0[jk] += qf[u] * (FR)k0;
                a1[jk] += qf[u + 1] * (FR)k1;
              }
            }
        }
        for (int t = 0; t < JT / QJ; ++t) {
          F x;
          if constexpr (QJ == 1) x = a0[t] + a1[t];
          else x = interleave(a0[2 * t] + a1[2 * t], a0[2 * t + 1] + a1[2 * t + 1], typename MakeInts<V>::type());
          store_tile(p, w, h, 0, j / QJ + t, x);
        }
      }
    }
  }
  // Q.K^T by 16-byte key broadcasts (kQuadQk): a 16-lane vector holds 4 rows x 4 bf16 pairs of
  // the query (lane 4b + i: row 4g + b, pair 4c + i of column group c; put_query), and one
  // vdpbf16ps multiplies it by 4 pairs of a key row broadcast to all four 128-bit blocks. So each
  // lane sums every fourth pair of one row's dot product with that key, and quad_sum folds four
  // keys' vectors into one 4 x 4 score tile. Per key and head: D / 8 broadcast loads and
  // RPI * D / 32 zmm vdpbf16ps, where kBcastQk's 32-bit broadcasts load once per half-vector
  // vdpbf16ps (D / 2 loads per 8 rows), which is about as many loads as Zen 4 issues in the
  // time of its multiply-adds.
  template <bool Lin>
  static void scores_quad(const DecodeParams& p, Work& w, int nh, int n) {
    constexpr int RG = RPI / 4, NC = D / 8;  // row groups; column groups of 4 pairs (16 bytes) per row
    typedef unsigned U4 __attribute__((vector_size(16)));
    for (int j = 0; j < n; j += JT) {
      for (int jk = 0; jk < JT; ++jk) prime_key(w, j + jk);
      for (int h = 0; h < nh; ++h) {
        const char* kr[JT];
        for (int jk = 0; jk < JT; ++jk) kr[jk] = (const char*)krow(w, j + jk, h, n);
        const U* qv = (const U*)&w.qb[h][0][0];
        F acc[JT][RG];
        for (int jk = 0; jk < JT; ++jk)
          for (int g = 0; g < RG; ++g) acc[jk][g] = 0.f;
#pragma clang loop unroll(full)
        for (int c = 0; c < NC; ++c) {
          if (c % 4 == 0)  // one prefetch per 64-byte line of each key row, pd keys ahead
            for (int jk = 0; jk < JT; ++jk)
              prefetch_ahead<Lin>(w.kl, w.ka[j + jk < n ? j + jk : n - 1] + h * w.ks, c * 16 / (int)sizeof(TK), (c * 16 + 64) / (int)sizeof(TK));
          U qg[RG];
          for (int g = 0; g < RG; ++g) qg[g] = qv[c * RG + g];
#pragma clang loop unroll(full)
          for (int jk = 0; jk < JT; ++jk) {
            U4 k4;
            __builtin_memcpy(&k4, kr[jk] + c * 16, sizeof(k4));
            const U kb = __builtin_shufflevector(k4, k4, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3);
            for (int g = 0; g < RG; ++g) acc[jk][g] = dot_bf16_pairs<V>(acc[jk][g], qg[g], kb);
          }
        }
        for (int g = 0; g < RG; ++g)
          for (int t = 0; t < JT / 4; ++t)
            store_tile(p, w, h, g, j / 4 + t, quad_sum(acc[4 * t][g], acc[4 * t + 1][g], acc[4 * t + 2][g], acc[4 * t + 3][g]));
      }
    }
  }
  // Within each 128-bit block: H = 0 interleaves elements 0-1 of a and b (unpcklps), H = 1
  // elements 2-3 (unpckhps); unpack64 the same with 64-bit halves (unpcklpd / unpckhpd).
  template <int H, int... L>
  static F unpack32(F a, F b, Ints<L...>) { return __builtin_shufflevector(a, b, ((L % 4) % 2 * V + (L / 4) * 4 + 2 * H + (L % 4) / 2)...); }
  template <int H, int... L>
  static F unpack64(F a, F b, Ints<L...>) { return __builtin_shufflevector(a, b, ((L % 4) / 2 * V + (L / 4) * 4 + 2 * H + (L % 4) % 2)...); }
  // Four keys' vectors (lane 4b + i: partial sum i of row b) -> one tile (lane 4b + k: key k's
  // sum for row b): a 4 x 4 transpose-and-add within each 128-bit block.
  static F quad_sum(F a, F b, F c, F d) {
    typedef typename MakeInts<V>::type L;
    const F ab = unpack32<0>(a, b, L()) + unpack32<1>(a, b, L()), cd = unpack32<0>(c, d, L()) + unpack32<1>(c, d, L());
    return unpack64<0>(ab, cd, L()) + unpack64<1>(ab, cd, L());
  }
  // Two RPI-lane vectors (keys 0 and 1 of a tile, lane = row) -> one tile (lane rr * 2 + jk).
  template <class FR, int... L>
  static F interleave(FR a, FR b, Ints<L...>) { return __builtin_shufflevector(a, b, ((L % 2) * RPI + L / 2)...); }

  // x with each lane replaced by Op over its group of QJ lanes (one row of a score tile): log2(QJ)
  // butterfly steps of lane ^ S.
  template <int S, int... L>
  static F swap_lanes(F x, Ints<L...>) { return __builtin_shufflevector(x, x, (L ^ S)...); }
  template <int S = 1, class Op>
  static F row_reduce(F x, Op op) {
    if constexpr (S < QJ) return row_reduce<2 * S>(op(x, swap_lanes<S * kLaneKey>(x, typename MakeInts<V>::type())), op);
    else return x;
  }

  // Online softmax over the block for every row of every head, one score tile (QR rows x QJ
  // keys per vector) at a time: masks, updates the rows' max and sum, leaves the probabilities
  // in st (and pp) and each row's rescale factor in cv.
  static void softmax(Work& w, int nh, long long j0, int n) {
    for (int rt = 0; rt < NRT; ++rt) {
      // Per lane: its key within the tile and its row's visible keys [lo, hi] relative to j0,
      // clamped to [0, n - 1] (empty: lo > hi).
      I jk, lo, hi;
      bool full = true;
      for (int e = 0; e < V; ++e) {
        const int L = e % (QR * QJ), r = rt * QR + lane_row(L);
        long long l = w.row_lo[r] - j0, u = w.row_hi[r] - j0;
        u = u > n - 1 ? n - 1 : u;
        l = l < 0 ? 0 : l;
        full = full && l == 0 && u == BN - 1;
        jk[e] = lane_key(L);
        lo[e] = l > BN ? BN : (int)l;
        hi[e] = u < -1 ? -1 : (int)u;
      }
      for (int h = 0; h < nh; ++h) {
        F* t = w.st[h][rt];
        F mx = kNegInf;
        for (int v = 0; v < NJT; ++v) {
          F x = t[v];
          if (!full) {
            const I k = jk + v * QJ;
            const I vis = (k >= lo) & (k <= hi);
            x = (F)(((I)x & vis) | ((I)(F)kNegInf & ~vis));
            t[v] = x;
          }
          mx = vmax(mx, x);
        }
        const F mo = w.mv[h][rt], mn = vmax(mo, row_reduce(mx, [](F a, F b) { return vmax(a, b); }));
        const F mu = (F)((I)mn & (I)(mn != kNegInf));  // 0 where the row has seen no key yet
        const F corr = vexp2<F, I>(mo - mu);
        F sum = 0.f;
        for (int v = 0; v < NJT; ++v) {
          t[v] = vexp2<F, I>(t[v] - mu);
          sum += t[v];
        }
        if constexpr (kPairDot && !kAmx) pack_tiles(t, w.pp[h][rt]);
        w.lv[h][rt] = w.lv[h][rt] * corr + row_reduce(sum, [](F a, F b) { return a + b; });
        w.mv[h][rt] = mn;
        w.cv[h][rt] = corr;
      }
    }
  }

  // Probabilities -> bf16 (round to nearest even), 16 bits each.
  static U bf16_bits(F x) {
    const U u = (U)x;
    return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  }
  // kOrder 1: a row tile's probabilities as bf16 pairs at pair_index. QJ even: lanes 2i, 2i + 1
  // of a tile (one vcvtneps2bf16 on AVX-512 BF16); QJ = 1: lane i of tiles 2v and 2v + 1.
  template <int... L>
  static void pack_tiles_(const F* t, unsigned* out, Ints<L...>) {
    if constexpr (QJ == 1) {
      for (int v = 0; v < NJT; v += 2) {
        const U packed = bf16_bits(t[v]) | (bf16_bits(t[v + 1]) << 16);
        __builtin_memcpy(out + v / 2 * V, &packed, sizeof(U));
      }
    } else {
      for (int v = 0; v < NJT; ++v) {
#if defined(__AVX512BF16__)
        if constexpr (V == 16) {
          typedef float GF __attribute__((vector_size(64)));
          typedef short GH __attribute__((vector_size(32)));
          const GH h = (GH)__builtin_ia32_cvtneps2bf16_512_mask((GF)t[v], (GH){}, (unsigned short)0xffff);
          __builtin_memcpy(out + v * (V / 2), &h, sizeof(h));
          continue;
        }
#endif
        typedef typename Vec<V / 2>::U H;
        const U b = bf16_bits(t[v]);
        const H packed = __builtin_shufflevector(b, b, (2 * L)...) | (__builtin_shufflevector(b, b, (2 * L + 1)...) << 16);
        __builtin_memcpy(out + v * (V / 2), &packed, sizeof(H));
      }
    }
  }
  static void pack_tiles(const F* t, unsigned* out) { pack_tiles_(t, out, typename MakeInts<V / 2>::type()); }

  // kOrder 1: P.V's operand from the same segment of two V rows (keys j, j + 1): 32-bit lane e
  // of half hh holds the bf16 pair (a, b) of element pv_element(hh, e) -- vpunpcklwd /
  // vpunpckhwd, which interleave within 128-bit blocks. A permute across the whole vector
  // (vpermt2w, what LLVM made of the even / odd masks and shifts) shares a pipe with the
  // broadcasts of P on Zen 4: the P.V mix ran at 0.80 instead of 0.70 TSC cycles per vdpbf16ps.
  template <int HH, int... L>
  static U unpack_(U a, U b, Ints<L...>) {
    typedef short H __attribute__((vector_size(sizeof(U))));
    // Word o of the result: block o / 8, pair HH * 4 + (o % 8) / 2 of it, from a (o even) or b.
    return (U)__builtin_shufflevector((H)a, (H)b, ((L % 2) * 2 * V + (L / 8) * 8 + HH * 4 + (L % 8) / 2)...);
  }
  template <int HH>
  static U unpack_pairs(U a, U b) { return unpack_<HH>(a, b, typename MakeInts<2 * V>::type()); }
  // The element (within its segment) that lane e of P.V accumulator hh holds.
  static constexpr int pv_element(int hh, int e) {
    if constexpr (kPairDot) return (e / 4) * 8 + hh * 4 + e % 4;
    return Pairs::element(hh, e);
  }

  // acc = acc * corr + P.V over the block's n keys, in chunks of JC keys with the heads inside,
  // so a chunk's value rows are read in address order. The row tiles are the inner loop: they
  // reuse the column of V lines the first one brought into L1.
  template <bool Lin>
  static void accumulate(Work& w, int nh, int n) {
    if constexpr (kAmx) return amx_accumulate<Lin>(w, nh, n);
    if constexpr (kQuadQk && BN >= 32)
      if (w.jc == 32) return accumulate_apart<32, Lin>(w, nh, n);
    if constexpr (kQuadQk && BN >= 16)
      if (w.jc == 16) return accumulate_apart<16, Lin>(w, nh, n);
    accumulate_<JC, Lin>(w, nh, n);
  }
  // The longer chunks in functions of their own: with the chunk length read at run time, or with
  // every instance inlined into process, 32-key chunks ran at the 8-key chunks' speed (P.V 33-35
  // instead of 29-31 TSC cycles per key and head, streaming); with the 8-key instance apart too,
  // bf16 GQA 4 lost 2-6% (CLI, 1 thread).
  template <int CH, bool Lin>
  __attribute__((noinline)) static void accumulate_apart(Work& w, int nh, int n) {
    accumulate_<CH, Lin>(w, nh, n);
  }
  template <int CH, bool Lin>
  static void accumulate_(Work& w, int nh, int n) {
    const bool pfv = Lin || w.near_v;
    for (int j0 = 0; j0 < n; j0 += CH) {
      const int jn = n - j0 < CH ? n : j0 + CH;
      for (int h = 0; h < nh; ++h)
        for (int s0 = 0; s0 < NS; s0 += PS)
          for (int r0 = 0; r0 < RPI; r0 += PR) {
            F a[PR][2 * PS];
            for (int rr = 0; rr < PR; ++rr) {
              const float c = j0 == 0 ? row_value(w.cv, h, r0 + rr) : 1.f;
              for (int x = 0; x < 2 * PS; ++x) a[rr][x] = w.acc[h][r0 + rr][2 * s0 + x] * c;
            }
            if constexpr (kPairDot) {
              for (int j = j0; j < jn; j += 2) {
                if (r0 == 0 && pfv)
                  for (int jj = j; jj < j + 2 && jj < n; ++jj)
                    prefetch_ahead<Lin>(w.vl, w.va[jj] + h * w.vs, s0 * SEG, (s0 + PS) * SEG);
                const unsigned short* va = (const unsigned short*)vrow(w, j, h, n);
                const unsigned short* vb = (const unsigned short*)vrow(w, j + 1, h, n);
                for (int ps = 0; ps < PS; ++ps) {
                  const U xa = Bf16Pairs::raw(va + (s0 + ps) * SEG), xb = Bf16Pairs::raw(vb + (s0 + ps) * SEG);
                  const U ev = unpack_pairs<0>(xa, xb), od = unpack_pairs<1>(xa, xb);
                  for (int rr = 0; rr < PR; ++rr) {
                    const U pb = w.pp[h][(r0 + rr) / QR][pair_index(r0 + rr, j)];
                    a[rr][2 * ps] = dot_bf16_pairs<V>(a[rr][2 * ps], ev, pb);
                    a[rr][2 * ps + 1] = dot_bf16_pairs<V>(a[rr][2 * ps + 1], od, pb);
                  }
                }
              }
            } else {
              for (int j = j0; j < jn; ++j) {
                if (r0 == 0 && pfv) prefetch_ahead<Lin>(w.vl, w.va[j] + h * w.vs, s0 * SEG, (s0 + PS) * SEG);
                const TK* vr = w.vp[j] + h * w.vs;
                F vv[2 * PS];
                for (int ps = 0; ps < PS; ++ps) KvPairs::load(vr + (s0 + ps) * SEG, vv[2 * ps], vv[2 * ps + 1]);
                for (int rr = 0; rr < PR; ++rr) {
                  const F pb = score(w, h, r0 + rr, j);
                  for (int x = 0; x < 2 * PS; ++x) a[rr][x] += pb * vv[x];
                }
              }
            }
            for (int rr = 0; rr < PR; ++rr)
              for (int x = 0; x < 2 * PS; ++x) w.acc[h][r0 + rr][2 * s0 + x] = a[rr][x];
          }
    }
  }

  // kOrder 2, Q.K^T on AMX tiles: S^T = K . Q^T for 16 keys of one head at a time. Tile 1 is 16
  // key rows x 32 dims loaded straight from the cache at the rows' own stride (rows that are not
  // one stride apart, or a group that runs past the block's end, are first copied into w.kt,
  // the zero row past the end); tile 2 the head's query pairs for those dims (put_query's
  // layout, Q^T in AMX pair rows); tile 0 the 16 keys x RPI rows of scores, stored key-major
  // into st. One TDPBF16PS per 32 dims whatever RPI, so the arithmetic no longer grows with the
  // GQA group. Then the scale (and soft-capping) on the block's score vectors.
  template <bool Lin>
  static void amx_scores(const DecodeParams& p, Work& w, int nh, int n) {
#if defined(ATTNJIT_CPU_AMX)
    constexpr long long sz = (long long)sizeof(TK);
    for (int j = 0; j < n; j += 16) {
      for (int jk = 0; jk < 16; ++jk) prime_key(w, j + jk);
      const long long stride = j + 16 <= n ? (long long)(w.kp[j + 1] - w.kp[j]) : 0;
      bool strided = stride > 0;
      for (int jk = 2; jk < 16 && strided; ++jk) strided = w.kp[j + jk] - w.kp[j + jk - 1] == stride;
      for (int h = 0; h < nh; ++h) {
        const TK* base = w.kp[j] + h * w.ks;
        long long bstride = stride * sz;
        if (!strided) {
          for (int jk = 0; jk < 16; ++jk) __builtin_memcpy(w.kt[jk], krow(w, j + jk, h, n), D * sz);
          base = &w.kt[0][0];
          bstride = D * sz;
        }
        amx::zero<0>();
        for (int c = 0; c < D / 32; ++c) {
          for (int jk = 0; jk < 16; ++jk)  // one line of each row, pd keys ahead
            prefetch_ahead<Lin>(w.kl, w.ka[j + jk < n ? j + jk : n - 1] + h * w.ks, c * 32, c * 32 + 32);
          amx::load<1>(base + c * 32, bstride);
          amx::load<2>((const unsigned*)&w.qb[h][0][0] + c * 16 * RPI, RPI * 4);
          amx::dot_bf16<0, 1, 2>();
        }
        amx::store<0>(&w.st[h][0][j / QJ], RPI * 4);
      }
    }
    for (int h = 0; h < nh; ++h)
      for (int v = 0; v < (n + QJ - 1) / QJ; ++v) store_tile(p, w, h, 0, v, w.st[h][0][v]);
#else
    (void)p, (void)w, (void)nh, (void)n;
#endif
  }

  // kOrder 2, P.V on AMX tiles, per head and 32-key chunk: tile 4 = the chunk's probabilities
  // (RPI rows x 32 keys, bf16; ProbTranspose from the key-major scores), tile 5 = 16 dims of
  // the chunk's V rows in key pairs (unpack_pairs, so the dims come in pv_element's order, the
  // accumulators' lane order), tile 3 = those 16 dims of the RPI accumulator rows, loaded from
  // and stored back to w.acc (whose rows are D floats apart). The block's rescale runs on
  // w.acc first, and only where a row's max moved.
  template <bool Lin>
  static void amx_accumulate(Work& w, int nh, int n) {
#if defined(ATTNJIT_CPU_AMX)
    const bool pfv = Lin || w.near_v;
    for (int h = 0; h < nh; ++h) {
      bool moved = false;
      for (int r = 0; r < RPI; ++r) moved = moved || row_value(w.cv, h, r) != 1.f;
      if (moved)
        for (int r = 0; r < RPI; ++r) {
          const float c = row_value(w.cv, h, r);
          for (int v = 0; v < NVD; ++v) w.acc[h][r][v] *= c;
        }
      for (int j0 = 0; j0 < n; j0 += 32) {
        amx::ProbTranspose<RPI>::run((const amx::F16x*)&w.st[h][0][j0 / QJ], (amx::U16x*)&w.pa[0][0]);
        for (int i = 0; i < 16; ++i) {
          const int j = j0 + 2 * i;
          const unsigned short* va = (const unsigned short*)vrow(w, j, h, n);
          const unsigned short* vb = (const unsigned short*)vrow(w, j + 1, h, n);
          for (int sg = 0; sg < NS; ++sg) {
            if (pfv)  // one line of each row, pd keys ahead
              for (int jj = j; jj < j + 2 && jj < n; ++jj) prefetch_ahead<Lin>(w.vl, w.va[jj] + h * w.vs, sg * SEG, (sg + 1) * SEG);
            const U xa = Bf16Pairs::raw(va + sg * SEG), xb = Bf16Pairs::raw(vb + sg * SEG);
            const U ev = unpack_pairs<0>(xa, xb), od = unpack_pairs<1>(xa, xb);
            __builtin_memcpy(&w.vt[sg][0][i][0], &ev, sizeof(U));
            __builtin_memcpy(&w.vt[sg][1][i][0], &od, sizeof(U));
          }
        }
        amx::load<4>(&w.pa[0][0], 64);
        for (int sg = 0; sg < NS; ++sg)
          for (int hh = 0; hh < 2; ++hh) {
            amx::load<3>(&w.acc[h][0][2 * sg + hh], D * 4);
            amx::load<5>(&w.vt[sg][hh][0][0], 64);
            amx::dot_bf16<3, 4, 5>();
            amx::store<3>(&w.acc[h][0][2 * sg + hh], D * 4);
          }
      }
    }
#else
    (void)w, (void)nh, (void)n;
#endif
  }

  // Keys per P.V chunk for V rows stride_bytes apart: as many as the L1 sets the chunk's lines
  // fall into allow. Longer chunks load and store the accumulators less often, but a tile reads
  // the same column of every row of its chunk, and rows 4 KiB apart share a set. So JC (8) rows
  // when they all do, up to 32 when the stride spreads them over more sets (bf16 GQA 8, 32k: with
  // 4 KV heads the rows are 1 KiB apart, four sets per column, and 32 keys took P.V from 36 to
  // 29-31 TSC cycles per key and head, +9% streaming; with 8 KV heads, 2 KiB apart, 16 keys ran 9%
  // faster than 8 and 32 keys 12% slower; bench/RESULTS.md, round 14). With several row tiles
  // (PR < RPI) the later tiles reuse the first one's lines, and JC keys keep them in L1. Only
  // with kQuadQk's tiles: with the others (TreeSum, kBcastQk) longer chunks gained nothing, and
  // 16 keys cost f32 GQA 8 and bf16 GQA 4 4-13%.
  static int pv_chunk(long long stride_bytes) {
    constexpr int lines = PS * SEG * (int)sizeof(TK) / 64 < 1 ? 1 : PS * SEG * (int)sizeof(TK) / 64;  // per row per tile
    if (!kQuadQk || PR < RPI || stride_bytes <= 0) return JC;
    const long long low = stride_bytes & -stride_bytes;  // 4 KiB / low sets per column
    const int sets = low >= 4096 ? 1 : (int)(4096 / low);
    int jc = JC;
    while (jc < 32 && jc * 2 <= BN && jc * 2 * lines <= 8 * sets) jc *= 2;
    return jc;
  }

  // With a user mask_mod: whether any of the item's rows sees any key of block [j0, j0 + n) (its
  // built-in range and the mask_mod, with user_mods_block's indices), stopping at the first that
  // does. A block nobody sees is skipped before its rows are read: a decode step reads every key
  // once, so a sparse mask_mod (a document mask over packed sequences, a local window written as
  // a snippet) saves the reads themselves. A visible block usually costs one call.
  static bool block_visible(const DecodeParams& p, const Work& w, int nh, long long b, int h0, int chunk,
                            long long j0, int n) {
    const auto mods = decode_variants::user_mods<C>(p);
    for (int r = 0; r < RPI; ++r) {
      const int gr = chunk * RPI + r;
      if (gr >= ROWS) break;
      const long long first = w.row_lo[r] > j0 ? w.row_lo[r] : j0;
      const long long last = w.row_hi[r] < j0 + n - 1 ? w.row_hi[r] : j0 + n - 1;
      for (long long j = first; j <= last; ++j)
        for (int h = 0; h < nh; ++h)
          if (mods.mask_mod((int)b, (h0 + h) * G + gr % G, gr / G, (int)j)) return true;
    }
    return false;
  }

  static void process(const DecodeParams& p, long long item, Work& w) {
    const int groups = (p.heads_kv + HPI - 1) / HPI;
    const int split = (int)(item % p.num_splits);
    long long rest = item / p.num_splits;
    const int chunk = (int)(rest % p.row_chunks);
    rest /= p.row_chunks;
    const int hg = (int)(rest % groups);
    const long long b = rest / groups;
    const int h0 = hg * HPI, nh = p.heads_kv - h0 < HPI ? p.heads_kv - h0 : HPI;
    float qscale[HPI];
    for (int h = 0; h < nh; ++h) {
      qscale[h] = p.scale_log2;
      w.vscale[h] = 1.f;
      if constexpr (KV != 0) {
        qscale[h] *= p.k_scale[(h0 + h) * p.kv_scale_stride];
        w.vscale[h] = p.v_scale[(h0 + h) * p.kv_scale_stride];
      }
    }
    long long L = p.seqlens_k ? p.seqlens_k[b] : p.seqlen_k;
    L = L < 0 ? 0 : L > p.seqlen_k ? p.seqlen_k : L;  // see DecodeParams::seqlen_k

    // Query rows of this chunk: row r -> global row chunk * RPI + r = token * G + head-in-group.
    for (int h = 0; h < nh; ++h)
      for (int rt = 0; rt < NRT; ++rt) {
        w.mv[h][rt] = kNegInf;
        w.lv[h][rt] = 0.f;
      }
    for (int r = 0; r < RPI; ++r) {
      const int gr = chunk * RPI + r;
      const int t = gr / G;
      const long long pos = L - QT + t;  // bottom-right aligned position of this query token
      if (gr >= ROWS) {
        w.row_lo[r] = 1;
        w.row_hi[r] = 0;
      } else {
        decode_variants::row_keys<C>(pos, L, w.row_lo[r], w.row_hi[r]);  // the shared mask policy
      }
      for (int h = 0; h < nh; ++h) {
        for (int v = 0; v < NVD; ++v) w.acc[h][r][v] = 0.f;
        if (gr >= ROWS) {
          if constexpr (kBcastQk || kQuadQk || kAmx) {
            for (int u = 0; u < D / EPU; ++u) put_query(w, h, r, u, 0.f, 0u);
            continue;
          }
          for (int v = 0; v < NVD; ++v) w.q[h][r][v] = 0.f;
          if constexpr (kPairDot)
            for (int sg = 0; sg < NS; ++sg) w.qb[h][r][sg] = 0u;
          continue;
        }
        const int hq = (h0 + h) * G + gr % G;
        const T* qp = (const T*)p.q + b * p.q_batch_stride + t * p.q_row_stride + hq * p.q_head_stride;
        if constexpr (kBcastQk || kQuadQk || kAmx) {  // raw units: f32 elements, or bf16 pairs
          for (int u = 0; u < D / EPU; ++u) {
            unsigned pair = 0;
            if constexpr (kPairDot) {
              __builtin_memcpy(&pair, qp + 2 * u, sizeof(pair));
              put_query(w, h, r, u, 0.f, pair);
            } else {
              put_query(w, h, r, u, (float)qp[u] * qscale[h], 0u);
            }
          }
          continue;
        }
        for (int sg = 0; sg < NS; ++sg) {
          Pairs::load(qp + sg * SEG, w.q[h][r][2 * sg], w.q[h][r][2 * sg + 1]);
          w.q[h][r][2 * sg] *= qscale[h];
          w.q[h][r][2 * sg + 1] *= qscale[h];
          if constexpr (kPairDot) w.qb[h][r][sg] = Bf16Pairs::raw((const unsigned short*)qp + sg * SEG);
        }
      }
    }

    // This split's keys: blocks of BN keys in [lo, L) dealt out in equal runs (as on the GPU).
    const long long lo = decode_variants::first_key<C>(L);
    const long long nblocks = L > lo ? (L - lo + BN - 1) / BN : 0;
    const long long per_split = (nblocks + p.num_splits - 1) / p.num_splits;
    const long long blk_begin = split * per_split;
    const long long blk_end = blk_begin + per_split < nblocks ? blk_begin + per_split : nblocks;
    const long long kv_begin = lo + blk_begin * BN;
    const long long kv_end = lo + blk_end * BN < L ? lo + blk_end * BN : L;

    const int* table = P ? p.block_table + b * p.block_table_stride : nullptr;
    w.ks = p.k_head_stride;
    w.vs = p.v_head_stride;
    // Rows [j0, j0 + count) at the item's first head.
    auto rows = [&](long long j0, int count, const TK** kr, const TK** vr) {
      for (int jj = 0; jj < count; ++jj) {
        const long long j = j0 + jj;
        long long ko, vo;
        if (P > 0) {
          const long long page = table[j / P], row = j % P;
          ko = page * p.k_batch_stride + row * p.k_row_stride;
          vo = page * p.v_batch_stride + row * p.v_row_stride;
        } else {
          ko = b * p.k_batch_stride + j * p.k_row_stride;
          vo = b * p.v_batch_stride + j * p.v_row_stride;
        }
        kr[jj] = (const TK*)p.k + ko + h0 * p.k_head_stride;
        vr[jj] = (const TK*)p.v + vo + h0 * p.v_head_stride;
      }
    };
    auto count = [&](long long j0) { return kv_end - j0 < BN ? (int)(kv_end - j0) : BN; };
    const int row_bytes = nh * D * (int)sizeof(TK);  // one key's K (or V) row over the item's heads
    // Prefetch distance: kPrefetchHeadRows head rows of work ahead (in keys, at most a block), 4x
    // that for rows of 8 KiB and more (MHA's many heads per item: little arithmetic per byte, so
    // the same work ahead is less time ahead; Zen 4, f32 MHA streaming +10%, GQA 4-8 -2..-5%),
    // or kLongRowAhead bytes there where the prelude sets it (codegen: Intel hosts, 64 KiB; on an
    // Emerald Rapids VM f32 MHA streamed 14.4-15.1 GB/s 256 KiB ahead, 17.0-17.2 64 KiB ahead,
    // bf16 MHA 16.1-16.5 at 128 KiB, 16.3-16.6 at 64, 15.4-15.7 at 32).
    constexpr int kLongAhead = long_row_ahead_<C>(0);
    w.pd = kLongAhead > 0 && row_bytes >= kLongRowBytes ? (kLongAhead + row_bytes - 1) / row_bytes
                                                        : (kPrefetchHeadRows * (row_bytes >= kLongRowBytes ? 4 : 1) + nh - 1) / nh;
    w.pd = w.pd > BN ? BN : w.pd;
    w.near_v = row_bytes != kPrimeMaxRowBytes;
    w.prime_bytes = row_bytes <= kPrimeMaxRowBytes ? row_bytes : 0;
    w.klast = w.vlast = ~0ull;
    w.jc = pv_chunk(p.v_row_stride * (long long)sizeof(TK));
    if (kv_begin < kv_end) {
      rows(kv_begin, count(kv_begin), w.kp, w.vp);
      for (int jj = 0; jj < w.pd && jj < count(kv_begin); ++jj) {  // the rows nothing prefetches ahead of
        prefetch_row(w.kp[jj], w.ks, nh);
        prefetch_row(w.vp[jj], w.vs, nh);
      }
    }
    for (long long j0 = kv_begin; j0 < kv_end; j0 += BN) {
      const int n = count(j0);
      w.nn = j0 + BN < kv_end ? count(j0 + BN) : 0;
      rows(j0 + BN, w.nn, w.kn, w.vn);
      for (int jj = 0; jj < n; ++jj) {
        const int t = jj + w.pd;
        const int u = t < n ? t : t - n < w.nn ? t - n : -1;
        w.ka[jj] = t < n ? w.kp[t] : u >= 0 ? w.kn[u] : w.nn > 0 ? w.kn[w.nn - 1] : w.kp[n - 1];
        w.va[jj] = t < n ? w.vp[t] : u >= 0 ? w.vn[u] : w.nn > 0 ? w.vn[w.nn - 1] : w.vp[n - 1];
      }
      if constexpr (variants::mods_of<C>::kMaskMod)
        if (!block_visible(p, w, nh, b, h0, chunk, j0, n)) {  // nothing to read
          for (int jj = 0; jj < w.nn; ++jj) {
            w.kp[jj] = w.kn[jj];
            w.vp[jj] = w.vn[jj];
          }
          continue;
        }
      const bool lin = kMayLinear && linear_rows(w, nh, n);
      w.kl = (const char*)w.ka[0];
      w.vl = (const char*)w.va[0];
      ATTNJIT_DECODE_CPU_MARK(0, 0);
      if (lin) scores<kMayLinear>(p, w, nh, n);
      else scores<false>(p, w, nh, n);
      ATTNJIT_DECODE_CPU_MARK(1, 0);
      [[maybe_unused]] auto at = [&w](int h, int r, int j) -> float& { return score(w, h, r, j); };  // variants' view
      if constexpr (variants::has_alibi<C>()) add_alibi_block<G, QT, RPI>(p, at, nh, b, h0, chunk, L, j0, n);
      if constexpr (decode_variants::has_user_mods<C>())
        user_mods_block<G, QT, RPI>(decode_variants::user_mods<C>(p), at, w.row_lo, w.row_hi, nh, b, h0, chunk, j0, n);
      softmax(w, nh, j0, n);
      ATTNJIT_DECODE_CPU_MARK(2, 0);
      if (lin) accumulate<kMayLinear>(w, nh, n);
      else accumulate<false>(w, nh, n);
      ATTNJIT_DECODE_CPU_MARK(3, (long long)n * nh);
      for (int jj = 0; jj < w.nn; ++jj) {
        w.kp[jj] = w.kn[jj];
        w.vp[jj] = w.vn[jj];
      }
    }

    if (p.num_splits == 1) {
      for (int h = 0; h < nh; ++h)
        for (int r = 0; r < RPI && chunk * RPI + r < ROWS; ++r) {
          const float l = row_value(w.lv, h, r), inv = l > 0.f ? w.vscale[h] / l : 0.f;
          store_row(p, b, h0 + h, chunk * RPI + r, w.acc[h][r], inv,
                    l > 0.f ? (double)row_value(w.mv, h, r) + slog2((double)l) : -__builtin_huge_val());
        }
      return;
    }
    // Partials per (sequence, KV head, chunk) slot; one counter per item group (its first slot).
    auto slot = [&](int h) { return (b * p.heads_kv + h0 + h) * p.row_chunks + chunk; };
    for (int h = 0; h < nh; ++h) {
      float* po = p.partial_o + (slot(h) * p.num_splits + split) * RPI * D;
      float* pl = p.partial_lse + (slot(h) * p.num_splits + split) * RPI;
      for (int r = 0; r < RPI; ++r) {
        const float l = row_value(w.lv, h, r), inv = l > 0.f ? w.vscale[h] / l : 0.f;
        for (int v = 0; v < NVD; ++v) store_f(po + r * D + v * V, w.acc[h][r][v] * inv);
        pl[r] = l > 0.f ? (float)((double)row_value(w.mv, h, r) + slog2((double)l)) : kNegInf;
      }
    }
    // Release our partials; the last split to arrive acquires everyone's.
    int* counter = p.counters + slot(0);
    if (__atomic_fetch_add(counter, 1, __ATOMIC_ACQ_REL) != p.num_splits - 1) return;
    __atomic_store_n(counter, 0, __ATOMIC_RELAXED);  // reset for the next call
    for (int h = 0; h < nh; ++h) {
      const float* ao = p.partial_o + slot(h) * p.num_splits * RPI * D;
      const float* al = p.partial_lse + slot(h) * p.num_splits * RPI;
      for (int r = 0; r < RPI && chunk * RPI + r < ROWS; ++r) {
        float mx = kNegInf;
        for (int s = 0; s < p.num_splits; ++s) mx = al[s * RPI + r] > mx ? al[s * RPI + r] : mx;
        const float mu = mx == kNegInf ? 0.f : mx;
        float sum = 0.f;
        F o[NVD];
        for (int v = 0; v < NVD; ++v) o[v] = 0.f;
        for (int s = 0; s < p.num_splits; ++s) {
          const float wt = exp2s(al[s * RPI + r] - mu);
          if (wt == 0.f) continue;  // empty split
          sum += wt;
          for (int v = 0; v < NVD; ++v) o[v] += wt * load_f(ao + (s * RPI + r) * D + v * V);
        }
        const float inv = sum > 0.f ? 1.f / sum : 0.f;
        store_row(p, b, h0 + h, chunk * RPI + r, o, inv,
                  sum > 0.f ? (double)mu + slog2((double)sum) : -__builtin_huge_val());
      }
    }
  }

  // Writes query row gr (token * G + head-in-group) of KV head kvh: O = acc * inv in element
  // order, LSE from log2.
  static void store_row(const DecodeParams& p, long long b, int kvh, int gr, const F* acc, float inv,
                        double lse2) {
    const int t = gr / G, h = kvh * G + gr % G;
    if constexpr (variants::has_sink<C>()) fold_sink_row(p, h, lse2, inv);  // once, on the final row
    T* op = (T*)p.o + b * p.o_batch_stride + t * p.o_row_stride + h * p.o_head_stride;
    for (int sg = 0; sg < NS; ++sg)
      for (int hh = 0; hh < 2; ++hh) {
        const F o = acc[2 * sg + hh] * inv;
        for (int e = 0; e < V; ++e) op[sg * SEG + pv_element(hh, e)] = S::store(o[e]);
      }
    if (p.lse)
      p.lse[b * p.lse_batch_stride + h * p.lse_head_stride + t] = (float)(lse2 * 0.6931471805599453);
  }
};

}  // namespace attnjit::cpu
