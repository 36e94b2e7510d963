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

// Keys [lo, hi] that a query token at (bottom-right aligned) position pos sees among L keys;
// empty when lo > hi.
template <class C>
__device__ __forceinline__ void visible_keys(int pos, int L, int& lo, int& hi) {
  if constexpr (C::kMask == kMaskCausal) {
    lo = 0;
    hi = pos;
  } else if constexpr (C::kMask == kMaskWindow) {
    const long long l = static_cast<long long>(pos) - C::kWindowLeft;
    const long long h = static_cast<long long>(pos) + C::kWindowRight;
    lo = l < 0 ? 0 : static_cast<int>(l);
    hi = h > L - 1 ? L - 1 : static_cast<int>(h);
  } else {
    lo = 0;
    hi = L - 1;
  }
}

// A split's share of the L keys: the blocks of kBlock keys in [first, L) are dealt out in equal
// runs, blocks [blk_begin, blk_end) here; keys before the earliest window start are invisible
// to every row and skipped entirely. kv_end bounds the keys this split may read.
struct SplitRange {
  int first, blk_begin, blk_end, kv_end;
};
template <class C, int kBlock>
__device__ __forceinline__ SplitRange split_range(const DecodeParams& p, int L, int split) {
  SplitRange r;
  r.first = 0;
  if constexpr (C::kMask == kMaskWindow) {
    const long long w0 = static_cast<long long>(L) - C::kQTokens - C::kWindowLeft;
    r.first = w0 > 0 ? static_cast<int>(w0) : 0;
  }
  const int nblocks = L > r.first ? (L - r.first + kBlock - 1) / kBlock : 0;
  const int per_split = (nblocks + p.num_splits - 1) / p.num_splits;
  r.blk_begin = split * per_split;
  r.blk_end = min(nblocks, r.blk_begin + per_split);
  r.kv_end = min(L, r.first + r.blk_end * kBlock);
  return r;
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

// The end of every decode CTA, shared by the scalar and the tensor-core kernels. The caller has
// left each warp's online-softmax state in shared memory — unnormalized O in smerge [W][RPC][D]
// (fp32), max and sum (log2 units) in s_m / s_l [W][RPC] — followed by __syncthreads(). Merges
// the warps, then writes O and LSE (one split) or this split's partials and, in the last CTA of
// the slot to finish ("last block done"), the exact combine of all splits.
template <class C, int RPC>
__device__ __forceinline__ void finish_cta(const DecodeParams& p, const float* smerge, const float* s_m,
                                           const float* s_l, float* s_w, int* s_last, int chunk,
                                           int split, int kvh, int b) {
  using T = typename C::Elem;
  constexpr int D = C::kHeadDim;
  constexpr int G = C::kGroup;
  constexpr int ROWS = G * C::kQTokens;
  constexpr int W = C::kWarps;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;

  const int slot = (b * p.heads_kv + kvh) * p.row_chunks + chunk;
  const bool direct = p.num_splits == 1;
  float* const part_o = p.partial_o + (static_cast<long long>(slot) * p.num_splits + split) * RPC * D;
  float* const part_lse = p.partial_lse + (static_cast<long long>(slot) * p.num_splits + split) * RPC;

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
  for (int idx = threadIdx.x; idx < RPC * (D / 4); idx += W * 32) {
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
    const float lse2 = lsum > 0.f ? mu + fast_log2(lsum) : neg_inf();
    if (direct) {
      if (chunk * RPC + r < ROWS) {
        store_out(r, d, o);
        if (d == 0) store_lse(r, lse2);
      }
    } else {
      *reinterpret_cast<float4*>(part_o + r * D + d) = o;
      if (d == 0) part_lse[r] = lse2;
    }
  }
  if (direct) return;

  // ---- last block done: the final split to finish merges all partials of this slot.
  __threadfence();  // this CTA's partials are visible device-wide before the counter moves
  __syncthreads();
  if (threadIdx.x == 0) {
    const int done = atomicAdd(p.counters + slot, 1);
    *s_last = done == p.num_splits - 1;
  }
  __syncthreads();
  if (!*s_last) return;
  __threadfence();  // order the counter observation before reading the other splits' partials
  if (threadIdx.x == 0) p.counters[slot] = 0;  // every split has counted: reset for the next call

  const float* const all_o = p.partial_o + static_cast<long long>(slot) * p.num_splits * RPC * D;
  const float* const all_lse = p.partial_lse + static_cast<long long>(slot) * p.num_splits * RPC;
  for (int r = warp; r < RPC; r += W) {
    float mx = neg_inf();
    for (int s = lane; s < p.num_splits; s += 32) mx = fmaxf(mx, ldcg_f32(all_lse + s * RPC + r));
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
    const float mu = mx == neg_inf() ? 0.f : mx;
    float sum = 0.f;
    for (int s = lane; s < p.num_splits; s += 32) {
      const float w = fast_exp2(ldcg_f32(all_lse + s * RPC + r) - mu);
      s_w[r * kMaxSplits + s] = w;
      sum += w;
    }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
    const float inv = sum > 0.f ? 1.f / sum : 0.f;
    for (int s = lane; s < p.num_splits; s += 32) s_w[r * kMaxSplits + s] *= inv;
    if (lane == 0 && chunk * RPC + r < ROWS) store_lse(r, sum > 0.f ? mu + fast_log2(sum) : neg_inf());
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < RPC * (D / 4); idx += W * 32) {
    const int r = idx / (D / 4), d = (idx % (D / 4)) * 4;
    if (chunk * RPC + r >= ROWS) continue;
    float4 o = make_float4(0.f, 0.f, 0.f, 0.f);
    for (int s = 0; s < p.num_splits; ++s) {
      const float w = s_w[r * kMaxSplits + s];
      if (w == 0.f) continue;  // empty split (or negligible): skip its reads
      const float4 a = ldcg_v4(all_o + (s * RPC + r) * D + d);
      o.x += a.x * w;
      o.y += a.y * w;
      o.z += a.z * w;
      o.w += a.w * w;
    }
    store_out(r, d, o);
  }
}

// Config (rendered by codegen/decode/sm80.cpp as a small struct in the prelude):
//   Elem         F16 | Bf16
//   kHeadDim     32, 64, 128, 256
//   kGroup       query heads per KV head;  kQTokens: query tokens per sequence (1..16)
//   kRowsPerCta  query rows (group head x token) per CTA, <= 8 (registers: 16 floats per row)
//   kWarps, kBlockN (keys per pipeline stage), kStages (stages in the cp.async ring)
//   kPageSize    0 = contiguous, else the page size (power of two)
//   kMask        MaskMode; kWindowLeft / kWindowRight for kMaskWindow
template <class C>
__global__ void __launch_bounds__(C::kWarps * 32) decode_kernel(const DecodeParams p) {
  using T = typename C::Elem;
  constexpr int D = C::kHeadDim;
  constexpr int G = C::kGroup;
  constexpr int QT = C::kQTokens;
  constexpr int ROWS = G * QT;
  constexpr int RPC = C::kRowsPerCta;
  constexpr int W = C::kWarps;
  constexpr int BN = C::kBlockN;
  constexpr int S = C::kStages;
  constexpr int P = C::kPageSize;
  constexpr int VEC = 8;             // elements per 16-byte chunk
  constexpr int TX = D / VEC;        // threads per key (a lane group)
  constexpr int TY = 32 / TX;        // lane groups per warp
  constexpr int NG = W * TY;         // lane groups per CTA
  constexpr int KPG = BN / NG;       // keys per lane group per stage
  static_assert(D % VEC == 0 && TX <= 32 && 32 % TX == 0, "head dim must be 8 * a divisor of 32");
  static_assert(BN % NG == 0 && KPG >= 1, "block_n must be a multiple of the lane groups per CTA");
  static_assert(S >= 1 && RPC >= 1 && RPC <= 8, "bad stages / rows per CTA");
  static_assert(P == 0 || (P & (P - 1)) == 0, "page size must be a power of two");

  // All shared memory is dynamic (sized by codegen's decode_sm80 dynamic_smem):
  //   [0, kRegion)  the K and V rings [S][KPG][NG][D] (slot (i, g) holds the i-th key of lane
  //                 group g), reused after the main loop for the cross-warp merge [W][RPC][D] fp32
  //   then          s_m, s_l [W][RPC] (per-warp max / sum), s_w [RPC][kMaxSplits] (combine
  //                 weights), s_last (this CTA combines).
  constexpr int kRing = 2 * S * BN * D * 2, kMerge = W * RPC * D * 4;
  constexpr int kRegion = kRing > kMerge ? kRing : kMerge;
  extern __shared__ uint4 smem_v4[];
  unsigned char* const smem_bytes = reinterpret_cast<unsigned char*>(smem_v4);
  unsigned short* const sk = reinterpret_cast<unsigned short*>(smem_bytes);
  unsigned short* const sv = sk + S * BN * D;
  float* const smerge = reinterpret_cast<float*>(smem_bytes);
  float* const s_m = reinterpret_cast<float*>(smem_bytes + kRegion);  // [W][RPC]
  float* const s_l = s_m + W * RPC;                                    // [W][RPC]
  float* const s_w = s_l + W * RPC;                                    // [RPC][kMaxSplits]
  int* const s_last = reinterpret_cast<int*>(s_w + RPC * kMaxSplits);

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int tx = lane % TX, ty = lane / TX, grp = warp * TY + ty;
  const int chunk = blockIdx.x % p.row_chunks, split = blockIdx.x / p.row_chunks;
  const int kvh = blockIdx.y, b = blockIdx.z;
  const int L = p.seqlens_k ? max(0, min(p.seqlens_k[b], p.seqlen_k)) : p.seqlen_k;

  // ---- query rows of this CTA: row r -> global row chunk * RPC + r = token * G + head-in-group
  float q[RPC][VEC];
  int row_lo[RPC], row_hi[RPC];  // visible keys [row_lo, row_hi] (empty when lo > hi)
#pragma unroll
  for (int r = 0; r < RPC; ++r) {
    const int gr = chunk * RPC + r;
    const int t = gr / G, h = kvh * G + gr % G;
    if (gr < ROWS) {
      const unsigned short* qp = static_cast<const unsigned short*>(p.q) + b * p.q_batch_stride +
                                 t * p.q_row_stride + h * p.q_head_stride + tx * VEC;
      float f[VEC];
      unpack8<T>(ldg_nc_v4(qp), f);
#pragma unroll
      for (int e = 0; e < VEC; ++e) q[r][e] = f[e] * p.scale_log2;
      visible_keys<C>(L - QT + t, L, row_lo[r], row_hi[r]);  // bottom-right aligned position
    } else {
#pragma unroll
      for (int e = 0; e < VEC; ++e) q[r][e] = 0.f;
      row_lo[r] = 1;
      row_hi[r] = 0;
    }
  }

  // ---- this split's keys, in CTA steps of kBlockN
  const SplitRange range = split_range<C, BN>(p, L, split);
  const int nsteps = range.blk_end > range.blk_begin ? range.blk_end - range.blk_begin : 0;
  const int kv_begin = range.first + range.blk_begin * BN;
  const int kv_end = range.kv_end;

  const unsigned short* const kg = static_cast<const unsigned short*>(p.k);
  const unsigned short* const vg = static_cast<const unsigned short*>(p.v);
  const int* const table = P ? p.block_table + b * p.block_table_stride : nullptr;

  // Issues the cp.async's of pipeline step `step` into ring stage step % S, then commits the group.
  auto issue = [&](int step) {
    const int stage = step % S;
#pragma unroll
    for (int i = 0; i < KPG; ++i) {
      const int j = kv_begin + step * BN + i * NG + grp;
      const bool ok = j < kv_end;
      long long ko = 0, vo = 0;
      if (ok) {
        kv_row_offsets<C>(p, table, b, kvh, j, ko, vo);
        ko += tx * VEC;
        vo += tx * VEC;
      }
      const int slot = ((stage * KPG + i) * NG + grp) * D + tx * VEC;
      cp_async_16(sk + slot, kg + ko, ok);
      cp_async_16(sv + slot, vg + vo, ok);
    }
    cp_async_commit();
  };

  float m[RPC], l[RPC], acc[RPC][VEC];
#pragma unroll
  for (int r = 0; r < RPC; ++r) {
    m[r] = neg_inf();
    l[r] = 0.f;
#pragma unroll
    for (int e = 0; e < VEC; ++e) acc[r][e] = 0.f;
  }

#pragma unroll
  for (int st = 0; st < S - 1; ++st) {
    if (st < nsteps) issue(st);
    else cp_async_commit();  // keep the group count uniform for wait_group
  }

  for (int step = 0; step < nsteps; ++step) {
    // Refill the stage consumed in the previous step (its reads completed: their values fed
    // that step's FMAs) with step + S - 1, keeping S - 1 blocks in flight during the compute.
    if (step + S - 1 < nsteps) issue(step + S - 1);
    else cp_async_commit();
    cp_async_wait<S - 1>();
    const int stage = step % S;

    float s[RPC][KPG];
#pragma unroll
    for (int i = 0; i < KPG; ++i) {
      float kf[VEC];
      unpack8<T>(*reinterpret_cast<const uint4*>(sk + ((stage * KPG + i) * NG + grp) * D + tx * VEC),
                 kf);
#pragma unroll
      for (int r = 0; r < RPC; ++r) {
        float d = 0.f;
#pragma unroll
        for (int e = 0; e < VEC; ++e) d = fmaf(q[r][e], kf[e], d);
        s[r][i] = d;
      }
    }
    // Sum the partial dot products over the lane group (TX lanes, aligned): all lanes get it.
#pragma unroll
    for (int off = TX / 2; off > 0; off >>= 1)
#pragma unroll
      for (int r = 0; r < RPC; ++r)
#pragma unroll
        for (int i = 0; i < KPG; ++i) s[r][i] += __shfl_xor_sync(0xffffffffu, s[r][i], off);

#pragma unroll
    for (int r = 0; r < RPC; ++r) {
      float mx = m[r];
#pragma unroll
      for (int i = 0; i < KPG; ++i) {
        const int j = kv_begin + step * BN + i * NG + grp;
        s[r][i] = score_mod<C>(s[r][i]);
        if (j >= kv_end || j < row_lo[r] || j > row_hi[r]) s[r][i] = neg_inf();
        mx = fmaxf(mx, s[r][i]);
      }
      const float mu = mx == neg_inf() ? 0.f : mx;
      const float corr = fast_exp2(m[r] - mu);
      float sum = 0.f;
#pragma unroll
      for (int i = 0; i < KPG; ++i) {
        s[r][i] = fast_exp2(s[r][i] - mu);
        sum += s[r][i];
      }
      l[r] = l[r] * corr + sum;
#pragma unroll
      for (int e = 0; e < VEC; ++e) acc[r][e] *= corr;
      m[r] = mx;
    }
#pragma unroll
    for (int i = 0; i < KPG; ++i) {
      float vf[VEC];
      unpack8<T>(*reinterpret_cast<const uint4*>(sv + ((stage * KPG + i) * NG + grp) * D + tx * VEC),
                 vf);
#pragma unroll
      for (int r = 0; r < RPC; ++r)
#pragma unroll
        for (int e = 0; e < VEC; ++e) acc[r][e] = fmaf(s[r][i], vf[e], acc[r][e]);
    }
  }
  cp_async_wait<0>();

  // ---- merge the lane groups of a warp (same tx, other ty) by butterfly shuffles ...
#pragma unroll
  for (int off = TX; off < 32; off <<= 1) {
#pragma unroll
    for (int r = 0; r < RPC; ++r) {
      float acc2[VEC];
#pragma unroll
      for (int e = 0; e < VEC; ++e) acc2[e] = __shfl_xor_sync(0xffffffffu, acc[r][e], off);
      const float m2 = __shfl_xor_sync(0xffffffffu, m[r], off);
      const float l2 = __shfl_xor_sync(0xffffffffu, l[r], off);
      merge_state(m[r], l[r], acc[r], m2, l2, acc2);
    }
  }
  // ... then the warps through shared memory (the K/V ring is free now).
  __syncthreads();
  if (ty == 0) {
#pragma unroll
    for (int r = 0; r < RPC; ++r) {
      float4* dst = reinterpret_cast<float4*>(smerge + (warp * RPC + r) * D + tx * VEC);
      dst[0] = make_float4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]);
      dst[1] = make_float4(acc[r][4], acc[r][5], acc[r][6], acc[r][7]);
      if (tx == 0) {
        s_m[warp * RPC + r] = m[r];
        s_l[warp * RPC + r] = l[r];
      }
    }
  }
  __syncthreads();
  finish_cta<C, RPC>(p, smerge, s_m, s_l, s_w, s_last, chunk, split, kvh, b);
}

}  // namespace decode
}  // namespace attnjit
