// CPU decode: the algorithm of decode/sm80.cuh (split-KV online softmax + in-launch combine) for
// the CPU backend, JIT-compiled by clang with no system headers (runtime/cpu/).
//
// Work split: one work item = (sequence b, KV head, row chunk, split), item index
//   ((b * heads_kv + kvh) * row_chunks + chunk) * num_splits + split,
// so the splits of one slot are adjacent and a thread's range tends to own whole slots. The host
// calls the entry on ranges of items from several threads. An item streams its split's keys in
// blocks of kBlockN: each key row is converted to fp32 once and used by all kRowsPerItem query
// rows of the chunk (the GQA heads times the query tokens), so K and V are read once per KV head.
// Head-dim vectors of kVec lanes carry the dot products and the P.V accumulation.
//
// Splits and combine as on the GPU: with num_splits > 1 each item stores its normalized partial
// O and log2 sum-exp, then increments the slot's counter (acq_rel); the item that sees
// num_splits - 1 merges the partials with weights exp2(lse_i - lse_max), writes O and LSE, and
// resets the counter to 0. Split boundaries are the GPU's (blocks of kBlockN from the first key
// any row can see), so both backends compute the same partials for the same config.
//
// Numerics: fp32, scores pre-scaled by scale * log2(e), exp2; the LSE's log in double. A row
// with no visible key stores O = 0, LSE = -inf.
//
// The prelude defines a policy struct with kHeadDim, kGroup, kQTokens, kRowsPerItem, kBlockN,
// kVec, kStorage (StorageKind), kPageSize (0 = contiguous), kMask (DecodeMask), kWindowLeft,
// kWindowRight.
#pragma once

#include "common/cpu_vec.h"
#include "decode/params.h"

namespace attnjit::cpu {

enum DecodeMask { kDecodeMaskNone = 0, kDecodeMaskCausal = 1, kDecodeMaskWindow = 2 };

template <class C>
struct DecodeCpu {
  static constexpr int D = C::kHeadDim, G = C::kGroup, QT = C::kQTokens, ROWS = G * QT;
  static constexpr int RPI = C::kRowsPerItem, BN = C::kBlockN, V = C::kVec, P = C::kPageSize;
  static constexpr int NVD = D / V;  // vectors per head-dim row
  static_assert(D % V == 0, "head dim must be a multiple of the vector width");
  static_assert(BN % V == 0, "block_n must be a multiple of the vector width");
  static_assert(P == 0 || (P & (P - 1)) == 0, "page size must be a power of two");

  typedef typename Vec<V>::F F;
  typedef typename Vec<V>::I I;
  typedef Storage_<C::kStorage> S;
  typedef typename S::T T;
  static constexpr float kNegInf = -__builtin_huge_valf();

  struct alignas(64) Work {
    F q[RPI][NVD];    // query rows, scaled by scale * log2(e)
    F acc[RPI][NVD];  // unnormalized output rows
    F kb[BN][NVD];    // the block's key rows in fp32
    F vb[BN][NVD];    // the block's value rows in fp32
    alignas(64) float s[BN];
    float m[RPI], l[RPI];
    long long row_lo[RPI], row_hi[RPI];  // visible keys [lo, hi]; empty when lo > hi
  };

  static F load_vec(const T* p) {
    F v;
    for (int e = 0; e < V; ++e) v[e] = S::load(p[e]);
    return v;
  }
  static float hsum(F v) {
    float s = 0.f;
    for (int e = 0; e < V; ++e) s += v[e];
    return s;
  }
  static float exp2s(float x) {
    F v = x;
    return vexp2<F, I>(v)[0];
  }

  static void run(const DecodeParams& p, long long begin, long long end) {
    Work w;
    for (long long item = begin; item < end; ++item) process(p, item, w);
  }

