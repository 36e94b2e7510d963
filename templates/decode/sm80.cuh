// Decode attention for sm_80 and newer: 1..16 query tokens per sequence against a long KV cache
// (contiguous or paged), split-KV ("flash-decoding") with the combine done in the same launch.
//
// Work decomposition. grid = (num_splits * row_chunks, heads_kv, batch). One CTA owns one KV head
// of one sequence, one contiguous range of its KV blocks (its split) and up to kRowsPerCta query
// rows — the group's query heads times the query tokens, so K and V are read once for all of
// them (GQA). Inside the CTA a "lane group" of kHeadDim / 8 threads handles one key at a time,
// each thread owning 8 consecutive head-dim elements (one 16-byte load); a warp holds
// 32 / (kHeadDim / 8) lane groups and the CTA kGroups = warps * that many. Every lane group runs
// its own online softmax over its keys, so the main loop needs no barrier at all; the groups
// are merged once at the end (shuffles within a warp, shared memory across warps).
//
// Loads. Each thread cp.async's its own 16-byte K and V chunks into a kStages-deep ring in shared
// memory and later reads back exactly those bytes, so cp.async.wait_group alone orders the
// pipeline (no __syncthreads): kStages - 1 blocks of kBlockN keys stay in flight while one is
// computed. Keys past the split's end are zero-filled (cp.async src-size 0), so a masked key
// never multiplies a stale or NaN value.
//
// Combine. With num_splits > 1 every CTA writes its normalized partial O and its log2 sum-exp to
// the workspace, then "last block done": __threadfence, one atomicAdd on the slot's counter; the
// CTA that sees num_splits - 1 merges all partials exactly (weights exp2(lse_i - lse_max)),
// writes O and LSE, and resets the counter to 0 for the next call. With num_splits == 1 the CTA
// writes O directly.
//
// Numerics: fp32 accumulation, scores pre-scaled by scale * log2(e) and exponentiated with exp2.
// A row with no visible key (empty sequence, window before the start) gives O = 0, LSE = -inf:
// the running max stays -inf and is replaced by 0 before any subtraction, so -inf - (-inf) never
// happens.
//
// Host-free and include-free: NVRTC compiles it with no include paths; 16-bit values are
// `unsigned short` bit patterns converted with inline PTX.
#pragma once

#include "common/fp8.h"
#include "common/variants.h"
#include "decode/params.h"
#include "decode/variants.h"

namespace attnjit {
namespace decode {

// Element tags: the kernel's 16-bit storage type.
struct F16 {
  static constexpr bool kIsBf16 = false;
};
struct Bf16 {
  static constexpr bool kIsBf16 = true;
};

enum MaskMode { kMaskNone = 0, kMaskCausal = 1, kMaskWindow = 2 };

// The variant's logits transform on a score in log2 units (u = log2 e: q is pre-scaled by
// scale * log2 e); the identity, and no instruction, without soft-capping.
template <class C>
__device__ __forceinline__ float score_mod(float s) {
  if constexpr (variants::softcap_of<C>() > 0.f) {
    const auto cap = variants::SoftCap<float>::make(variants::softcap_of<C>(), 1.4426950408889634f);
    return cap(s, [](float x) { return tanhf(x); });
  } else {
    return s;
  }
}

// Largest num_splits the in-kernel combine supports (its weights live in shared memory).
constexpr int kMaxSplits = 128;

// -inf (NVRTC has no host math headers, hence the bit pattern).
__device__ __forceinline__ float neg_inf() { return __uint_as_float(0xff800000u); }

// The inline-PTX helpers below. tests/decode/decode_emu_test.cpp runs this kernel on the CPU
// emulator (tests/emu) and supplies emulated helpers with the same signatures instead.
#ifndef ATTNJIT_DECODE_EMULATED_PTX

__device__ __forceinline__ unsigned smem_u32(const void* p) {
  unsigned addr;
  asm volatile("{ .reg .u64 a; cvta.to.shared.u64 a, %1; cvt.u32.u64 %0, a; }\n"
               : "=r"(addr)
               : "l"(p));
  return addr;
}

// 16-byte global -> shared copy; src_bytes = 0 writes 16 zero bytes and reads nothing.
__device__ __forceinline__ void cp_async_16(void* smem, const void* gmem, bool valid) {
  const int src_bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(smem)), "l"(gmem),
               "r"(src_bytes)
               : "memory");
}
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// Read-only 16-byte global load (Q).
__device__ __forceinline__ uint4 ldg_nc_v4(const void* p) {
  uint4 r;
  asm volatile("ld.global.nc.v4.u32 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
               : "l"(p));
  return r;
}
// Loads that bypass L1 (.cg): the combine reads partials other CTAs wrote during this launch.
__device__ __forceinline__ float4 ldcg_v4(const float* p) {
  float4 r;
  asm volatile("ld.global.cg.v4.f32 {%0, %1, %2, %3}, [%4];\n"
               : "=f"(r.x), "=f"(r.y), "=f"(r.z), "=f"(r.w)
               : "l"(p));
  return r;
}
__device__ __forceinline__ float ldcg_f32(const float* p) {
  float r;
  asm volatile("ld.global.cg.f32 %0, [%1];\n" : "=f"(r) : "l"(p));
  return r;
}

__device__ __forceinline__ float fast_exp2(float x) {  // exp2(-inf) = +0
  float r;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(r) : "f"(x));
  return r;
}
__device__ __forceinline__ float fast_log2(float x) {
  float r;
  asm("lg2.approx.ftz.f32 %0, %1;\n" : "=f"(r) : "f"(x));
  return r;
}

// Two packed 16-bit values (low half first) -> two floats.
template <class T>
__device__ __forceinline__ void unpack2(unsigned u, float& lo, float& hi) {
  if constexpr (T::kIsBf16) {
    lo = __uint_as_float(u << 16);
    hi = __uint_as_float(u & 0xffff0000u);
  } else {
    asm("{ .reg .f16 l, h; mov.b32 {l, h}, %2; cvt.f32.f16 %0, l; cvt.f32.f16 %1, h; }\n"
        : "=f"(lo), "=f"(hi)
        : "r"(u));
  }
}
template <class T>
__device__ __forceinline__ void unpack8(const uint4& u, float (&f)[8]) {
  unpack2<T>(u.x, f[0], f[1]);
  unpack2<T>(u.y, f[2], f[3]);
  unpack2<T>(u.z, f[4], f[5]);
  unpack2<T>(u.w, f[6], f[7]);
}
// Two floats -> packed 16-bit pair (lo in the low half), round to nearest even.
template <class T>
__device__ __forceinline__ unsigned pack2(float lo, float hi) {
  unsigned r;
  if constexpr (T::kIsBf16) {
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
  } else {
    asm("cvt.rn.f16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
  }
  return r;
}

#endif  // ATTNJIT_DECODE_EMULATED_PTX

// Merges online-softmax state (m2, l2, acc2) into (m, l, acc); m in log2 units.
template <int N>
__device__ __forceinline__ void merge_state(float& m, float& l, float (&acc)[N], float m2, float l2,
                                            const float (&acc2)[N]) {
  const float mx = fmaxf(m, m2);
  const float mu = mx == neg_inf() ? 0.f : mx;
  const float c1 = fast_exp2(m - mu), c2 = fast_exp2(m2 - mu);
  l = l * c1 + l2 * c2;
#pragma unroll
  for (int e = 0; e < N; ++e) acc[e] = acc[e] * c1 + acc2[e] * c2;
  m = mx;
}

// A split's share of the L keys: the blocks of kBlock keys in [first, L) are dealt out in equal
// runs, blocks [blk_begin, blk_end) here; keys before the earliest window start are invisible
// to every row (before the mask policy's first key) and skipped entirely. kv_end bounds the keys
// this split may read.
struct SplitRange {
  int first, blk_begin, blk_end, kv_end;
};
template <class C, int kBlock>
__device__ __forceinline__ SplitRange split_range(const DecodeParams& p, int L, int split) {
  SplitRange r;
  r.first = decode_variants::first_key<C>(L);
  const int nblocks = L > r.first ? (L - r.first + kBlock - 1) / kBlock : 0;
  const int per_split = (nblocks + p.num_splits - 1) / p.num_splits;
  r.blk_begin = split * per_split;
  r.blk_end = min(nblocks, r.blk_begin + per_split);
  r.kv_end = min(L, r.first + r.blk_end * kBlock);
  return r;
}

// With a user mask_mod: whether any of the CTA's R query rows (rows chunk * R.. of KV head kvh,
// each within its built-in key range) sees a key of [kv_begin, kv_end), by a CTA-wide vote
// through *s_flag (finish_cta's s_last, free until then). A split that no row sees then reads
// nothing and leaves the empty partial an empty split leaves (O = 0, LSE = -inf): a sparse
// snippet (a few sink keys and a recent window; documents) skips the reads of the splits it hides.
// Each thread asks about every blockDim-th key of each row until one is visible. Kernels without
// a mask_mod never call it (their code is unchanged).
template <class C, int R, class Mods>
__device__ __forceinline__ bool cta_sees_keys(const Mods& mods, int b, int kvh, int chunk, int L, int kv_begin,
                                              int kv_end, int* s_flag) {
  constexpr int G = C::kGroup, QT = C::kQTokens;
  bool found = false;
  for (int r = 0; r < R && !found; ++r) {
    const int gr = chunk * R + r;
    if (gr >= G * QT) break;
    int lo, hi;
    decode_variants::row_keys<C>(L - QT + gr / G, L, lo, hi);
    const int first = max(lo, kv_begin), last = min(hi, kv_end - 1);
    for (int j = first + (int)threadIdx.x; j <= last && !found; j += (int)blockDim.x)
      found = mods.mask_mod(b, kvh * G + gr % G, gr / G, j);
  }
  if (threadIdx.x == 0) *s_flag = 0;
  __syncthreads();
  if (found) *s_flag = 1;  // every writer writes 1
  __syncthreads();
  const bool any = *s_flag != 0;
  __syncthreads();  // before finish_cta reuses *s_flag
  return any;
}

// Element offsets of key j's row of KV head kvh in the K and V caches of sequence b: contiguous
// (batch, seq, heads, dim) or paged (physical page from the sequence's block table).
template <class C>
__device__ __forceinline__ void kv_row_offsets(const DecodeParams& p, const int* table, int b, int kvh, int j,
                                               long long& ko, long long& vo) {
  constexpr int P = C::kPageSize;
  if constexpr (P > 0) {
    const long long page = table[j / P];
    const long long row = j % P;
    ko = page * p.k_batch_stride + row * p.k_row_stride;
    vo = page * p.v_batch_stride + row * p.v_row_stride;
  } else {
    ko = b * p.k_batch_stride + static_cast<long long>(j) * p.k_row_stride;
    vo = b * p.v_batch_stride + static_cast<long long>(j) * p.v_row_stride;
  }
  ko += kvh * p.k_head_stride;
  vo += kvh * p.v_head_stride;
}

// The same for a paged cache whose physical page (the block-table entry of key j) and row in
// it (j % page size) the caller already holds.
__device__ __forceinline__ void kv_page_row_offsets(const DecodeParams& p, long long page, long long row, int kvh,
                                                    long long& ko, long long& vo) {
  ko = page * p.k_batch_stride + row * p.k_row_stride + kvh * p.k_head_stride;
  vo = page * p.v_batch_stride + row * p.v_row_stride + kvh * p.v_head_stride;
}

// Sinks (decode/variants.h), folded where a row's final LSE is known: the single-split epilogue
// (O scaled) and the split combine (the weights' normalisation scaled). No-ops without sinks.
template <class C>
__device__ __forceinline__ void fold_sink(const DecodeParams& p, int hq, float& lse2, float4& o) {
  if constexpr (variants::has_sink<C>()) {
    float f = 1.f;
    decode_variants::fold_sink_log2<true>(p, hq, lse2, f, [](float x) { return fast_exp2(x); },
                                          [](float x) { return fast_log2(x); });
    o = make_float4(o.x * f, o.y * f, o.z * f, o.w * f);
  }
}
template <class C>
__device__ __forceinline__ float fold_sink_combine(const DecodeParams& p, int hq, float mu, float sum, float& inv) {
  float lse2 = sum > 0.f ? mu + fast_log2(sum) : neg_inf();
  decode_variants::fold_sink_log2<variants::has_sink<C>()>(p, hq, lse2, inv, [](float x) { return fast_exp2(x); },
                                                           [](float x) { return fast_log2(x); });
  return lse2;
}

// The exact combine of n partials (normalized O [i][RPC][D] and log2 LSE [i][RPC], i < n, in the
// workspace): the final combine of a slot, or of one group of its splits (finish_cta). It runs
// in one CTA at the launch's tail, reading up to n * rows * D * 4 bytes from L2, so it is written
// for loads in flight, not for instruction count: a row's LSEs are read from L2 once (staged in
// s_w), and each thread's weighted sum over the partials issues kUnroll independent 16-byte
// loads before it uses any (branch-free, so they share a basic block; written as loads feeding
// the sums in order, NVVM keeps the main loop's invariants hoisted — with the loads held in an
// array first it rematerialised them inside the K/V loop, +140 PTX instructions a step; tried
// since: two outputs' loads at once put address arithmetic back into the K/V loop, all of a
// row's LSEs at once made the scalar kernel spill);
// when the rows x D / 4 outputs are fewer than the CTA's threads (1-8 rows), the partials are
// dealt to several threads per output and their sums added in shared memory. (A loop with one
// dependent L2 round trip per split and output took most of the 47 us batch-1 GQA 8 x 32k spent
// over its K/V time on the H200 at f309fac.)
//   scratch    W * 32 float4 of shared memory free to reuse (the merge buffer)
//   s_w        [RPC][kMaxSplits] weights
//   row_done   (r, mu, sum, lead) -> the factor the row's weights are scaled by (1 / sum, sinks
//              folded in); called by every lane of the row's warp, lead (lane 0) stores its LSE
//   store      (r, d, float4) the row's final outputs d .. d + 3
template <class C, int RPC, class Store, class RowDone>
__device__ __forceinline__ void combine_splits(const float* all_o, const float* all_lse, int n, float* scratch,
                                               float* s_w, int rows_here, Store store, RowDone row_done) {
  constexpr int D = C::kHeadDim;
  constexpr int T = C::kWarps * 32;
  constexpr int kUnroll = 8;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int r = warp; r < rows_here; r += C::kWarps) {
    // The LSEs are read from L2 once (staged in s_w), then weighed from shared memory.
    float mx = neg_inf();
    for (int sp = lane; sp < n; sp += 32) {
      const float v = ldcg_f32(all_lse + sp * RPC + r);
      s_w[r * kMaxSplits + sp] = v;
      mx = fmaxf(mx, v);
    }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
    const float mu = mx == neg_inf() ? 0.f : mx;
    float sum = 0.f;
    for (int sp = lane; sp < n; sp += 32) {  // each lane rereads only what it wrote: no barrier
      const float w = fast_exp2(s_w[r * kMaxSplits + sp] - mu);  // exp2(-inf) = 0: empty splits weigh nothing
      s_w[r * kMaxSplits + sp] = w;
      sum += w;
    }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
    const float inv = row_done(r, mu, sum, lane == 0);
    for (int sp = lane; sp < n; sp += 32) s_w[r * kMaxSplits + sp] *= inv;
  }
  __syncthreads();
  const long long step = static_cast<long long>(RPC) * D;  // floats between two partials
  // Branch-free (an empty or negligible split's weight is 0: its term is dropped, not
  // multiplied, so a stale partial never matters), so the unrolled loads can all be in flight.
  auto add = [](float4& o, float4 a, float w) {
    const bool on = w != 0.f;
    o.x += on ? a.x * w : 0.f;
    o.y += on ? a.y * w : 0.f;
    o.z += on ? a.z * w : 0.f;
    o.w += on ? a.w * w : 0.f;
  };
  const int items = rows_here * (D / 4);
  if (items >= T) {
    for (int u = threadIdx.x; u < items; u += T) {
      const int r = u / (D / 4), d = (u % (D / 4)) * 4;
      const float* const src = all_o + r * D + d;
      const float* const wr = s_w + r * kMaxSplits;
      float4 o = make_float4(0.f, 0.f, 0.f, 0.f);
      int sp = 0;
      for (; sp + kUnroll <= n; sp += kUnroll) {
#pragma unroll
        for (int k = 0; k < kUnroll; ++k) add(o, ldcg_v4(src + (sp + k) * step), wr[sp + k]);
      }
      for (; sp < n; ++sp) add(o, ldcg_v4(src + sp * step), wr[sp]);
      store(r, d, o);
    }
    return;
  }
  const int parts = T / items;  // threads per output
  for (int u = threadIdx.x; u < parts * items; u += T) {
    const int item = u % items, part = u / items;
    const int r = item / (D / 4), d = (item % (D / 4)) * 4;
    const float* const src = all_o + r * D + d;
    const float* const wr = s_w + r * kMaxSplits;
    float4 o = make_float4(0.f, 0.f, 0.f, 0.f);
    int sp = part;
    for (; sp + (kUnroll - 1) * parts < n; sp += kUnroll * parts) {
#pragma unroll
      for (int k = 0; k < kUnroll; ++k) add(o, ldcg_v4(src + (sp + k * parts) * step), wr[sp + k * parts]);
    }
    for (; sp < n; sp += parts) add(o, ldcg_v4(src + sp * step), wr[sp]);
    reinterpret_cast<float4*>(scratch)[u] = o;
  }
  __syncthreads();
  for (int item = threadIdx.x; item < items; item += T) {
    float4 o = reinterpret_cast<const float4*>(scratch)[item];
    for (int part = 1; part < parts; ++part) {
      const float4 a = reinterpret_cast<const float4*>(scratch)[part * items + item];
      o = make_float4(o.x + a.x, o.y + a.y, o.z + a.z, o.w + a.w);
    }
    store(item / (D / 4), (item % (D / 4)) * 4, o);
  }
}