  static void process(const DecodeParams& p, long long item, Work& w) {
    const int split = (int)(item % p.num_splits);
    long long rest = item / p.num_splits;
    const int chunk = (int)(rest % p.row_chunks);
    rest /= p.row_chunks;
    const int kvh = (int)(rest % p.heads_kv);
    const long long b = rest / p.heads_kv;
    long long L = p.seqlens_k ? p.seqlens_k[b] : p.seqlen_k;
    L = L < 0 ? 0 : L > p.seqlen_k ? p.seqlen_k : L;  // see DecodeParams::seqlen_k

    // Query rows of this chunk: row r -> global row chunk * RPI + r = token * G + head-in-group.
    for (int r = 0; r < RPI; ++r) {
      const int gr = chunk * RPI + r;
      w.m[r] = kNegInf;
      w.l[r] = 0.f;
      for (int v = 0; v < NVD; ++v) w.acc[r][v] = 0.f;
      if (gr >= ROWS) {
        for (int v = 0; v < NVD; ++v) w.q[r][v] = 0.f;
        w.row_lo[r] = 1;
        w.row_hi[r] = 0;
        continue;
      }
      const int t = gr / G, h = kvh * G + gr % G;
      const T* qp = (const T*)p.q + b * p.q_batch_stride + t * p.q_row_stride + h * p.q_head_stride;
      for (int v = 0; v < NVD; ++v) w.q[r][v] = load_vec(qp + v * V) * p.scale_log2;
      const long long pos = L - QT + t;  // bottom-right aligned position of this query token
      if (C::kMask == kDecodeMaskCausal) {
        w.row_lo[r] = 0;
        w.row_hi[r] = pos;
      } else if (C::kMask == kDecodeMaskWindow) {
        const long long lo = pos - C::kWindowLeft, hi = pos + C::kWindowRight;
        w.row_lo[r] = lo < 0 ? 0 : lo;
        w.row_hi[r] = hi > L - 1 ? L - 1 : hi;
      } else {
        w.row_lo[r] = 0;
        w.row_hi[r] = L - 1;
      }
    }

    // This split's keys: blocks of BN keys in [lo, L) dealt out in equal runs (as on the GPU).
    long long lo = 0;
    if (C::kMask == kDecodeMaskWindow) {
      const long long w0 = L - QT - C::kWindowLeft;
      lo = w0 > 0 ? w0 : 0;
    }
    const long long nblocks = L > lo ? (L - lo + BN - 1) / BN : 0;
    const long long per_split = (nblocks + p.num_splits - 1) / p.num_splits;
    const long long blk_begin = split * per_split;
    const long long blk_end = blk_begin + per_split < nblocks ? blk_begin + per_split : nblocks;
    const long long kv_begin = lo + blk_begin * BN;
    const long long kv_end = lo + blk_end * BN < L ? lo + blk_end * BN : L;

    const int* table = P ? p.block_table + b * p.block_table_stride : nullptr;
    for (long long j0 = kv_begin; j0 < kv_end; j0 += BN) {
      const int n = kv_end - j0 < BN ? (int)(kv_end - j0) : BN;
      for (int jj = 0; jj < n; ++jj) {
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
        const T* kr = (const T*)p.k + ko + kvh * p.k_head_stride;
        const T* vr = (const T*)p.v + vo + kvh * p.v_head_stride;
        for (int v = 0; v < NVD; ++v) {
          w.kb[jj][v] = load_vec(kr + v * V);
          w.vb[jj][v] = load_vec(vr + v * V);
        }
      }
      for (int r = 0; r < RPI; ++r) {
        if (w.row_lo[r] > w.row_hi[r] || j0 > w.row_hi[r] || j0 + n <= w.row_lo[r]) continue;
        float mx = w.m[r];
        for (int jj = 0; jj < BN; ++jj) {
          const long long j = j0 + jj;
          float sc = kNegInf;
          if (jj < n && j >= w.row_lo[r] && j <= w.row_hi[r]) {
            F d = w.q[r][0] * w.kb[jj][0];
            for (int v = 1; v < NVD; ++v) d += w.q[r][v] * w.kb[jj][v];
            sc = hsum(d);
          }
          w.s[jj] = sc;
          mx = sc > mx ? sc : mx;
        }
        const float mu = mx == kNegInf ? 0.f : mx;
        const float corr = exp2s(w.m[r] - mu);
        F sum = 0.f;
        for (int jj = 0; jj < BN; jj += V) {
          F sv;
          __builtin_memcpy(&sv, &w.s[jj], sizeof(F));
          sv = vexp2<F, I>(sv - mu);
          __builtin_memcpy(&w.s[jj], &sv, sizeof(F));
          sum += sv;
        }
        w.l[r] = w.l[r] * corr + hsum(sum);
        w.m[r] = mx;
        for (int v = 0; v < NVD; ++v) w.acc[r][v] *= corr;
        for (int jj = 0; jj < n; ++jj) {
          const float pj = w.s[jj];
          if (pj == 0.f) continue;  // masked (or underflowed) key
          for (int v = 0; v < NVD; ++v) w.acc[r][v] += pj * w.vb[jj][v];
        }
      }
    }

    const long long slot = ((b * p.heads_kv + kvh) * p.row_chunks + chunk);
    if (p.num_splits == 1) {
      for (int r = 0; r < RPI; ++r) {
        if (chunk * RPI + r >= ROWS) break;
        const float inv = w.l[r] > 0.f ? 1.f / w.l[r] : 0.f;
        store_row(p, b, kvh, chunk * RPI + r, w.acc[r], inv,
                  w.l[r] > 0.f ? (double)w.m[r] + slog2((double)w.l[r]) : -__builtin_huge_val());
      }
      return;
    }
    float* po = p.partial_o + (slot * p.num_splits + split) * RPI * D;
    float* pl = p.partial_lse + (slot * p.num_splits + split) * RPI;
    for (int r = 0; r < RPI; ++r) {
      const float inv = w.l[r] > 0.f ? 1.f / w.l[r] : 0.f;
      for (int v = 0; v < NVD; ++v) {
        F o = w.acc[r][v] * inv;
        __builtin_memcpy(po + r * D + v * V, &o, sizeof(F));
      }
      pl[r] = w.l[r] > 0.f ? (float)((double)w.m[r] + slog2((double)w.l[r])) : kNegInf;
    }
    // Release our partials; the last split to arrive acquires everyone's.
    if (__atomic_fetch_add(p.counters + slot, 1, __ATOMIC_ACQ_REL) != p.num_splits - 1) return;
    __atomic_store_n(p.counters + slot, 0, __ATOMIC_RELAXED);  // reset for the next call
    const float* ao = p.partial_o + slot * p.num_splits * RPI * D;
    const float* al = p.partial_lse + slot * p.num_splits * RPI;
    for (int r = 0; r < RPI; ++r) {
      if (chunk * RPI + r >= ROWS) break;
      float mx = kNegInf;
      for (int s = 0; s < p.num_splits; ++s) mx = al[s * RPI + r] > mx ? al[s * RPI + r] : mx;
      const float mu = mx == kNegInf ? 0.f : mx;
      float sum = 0.f;
      for (int v = 0; v < NVD; ++v) w.acc[r][v] = 0.f;
      for (int s = 0; s < p.num_splits; ++s) {
        const float wt = exp2s(al[s * RPI + r] - mu);
        if (wt == 0.f) continue;  // empty split
        sum += wt;
        for (int v = 0; v < NVD; ++v) {
          F o;
          __builtin_memcpy(&o, ao + (s * RPI + r) * D + v * V, sizeof(F));
          w.acc[r][v] += wt * o;
        }
      }
      const float inv = sum > 0.f ? 1.f / sum : 0.f;
      store_row(p, b, kvh, chunk * RPI + r, w.acc[r], inv,
                sum > 0.f ? (double)mu + slog2((double)sum) : -__builtin_huge_val());
    }
  }

  // Writes query row gr (token * G + head-in-group) of KV head kvh: O = acc * inv, LSE from log2.
  static void store_row(const DecodeParams& p, long long b, int kvh, int gr, const F* acc, float inv,
                        double lse2) {
    const int t = gr / G, h = kvh * G + gr % G;
    T* op = (T*)p.o + b * p.o_batch_stride + t * p.o_row_stride + h * p.o_head_stride;
    for (int v = 0; v < NVD; ++v) {
      const F o = acc[v] * inv;
      for (int e = 0; e < V; ++e) op[v * V + e] = S::store(o[e]);
    }
    if (p.lse)
      p.lse[b * p.lse_batch_stride + h * p.lse_head_stride + t] = (float)(lse2 * 0.6931471805599453);
  }
};

}  // namespace attnjit::cpu