// The end of every decode CTA, shared by the scalar and the tensor-core kernels. The caller has
// left each warp's online-softmax state in shared memory — unnormalized O in smerge [W][RPC][D]
// (fp32), max and sum (log2 units) in s_m / s_l [W][RPC] — followed by __syncthreads(). Merges
// the warps, then writes O and LSE (one split) or this split's partials and, in the last CTA of
// the slot to finish ("last block done"), the exact combine of all splits.
template <class C, int RPC>
__device__ __forceinline__ void finish_cta(const DecodeParams& p, float* smerge, const float* s_m,
                                           const float* s_l, float* s_w, int* s_last) {
  using T = typename C::Elem;
  // The CTA's coordinates, read again here rather than kept from the CTA's start: live across
  // the K/V loop they cost registers it needs (a spill at 168 registers on sm_80).
  const int chunk = blockIdx.x % p.row_chunks, split = blockIdx.x / p.row_chunks;
  const int kvh = blockIdx.y, b = blockIdx.z;
  constexpr int D = C::kHeadDim;
  constexpr int G = C::kGroup;
  constexpr int ROWS = G * C::kQTokens;
  constexpr int W = C::kWarps;

  const int slot = (b * p.heads_kv + kvh) * p.row_chunks + chunk;
  const bool direct = p.num_splits == 1;
  // Rows of this chunk that are real (the tensor-core kernel pads a group of 8 to 16): padding
  // rows are neither merged, written to the partials nor combined.
  const int rows_here = min(RPC, ROWS - chunk * RPC);
  // Two-level combine: splits in groups of p.combine_group (see the end of this function). The
  // tensor-core kernel only (RPC 16): in the scalar kernel (rows <= 8, 48-56 registers) its code
  // made ptxas spill, and its combines are small (decode_combine_group gives it 0).
  constexpr bool kTwoLevels = RPC >= 16;
  const int group = kTwoLevels ? p.combine_group : 0;
  const int ngroups = group > 0 && group < p.num_splits ? (p.num_splits + group - 1) / group : 0;
  const long long entries = p.num_splits + ngroups;  // partials per slot
  float* const slot_o = p.partial_o + static_cast<long long>(slot) * entries * RPC * D;
  float* const slot_lse = p.partial_lse + static_cast<long long>(slot) * entries * RPC;
  float* const part_o = slot_o + static_cast<long long>(split) * RPC * D;
  float* const part_lse = slot_lse + split * RPC;

  // Writes 4 consecutive outputs of CTA row r at head-dim offset d.
  auto store_out = [&](int r, int d, float4 o) {
    const int gr = chunk * RPC + r;
    const int t = gr / G, h = kvh * G + gr % G;
    unsigned short* op = static_cast<unsigned short*>(p.o) + b * p.o_batch_stride +
                         t * p.o_row_stride + h * p.o_head_stride + d;
    *reinterpret_cast<uint2*>(op) = make_uint2(pack2<T>(o.x, o.y), pack2<T>(o.z, o.w));
  };
  auto store_lse = [&](int r, float lse2) {
    const int gr = chunk * RPC + r;
    const int t = gr / G, h = kvh * G + gr % G;
    if (p.lse) p.lse[b * p.lse_batch_stride + h * p.lse_head_stride + t] = lse2 * 0.69314718055994531f;
  };

  // An fp8 cache's V scale multiplies O (P V is linear in V); 1 and no instruction otherwise.
  float v_scale = 1.f;
  if constexpr (fp8::kind_of<C>() != fp8::kNone) v_scale = p.v_scale[kvh * p.kv_scale_stride];
  for (int idx = threadIdx.x; idx < rows_here * (D / 4); idx += W * 32) {
    const int r = idx / (D / 4), d = (idx % (D / 4)) * 4;
    float mx = neg_inf();
#pragma unroll
    for (int w = 0; w < W; ++w) mx = fmaxf(mx, s_m[w * RPC + r]);
    const float mu = mx == neg_inf() ? 0.f : mx;
    float lsum = 0.f;
    float4 o = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
    for (int w = 0; w < W; ++w) {
      const float c = fast_exp2(s_m[w * RPC + r] - mu);
      lsum += s_l[w * RPC + r] * c;
      const float4 a = *reinterpret_cast<const float4*>(smerge + (w * RPC + r) * D + d);
      o.x += a.x * c;
      o.y += a.y * c;
      o.z += a.z * c;
      o.w += a.w * c;
    }
    const float inv = lsum > 0.f ? v_scale / lsum : 0.f;
    o = make_float4(o.x * inv, o.y * inv, o.z * inv, o.w * inv);
    float lse2 = lsum > 0.f ? mu + fast_log2(lsum) : neg_inf();
    if (direct) {
      fold_sink<C>(p, kvh * G + (chunk * RPC + r) % G, lse2, o);
      store_out(r, d, o);
      if (d == 0) store_lse(r, lse2);
    } else {
      *reinterpret_cast<float4*>(part_o + r * D + d) = o;
      if (d == 0) part_lse[r] = lse2;
    }
  }
  if (direct) return;

  // ---- last block done. One level: the slot's last split to finish combines all partials.
  // Two levels (ngroups > 0, many splits of several rows, GPU only): the last split of each
  // group to finish combines the group's partials into entry num_splits + g while other splits
  // still stream, and the last group to finish combines the groups. The launch's tail then reads
  // about group + ngroups partials in one CTA instead of num_splits (66 splits of 8 rows: 17
  // instead of 66, 68 KiB instead of 270 KiB from L2).
  const int n_slots = p.batch * p.heads_kv * p.row_chunks;
  __threadfence();  // this CTA's partials are visible device-wide before a counter moves
  __syncthreads();
  const int g = ngroups > 0 ? split / group : 0;
  const int first = g * group, members = ngroups > 0 ? min(group, p.num_splits - first) : p.num_splits;
  int* const counter = ngroups > 0 ? p.counters + n_slots + static_cast<long long>(slot) * ngroups + g
                                   : p.counters + slot;
  if (threadIdx.x == 0) *s_last = atomicAdd(counter, 1) == members - 1;
  __syncthreads();
  if (!*s_last) return;
  __threadfence();  // order the counter observation before reading the other splits' partials
  if (threadIdx.x == 0) *counter = 0;  // every member has counted: reset for the next call

  // One combine_splits in the code for both levels (two inlined copies raised the register
  // pressure of the whole kernel: spills at 168 registers on sm_80): a first pass over the
  // group's splits into its entry, then, in the slot's last group, a final pass over the groups.
  bool last_level = ngroups == 0;
  int base = ngroups > 0 ? first : 0, n = members;
  float* const go = slot_o + static_cast<long long>(p.num_splits + g) * RPC * D;
  float* const gl = slot_lse + (p.num_splits + g) * RPC;
#pragma unroll 1
  for (;;) {
    combine_splits<C, RPC>(
        slot_o + static_cast<long long>(base) * RPC * D, slot_lse + base * RPC, n, smerge, s_w, rows_here,
        [&](int r, int d, float4 o) {
          if (last_level) store_out(r, d, o);
          else *reinterpret_cast<float4*>(go + r * D + d) = o;
        },
        [&](int r, float mu, float sum, bool lead) {
          float inv = sum > 0.f ? 1.f / sum : 0.f;
          float lse2 = sum > 0.f ? mu + fast_log2(sum) : neg_inf();
          if constexpr (variants::has_sink<C>())  // the sink joins the final combine only
            if (last_level) lse2 = fold_sink_combine<C>(p, kvh * G + (chunk * RPC + r) % G, mu, sum, inv);
          if (lead) {
            if (last_level) store_lse(r, lse2);
            else gl[r] = lse2;
          }
          return inv;
        });
    if (last_level) return;
    __threadfence();  // the group's combine is visible before the slot's counter moves
    __syncthreads();
    if (threadIdx.x == 0) *s_last = atomicAdd(p.counters + slot, 1) == ngroups - 1;
    __syncthreads();
    if (!*s_last) return;
    __threadfence();
    if (threadIdx.x == 0) p.counters[slot] = 0;
    last_level = true;
    base = p.num_splits;
    n = ngroups;
  }
}

// Config (rendered by codegen/decode/sm80.cpp as a small struct in the prelude):
//   Elem         F16 | Bf16
//   kHeadDim     32, 64, 128, 256
//   kGroup       query heads per KV head;  kQTokens: query tokens per sequence (1..16)
//   kRowsPerCta  query rows (group head x token) per CTA, <= 8 (registers: 16 floats per row)
//   kWarps, kBlockN (keys per pipeline stage), kStages (stages in the cp.async ring)
//   kPageSize    0 = contiguous, else the page size (power of two)
//   kMask        MaskMode; kWindowLeft / kWindowRight for kMaskWindow (common/mask_policy.h maps
//                them to the shared mask policy)
//   optionally kSoftcap, kAlibi, kSink (decode/variants.h: the launch passes DecodeVariantParams)
//   and `using UserMods` (user score_mod / mask_mod: the launch passes DecodeModParams)
template <class C>
__global__ void __launch_bounds__(C::kWarps * 32) decode_kernel(const DecodeParams p) {
#include "decode/sm80_cta.cuh"
}
// Kernels built with ALiBi or sinks take their tensors after DecodeParams (decode/variants.h).
template <class C>
__global__ void __launch_bounds__(C::kWarps * 32) decode_variant_kernel(const DecodeVariantParams p) {
#include "decode/sm80_cta.cuh"
}
// Kernels built with a user score_mod / mask_mod take the aux tensors after those (and read
// ALiBi slopes / sinks from the same block when they have them).
template <class C>
__global__ void __launch_bounds__(C::kWarps * 32) decode_mods_kernel(const decode_variants::DecodeModParams p) {
#include "decode/sm80_cta.cuh"
}

}  // namespace decode
}  // namespace attnjit
