// CPU prefill forward: FlashAttention-2's online softmax over block_m x block_n tiles, in fp32,
// vectorised with clang vector extensions and JIT-compiled per problem (runtime/cpu/).
//
// Layout inside a tile: query rows run along the SIMD lanes. Q is transposed once per work
// item into Qt[d][i] (scaled by scale*log2e), the scores are kept as St[j][i], the output as
// Ot[d][i]. Then Q.K^T and P.V are outer products of a broadcast K/V element with a vector of
// queries, the softmax row max / row sum are lane-wise, and no K or V tile is ever transposed
// (K/V elements are broadcast straight from their rows). Only the final store transposes.
//
// Work split: one work item = (batch, query head, block of block_m query rows); the host calls
// the entry on ranges of items from several threads (runtime/cpu/cpu_backend.h). Item index =
// (b * heads_q + h) * ceil(seqlen_q / block_m) + m_block; varlen (kVarlen): h * tiles + tile
// over the tile numbers of common/layout_varlen.h (at most one idle tile per sequence). Paged
// K/V (kPaged) are read row by row through the block table.
//
// Masks are bottom-right aligned (query i sits at key position i + seqlen_k - seqlen_q); key
// blocks that are fully masked for the whole query block are skipped, fully visible blocks run
// without per-element masking. A row with no visible key stores O = 0 and LSE = -inf.
//
// The prelude defines a policy struct with:
//   kHeadDim, kBlockM, kBlockN, kVec (lanes), kOrder (0: register-blocked micro-kernels,
//   1: streaming loop nests, 2: bf16 Q.K^T and P.V on AMX tiles, amx_scores / amx_accumulate),
//   kStorage (StorageKind), kMask (MaskType), kWindowLeft,
//   kWindowRight, kVarlen, kPaged, kEven (lengths are multiples of the tiles: bounds checks dropped when the
//   run-time lengths agree), kAccRegs (vector registers the micro-kernels may use for
//   accumulators); optionally kSoftcap, kAlibi, kSink (templates/common/variants*.h).
#pragma once

#include "prefill/params.h"
#include "common/cpu_amx.h"
#include "common/cpu_vec.h"
#include "common/layout_varlen.h"
#include "common/variants_alibi.h"
#include "common/variants_sink.h"
#include "common/variants_user.h"

namespace attnjit::cpu {

enum MaskType { kMaskNone = 0, kMaskCausal = 1, kMaskWindow = 2 };

// The shared mask policy (common/variants.h) of a config's kMask: the one definition of which
// keys a row sees, from which the key-block range and the per-block classification come.
template <int kMask, long long kLeft, long long kRight>
struct MaskPolicyOf {
  typedef variants::MaskNone T;
};
template <long long kLeft, long long kRight>
struct MaskPolicyOf<kMaskCausal, kLeft, kRight> {
  typedef variants::MaskCausal T;
};
template <long long kLeft, long long kRight>
struct MaskPolicyOf<kMaskWindow, kLeft, kRight> {
  typedef variants::MaskSlidingWindow<kLeft, kRight> T;
};

template <class C>
struct PrefillCpu {
  static constexpr int D = C::kHeadDim, BM = C::kBlockM, BN = C::kBlockN, V = C::kVec;
  static constexpr int NV = BM / V;  // query vectors per tile row
  static_assert(BM % V == 0, "block_m must be a multiple of the vector width");
  static_assert(NV <= C::kAccRegs, "a tile row of queries must fit the accumulator registers");
  // Register blocks: RJ keys (Q.K^T) or RD head-dim rows (P.V) times NV query vectors.
  static constexpr int RB = C::kAccRegs / NV < 1 ? 1 : C::kAccRegs / NV;
  static constexpr int RJ = RB > BN ? BN : RB;
  static constexpr int RD = RB > 16 ? 16 : RB;
  static_assert(BN % RJ == 0 && D % RD == 0, "register blocks must divide the tile");

  typedef layout::Layout<C::kVarlen, C::kPaged> L;
  typedef typename Vec<V>::F F;
  typedef typename Vec<V>::I I;
  typedef Storage_<C::kStorage> S;
  typedef typename S::T T;
  static constexpr bool kDirect = C::kStorage == kStoreF32;  // K/V rows used in place
  static constexpr bool kMaskMod = variants::mods_of<C>::kMaskMod;
  // kOrder 2: bf16 Q.K^T and P.V on AMX tiles, the softmax unchanged between them.
  static constexpr bool kAmx = C::kOrder == 2;
#if defined(ATTNJIT_CPU_AMX)
  static_assert(!kAmx || (C::kStorage == kStoreBF16 && V == 16 && D % 32 == 0 && BM % 16 == 0 && BN % 32 == 0),
                "kOrder 2 (AMX) needs bf16, 16 lanes, head dim and block_n multiples of 32, block_m of 16");
#else
  static_assert(!kAmx, "kOrder 2 (AMX) needs a target with amx-tile, amx-bf16 and avx512bf16");
#endif
  static constexpr int AD = kAmx ? D : 1, AM = kAmx ? BM : 1, AN = kAmx ? BN : 1;  // AMX buffers' sizes
  static constexpr bool kConvert = !kDirect && !kAmx;
  static constexpr bool kFoldScale = kAmx && variants::softcap_of<C>() == 0.f && !variants::has_alibi<C>() &&
                                     !variants::mods_of<C>::kScoreMod;

  struct alignas(64) Tiles {
    float qt[kAmx ? 1 : D][kAmx ? 1 : BM];  // Q^T, scaled by scale * log2(e)
    float ot[kAmx ? 1 : D][kAmx ? 1 : BM];  // O^T accumulator (unnormalised)
    alignas(64) float st[BN][BM];       // S^T, then P^T (aligned: qt and ot shrink with kOrder 2)
    alignas(64) float kv[kConvert ? 2 : 1][kConvert ? BN : 1][D];  // converted K and V rows (16-bit storage)
    alignas(64) float zero[D];          // stands in for key rows past seqlen_k
    unsigned char um[kMaskMod ? BN : 1][BM];  // a partial block's mask_mod (1 = visible)
    // kOrder 2: Q^T in bf16 pairs (qb[u][i] = elements 2u, 2u + 1 of row i: the B tiles of
    // Q.K^T), O (rows x head dim, unnormalised: the C tiles of P.V), the block's K rows in bf16
    // (zero past seqlen_k), its V rows in key pairs (vt[c][g][i][e] = keys 32c + 2i, + 1 at
    // element 16g + e: the B tiles of P.V) and P in bf16, row-major (the A tiles).
    alignas(64) unsigned qb[AD / 2 > 0 ? AD / 2 : 1][AM];
    alignas(64) float o[AM][AD];
    alignas(64) unsigned short kb[AN][AD];
    alignas(64) unsigned vt[AN / 32 > 0 ? AN / 32 : 1][AD / 16 > 0 ? AD / 16 : 1][16][16];
    alignas(64) unsigned short pa[AM / 16 > 0 ? AM / 16 : 1][AN / 32 > 0 ? AN / 32 : 1][16][32];
  };

  // A user mask_mod over a partial block, evaluated before its loads and arithmetic (into um,
  // applied to the scores by apply_user_mask). Returns the keys [jb, je) some row sees, in whole
  // register blocks of RJ keys (empty: jb >= je), so the kernel computes only those: a block no
  // row sees is skipped, as a block mask's empty tiles are, and the keys before and after the
  // visible ones are not computed. The block mask marks whole tiles (128 keys by FlexAttention's
  // default) partial; 8 ragged documents (1024 +- 37% tokens) in 8k: 0.82-0.84 of the pairs a
  // 128-tile block mask visits are visible, 0.90-0.91 of those in non-empty 64 x 64 blocks, and
  // 0.94-0.95 with the key span of each block (simulated; bench/block_sparse_cpu.cpp --ragged).
  template <class Mods>
  static void eval_mask_mod(const Mods& mods, Tiles& t, int keys, int rows, long long b, long long h, long long m0,
                            long long n0, int& jb, int& je) {
    int first = BN, last = -1;  // keys <= 0 (a block-sparse tile's block past seqlen_k): none
    for (int j = 0; j < keys; ++j) {
      unsigned char any = 0;
      for (int i = 0; i < rows; ++i) {
        const unsigned char vis = mods.mask_mod((int)b, (int)h, (int)(m0 + i), (int)(n0 + j)) ? 1 : 0;
        t.um[j][i] = vis;
        any |= vis;
      }
      if (any) {
        first = first < j ? first : j;
        last = j;
      }
    }
    jb = first / RJ * RJ;
    je = (last + RJ) / RJ * RJ;  // 0 when no key is visible
    je = je < BN ? je : BN;
  }
  // Scores of the keys and rows eval_mask_mod hid -> -inf (rows and keys past the block's ends are
  // the length mask's).
  static void apply_user_mask(Tiles& t, int keys, int rows) {
    for (int j = 0; j < keys; ++j)
      for (int i = 0; i < rows; ++i)
        if (!t.um[j][i]) t.st[j][i] = -__builtin_inff();
  }

  // Q.K^T for keys [jb, je) of one key block: st[j][i] = sum_d K[j][d] * qt[d][i]. kSpan = false:
  // the whole block, with the bounds constant.
  template <bool kSpan>
  static void scores(Tiles& t, const float* const* krow, int jb, int je) {
    if constexpr (!kSpan) {
      jb = 0;
      je = BN;
    }
    if constexpr (C::kOrder == 0) {
      for (int j0 = jb; j0 < je; j0 += RJ) {
        F acc[RJ][NV];
        for (int r = 0; r < RJ; ++r)
          for (int v = 0; v < NV; ++v) acc[r][v] = 0.f;
        for (int d = 0; d < D; ++d) {
          F q[NV];
          for (int v = 0; v < NV; ++v) q[v] = *(const F*)&t.qt[d][v * V];
          for (int r = 0; r < RJ; ++r) {
            F kb = krow[j0 + r][d];
            for (int v = 0; v < NV; ++v) acc[r][v] += kb * q[v];
          }
        }
        for (int r = 0; r < RJ; ++r)
          for (int v = 0; v < NV; ++v) *(F*)&t.st[j0 + r][v * V] = acc[r][v];
      }
    } else {
      for (int j = jb; j < je; ++j)
        for (int v = 0; v < NV; ++v) *(F*)&t.st[j][v * V] = 0.f;
      for (int d = 0; d < D; ++d)
        for (int j = jb; j < je; ++j) {
          F kb = krow[j][d];
          for (int v = 0; v < NV; ++v) *(F*)&t.st[j][v * V] += kb * *(const F*)&t.qt[d][v * V];
        }
    }
  }

  // ot[d][i] = ot[d][i] * alpha[i] + sum_j V[j][d] * st[j][i] over keys [jb, je) (kSpan as in scores).
  template <bool kSpan>
  static void accumulate(Tiles& t, const float* const* vrow, const F* alpha, int jb, int je) {
    if constexpr (!kSpan) {
      jb = 0;
      je = BN;
    }
    if constexpr (C::kOrder == 0) {
      for (int d0 = 0; d0 < D; d0 += RD) {
        F acc[RD][NV];
        for (int r = 0; r < RD; ++r)
          for (int v = 0; v < NV; ++v) acc[r][v] = *(const F*)&t.ot[d0 + r][v * V] * alpha[v];
        for (int j = jb; j < je; ++j) {
          F pv[NV];
          for (int v = 0; v < NV; ++v) pv[v] = *(const F*)&t.st[j][v * V];
          for (int r = 0; r < RD; ++r) {
            F vb = vrow[j][d0 + r];
            for (int v = 0; v < NV; ++v) acc[r][v] += vb * pv[v];
          }
        }
        for (int r = 0; r < RD; ++r)
          for (int v = 0; v < NV; ++v) *(F*)&t.ot[d0 + r][v * V] = acc[r][v];
      }
    } else {
      for (int d = 0; d < D; ++d)
        for (int v = 0; v < NV; ++v) *(F*)&t.ot[d][v * V] *= alpha[v];
      for (int j = jb; j < je; ++j)
        for (int d = 0; d < D; ++d) {
          F vb = vrow[j][d];
          for (int v = 0; v < NV; ++v) *(F*)&t.ot[d][v * V] += vb * *(const F*)&t.st[j][v * V];
        }
    }
  }

  // kOrder 2, Q.K^T: per 16 query rows and 64 keys, S^T = K . Q^T over the head dim in 32-dim
  // steps: four C tiles (0-3, 16 keys each) share the B tile of Q^T pairs (6, from qb) and take
  // their K rows (kb: the cache's rows of a whole dense block, else t.kb, k_stride bytes apart)
  // through two A tiles in turn (4, 5): four independent chains, as a scratch loop needs to reach
  // the tiles' rate (one TDPBF16PS waits for the last on the same C tile); in this kernel the
  // phase took the same time with one chain (7.9k TSC cycles per 128 x 128 block, Emerald
  // Rapids VM), so something else binds it there. The scores go into st at the rows' columns,
  // then the scale into log2 units (1: the softmax scales, kFoldScale).
  static void amx_scores(Tiles& t, const unsigned short* kb, long long k_stride, float scale_log2) {
#if defined(ATTNJIT_CPU_AMX)
    constexpr int KG = BN >= 64 ? 4 : BN / 16;  // key groups per pass
    for (int g = 0; g < BM / 16; ++g)
      for (int k0 = 0; k0 < BN; k0 += 16 * KG) {
        amx::zero<0>();
        amx::zero<1>();
        if constexpr (KG > 2) {
          amx::zero<2>();
          amx::zero<3>();
        }
        for (int c = 0; c < D / 32; ++c) {
          amx::load<6>(&t.qb[c * 16][g * 16], BM * 4);
          const unsigned short* kc = kb + k0 * (k_stride / 2) + c * 32;
          amx::load<4>(kc, k_stride);
          amx::dot_bf16<0, 4, 6>();
          amx::load<5>(kc + 16 * (k_stride / 2), k_stride);
          amx::dot_bf16<1, 5, 6>();
          if constexpr (KG > 2) {
            amx::load<4>(kc + 32 * (k_stride / 2), k_stride);
            amx::dot_bf16<2, 4, 6>();
            amx::load<5>(kc + 48 * (k_stride / 2), k_stride);
            amx::dot_bf16<3, 5, 6>();
          }
        }
        amx::store<0>(&t.st[k0][g * 16], BM * 4);
        amx::store<1>(&t.st[k0 + 16][g * 16], BM * 4);
        if constexpr (KG > 2) {
          amx::store<2>(&t.st[k0 + 32][g * 16], BM * 4);
          amx::store<3>(&t.st[k0 + 48][g * 16], BM * 4);
        }
      }
    if (scale_log2 != 1.f)
      for (int j = 0; j < BN; ++j)
        for (int v = 0; v < NV; ++v) *(F*)&t.st[j][v * V] *= scale_log2;
#else
    (void)t, (void)kb, (void)k_stride, (void)scale_log2;
#endif
  }

  // kOrder 2, P.V: o = o * alpha (rows whose max moved) + P . V, per 16 rows and 64 dims over
  // the block in 32-key steps: four C tiles (0-3, o's 16 x 16 at four dim groups, loaded and
  // stored back) share the A tile of P (4 or 7 in turn: P in bf16, transposed from st) and take
  // V pairs from vt through two B tiles in turn (5, 6).
  static void amx_accumulate(Tiles& t, const F* alpha) {
#if defined(ATTNJIT_CPU_AMX)
    for (int i = 0; i < BM; ++i) {
      const float a = alpha[i / V][i % V];
      if (a != 1.f)
        for (int d = 0; d < D; d += V) *(F*)&t.o[i][d] *= a;
    }
    for (int g = 0; g < BM / 16; ++g) {
      for (int kc = 0; kc < BN / 32; ++kc)
        amx::ProbTranspose<16>::run((const amx::F16x*)&t.st[kc * 32][g * 16], (amx::U16x*)&t.pa[g][kc][0][0], BM / 16);
      int dg = 0;
      for (; dg + 4 <= D / 16; dg += 4) {
        float* o0 = &t.o[g * 16][dg * 16];
        amx::load<0>(o0, D * 4);
        amx::load<1>(o0 + 16, D * 4);
        amx::load<2>(o0 + 32, D * 4);
        amx::load<3>(o0 + 48, D * 4);
        for (int kc = 0; kc < BN / 32; ++kc) {
          const unsigned* vb = &t.vt[kc][dg][0][0];
          if (kc % 2 == 0) amx::load<4>(&t.pa[g][kc][0][0], 64);
          else amx::load<7>(&t.pa[g][kc][0][0], 64);
          amx::load<5>(vb, 64);
          if (kc % 2 == 0) amx::dot_bf16<0, 4, 5>(); else amx::dot_bf16<0, 7, 5>();
          amx::load<6>(vb + 256, 64);
          if (kc % 2 == 0) amx::dot_bf16<1, 4, 6>(); else amx::dot_bf16<1, 7, 6>();
          amx::load<5>(vb + 512, 64);
          if (kc % 2 == 0) amx::dot_bf16<2, 4, 5>(); else amx::dot_bf16<2, 7, 5>();
          amx::load<6>(vb + 768, 64);
          if (kc % 2 == 0) amx::dot_bf16<3, 4, 6>(); else amx::dot_bf16<3, 7, 6>();
        }
        amx::store<0>(o0, D * 4);
        amx::store<1>(o0 + 16, D * 4);
        amx::store<2>(o0 + 32, D * 4);
        amx::store<3>(o0 + 48, D * 4);
      }
      for (; dg < D / 16; ++dg) {  // head dims that are not whole 64-dim groups
        amx::load<0>(&t.o[g * 16][dg * 16], D * 4);
        for (int kc = 0; kc < BN / 32; ++kc) {
          amx::load<4>(&t.pa[g][kc][0][0], 64);
          amx::load<5>(&t.vt[kc][dg][0][0], 64);
          amx::dot_bf16<0, 4, 5>();
        }
        amx::store<0>(&t.o[g * 16][dg * 16], D * 4);
      }
    }
#else
    (void)t, (void)alpha;
#endif
  }

  // kOrder 2: the block's K rows into kb (copy_k: where the tiles cannot read them in place) and
  // V rows into vt, raw bf16; row(j) gives key j's K and V rows (j < keys), zero rows past them.
  template <class Row>
  static void amx_load_block(Tiles& t, int keys, bool copy_k, Row row) {
#if defined(ATTNJIT_CPU_AMX)
    const unsigned short* zero = (const unsigned short*)&t.zero[0];  // +0.0 in bf16 too
    for (int j = 0; j < BN; j += 2) {
      const unsigned short *k0 = zero, *k1 = zero, *v0 = zero, *v1 = zero;
      if (j < keys) row(j, k0, v0);
      if (j + 1 < keys) row(j + 1, k1, v1);
      if (copy_k) {
        __builtin_memcpy(&t.kb[j][0], k0, D * 2);
        __builtin_memcpy(&t.kb[j + 1][0], k1, D * 2);
      }
      for (int sg = 0; sg < D / 32; ++sg) {
        amx::U16x lo, hi;
        amx::pair_rows(v0 + sg * 32, v1 + sg * 32, lo, hi);
        __builtin_memcpy(&t.vt[j / 32][2 * sg][(j % 32) / 2][0], &lo, 64);
        __builtin_memcpy(&t.vt[j / 32][2 * sg + 1][(j % 32) / 2][0], &hi, 64);
      }
    }
#else
    (void)t, (void)keys, (void)copy_k, (void)row;
#endif
  }

  // Sets masked scores to -inf: key n0+j is visible from query m0+i (position p = m0+i+shift)
  // iff it exists and lies in [p - left, p + right] (causal: right = 0, left unbounded).
  static constexpr long long kClamp = 1 << 30;
  static constexpr int kLeft = (int)(C::kWindowLeft < kClamp ? C::kWindowLeft : kClamp);
  static constexpr int kRight = (int)(C::kWindowRight < kClamp ? C::kWindowRight : kClamp);

  static void apply_mask(Tiles& t, long long n0, long long m0, long long shift, long long seqlen_k) {
    I iota;
    for (int l = 0; l < V; ++l) iota[l] = l;
    const F ninf = -__builtin_inff();
    for (int j = 0; j < BN; ++j) {
      long long key = n0 + j;
      for (int v = 0; v < NV; ++v) {
        F s = *(const F*)&t.st[j][v * V];
        if (key >= seqlen_k) {
          s = ninf;
        } else if constexpr (C::kMask != kMaskNone) {
          // key - p per lane in int lanes. Offsets and windows are clamped to +-2^30, beyond any
          // real sequence, so the int arithmetic cannot overflow.
          long long rel0 = key - (m0 + v * V + shift);
          rel0 = rel0 > kClamp ? kClamp : rel0 < -kClamp ? -kClamp : rel0;
          I rel = (I)(int)rel0 - iota;
          I vis = rel <= (C::kMask == kMaskCausal ? 0 : kRight);
          if constexpr (C::kMask == kMaskWindow) vis &= rel >= -kLeft;
          s = vis ? s : ninf;
        }
        *(F*)&t.st[j][v * V] = s;
      }
    }
  }

  // ALiBi: st[j][i] += -slope * log2(e) * |p_i - (n0 + j)| with p_i = p0 + i (log2 units).
  static void add_alibi(Tiles& t, const variants::AlibiBias<float>& bias, long long n0, long long p0) {
    F iota;
    for (int l = 0; l < V; ++l) iota[l] = (float)l;
    const float base = (float)(p0 - n0);
    for (int j = 0; j < BN; ++j)
      for (int v = 0; v < NV; ++v) {
        const F d = iota + (base + (float)(v * V - j));
        *(F*)&t.st[j][v * V] = bias(*(const F*)&t.st[j][v * V], __builtin_elementwise_abs(d));
      }
  }

  static void load_rows(float* dst, const T* src, long long stride) {
    for (int j = 0; j < BN; ++j)
#pragma clang loop vectorize(enable)
      for (int d = 0; d < D; ++d) dst[j * D + d] = S::load(src[j * stride + d]);
  }

  // Paged K/V: rows n0.. of the tile's sequence, each through the block table.
  static void load_paged(Tiles& t, const PrefillParams& p, const layout::SeqTile& st, long long hk,
                         long long n0, int keys, const float** krow, const float** vrow) {
    const T* k = (const T*)p.k + hk * p.k_head_stride;
    const T* v = (const T*)p.v + hk * p.v_head_stride;
    for (int j = 0; j < BN; ++j) {
      if (j >= keys) {
        krow[j] = vrow[j] = t.zero;
        continue;
      }
      const T* kr = k + L::kv_row(p, st, p.k_batch_stride, p.k_row_stride, n0 + j);
      const T* vr = v + L::kv_row(p, st, p.v_batch_stride, p.v_row_stride, n0 + j);
      if constexpr (kDirect) {
        krow[j] = (const float*)kr;
        vrow[j] = (const float*)vr;
      } else {
#pragma clang loop vectorize(enable)
        for (int d = 0; d < D; ++d) {
          t.kv[0][j][d] = S::load(kr[d]);
          t.kv[1][j][d] = S::load(vr[d]);
        }
        krow[j] = &t.kv[0][j][0];
        vrow[j] = &t.kv[1][j][0];
      }
    }
  }

  static void item(const PrefillParams& p, long long it, Tiles& t) {
    layout::SeqTile st;
    long long h;
    if constexpr (C::kVarlen) {
      // Head-major, as the dense order: consecutive items share a head's K/V while it is in cache.
      const long long tiles = layout::varlen_tiles(p.total_q, p.batch, BM);
      h = it / tiles;
      if (!L::varlen_tile(p, it % tiles, BM, st)) return;  // idle tile number
    } else {
      const long long mblocks = (p.seqlen_q + BM - 1) / BM;
      const long long bh = it / mblocks;
      h = bh % p.heads_q;
      st = L::dense_tile(p, (int)(bh / p.heads_q), (int)(it % mblocks), BM);
    }
    const long long sq = st.len_q, sk = st.len_k;
    const long long hk = h / (p.heads_q / p.heads_kv);
    const long long b = st.b;
    const long long m0 = st.m0;
    const int rows = (int)(sq - m0 < BM ? sq - m0 : BM);
    const long long shift = sk - sq;  // query i sits at key position i + shift
    const bool even = C::kEven && sq % BM == 0 && sk % BN == 0;

    const T* q = (const T*)p.q + L::q_rows(st, p.q_batch_stride, p.q_row_stride) + h * p.q_head_stride;
    const T* k = (const T*)p.k + hk * p.k_head_stride;
    const T* vv = (const T*)p.v + hk * p.v_head_stride;
    if constexpr (!C::kPaged) {  // contiguous rows from the sequence's key 0
      k += L::kv_row(p, st, p.k_batch_stride, p.k_row_stride, 0);
      vv += L::kv_row(p, st, p.v_batch_stride, p.v_row_stride, 0);
    }

    if constexpr (kAmx) {  // Q^T as raw bf16 pairs (amx_scores scales), O = 0; padding rows zero
      for (int i = 0; i < BM; ++i)
        for (int u = 0; u < D / 2; ++u) {
          unsigned pair = 0;
          if (i < rows) __builtin_memcpy(&pair, q + i * p.q_row_stride + 2 * u, 4);
          t.qb[u][i] = pair;
        }
      for (int i = 0; i < BM; ++i)
        for (int d = 0; d < D; d += V) *(F*)&t.o[i][d] = 0.f;
    } else {
      // Q^T, pre-scaled so the scores come out in log2 units; padding rows are zero.
      for (int i = 0; i < BM; ++i)
        for (int d = 0; d < D; ++d)
          t.qt[d][i] = i < rows ? S::load(q[i * p.q_row_stride + d]) * p.scale_log2 : 0.f;
      for (int d = 0; d < D; ++d)
        for (int v = 0; v < NV; ++v) *(F*)&t.ot[d][v * V] = 0.f;
    }
    for (int d = 0; d < D; ++d) t.zero[d] = 0.f;
    F m_run[NV], l_run[NV];
    for (int v = 0; v < NV; ++v) {
      m_run[v] = -__builtin_inff();
      l_run[v] = 0.f;
    }
    // kOrder 2 leaves the scores unscaled where nothing between Q.K^T and the softmax needs log2
    // units (kFoldScale) and the scale is positive (max commutes with it): the softmax scales.
    const float fold = kFoldScale && p.scale_log2 > 0.f ? p.scale_log2 : 1.f;

    // Keys any row of this block can see (ranges move right with the row); blocks outside are
    // skipped.
    typedef typename MaskPolicyOf<C::kMask, C::kWindowLeft, C::kWindowRight>::T Mask;
    const long long p_first = m0 + shift, p_last = m0 + rows - 1 + shift;
    long long lo, hi, unused;
    Mask::key_range(p_first, sk, lo, unused);
    Mask::key_range(p_last, sk, unused, hi);
    const float* krow[BN];
    const float* vrow[BN];
    // The key blocks to visit: [lo, hi) in blocks, or the block mask's lists (variants_user.h).
    const auto blocks = variants::key_blocks<C, BN>(p.user, b, h, m0, lo < hi ? lo / BN : 0, lo < hi ? (hi + BN - 1) / BN : 0);
    const auto mods = variants::make_mods<C>(p.user);
    for (int it = 0; it < blocks.count(); ++it) {
      const long long n0 = blocks.n0(it);
      const int keys = (int)(sk - n0 < BN ? sk - n0 : BN);
      // Per-element masking only where the block is not fully visible to every row.
      // (Even lengths never cut a block at seqlen_k; the block mask marks its partial blocks.)
      const bool partial = ((Mask::kMasksKeys || !even) &&
                            variants::classify_tile<Mask>(p_first, p_last, n0, n0 + BN, sk) != variants::kTileFull) ||
                           !blocks.user_full(it);
      int jb = 0, je = BN;  // the keys computed
      if constexpr (kMaskMod)
        if (partial) {
          eval_mask_mod(mods, t, keys, rows, b, h, m0, n0, jb, je);
          if (jb >= je) continue;  // no row sees any key
        }
      const unsigned short* amx_k = &t.kb[0][0];  // kOrder 2: K rows for amx_scores
      long long amx_k_stride = D * 2;
      if constexpr (kAmx && !C::kPaged)
        if (keys == BN) {  // a whole dense block: the tiles read the cache's rows in place
          amx_k = (const unsigned short*)(k + n0 * p.k_row_stride);
          amx_k_stride = p.k_row_stride * 2;
        }
      if constexpr (kAmx) {
        amx_load_block(t, keys, amx_k == &t.kb[0][0], [&](int j, const unsigned short*& kr, const unsigned short*& vr) {
          if constexpr (C::kPaged) {
            kr = (const unsigned short*)(k + L::kv_row(p, st, p.k_batch_stride, p.k_row_stride, n0 + j));
            vr = (const unsigned short*)(vv + L::kv_row(p, st, p.v_batch_stride, p.v_row_stride, n0 + j));
          } else {
            kr = (const unsigned short*)(k + (n0 + j) * p.k_row_stride);
            vr = (const unsigned short*)(vv + (n0 + j) * p.v_row_stride);
          }
        });
      } else if constexpr (C::kPaged) {
        load_paged(t, p, st, hk, n0, keys, krow, vrow);
      } else if constexpr (kDirect) {
        for (int j = 0; j < BN; ++j) {
          krow[j] = j < keys ? (const float*)(k + (n0 + j) * p.k_row_stride) : t.zero;
          vrow[j] = j < keys ? (const float*)(vv + (n0 + j) * p.v_row_stride) : t.zero;
        }
      } else {
        if (keys == BN) {
          load_rows(&t.kv[0][0][0], k + n0 * p.k_row_stride, p.k_row_stride);
          load_rows(&t.kv[1][0][0], vv + n0 * p.v_row_stride, p.v_row_stride);
        } else {
          for (int j = 0; j < keys; ++j)
            for (int d = 0; d < D; ++d) {
              t.kv[0][j][d] = S::load(k[(n0 + j) * p.k_row_stride + d]);
              t.kv[1][j][d] = S::load(vv[(n0 + j) * p.v_row_stride + d]);
            }
        }
        for (int j = 0; j < BN; ++j) {
          krow[j] = j < keys ? &t.kv[0][j][0] : t.zero;
          vrow[j] = j < keys ? &t.kv[1][j][0] : t.zero;
        }
      }

      if constexpr (kAmx) amx_scores(t, amx_k, amx_k_stride, fold == 1.f ? p.scale_log2 : 1.f);  // the whole block (keys outside [jb, je) are masked)
      else scores<kMaskMod>(t, krow, jb, je);

      // Score modification (soft-capping) on the scores in log2 units u = log2(e).
      if constexpr (variants::softcap_of<C>() > 0.f) {
        const auto cap = variants::SoftCap<float>::make(variants::softcap_of<C>(), 1.4426950408889634f);
        for (int j = 0; j < BN; ++j)
          for (int v = 0; v < NV; ++v)
            *(F*)&t.st[j][v * V] = cap(*(const F*)&t.st[j][v * V], [](F x) { return vtanh<F, I>(x); });
      }

      if constexpr (variants::has_alibi<C>())
        add_alibi(t, variants::AlibiBias<float>::make(
                         variants::alibi_slope(p.alibi_slopes, p.alibi_batch_stride, b, h), 1.4426950408889634f),
                  n0, m0 + shift);
      // A user score_mod, in natural units (the kernel's are log2(e) times those).
      if constexpr (variants::mods_of<C>::kScoreMod)
        variants::score_mod_tile(mods, &t.st[jb][0], BM, (keys < je ? keys : je) - jb, rows, b, h, m0, n0 + jb,
                                 1.4426950408889634f);  // the keys scores computed

      if (partial) {
        apply_mask(t, n0, m0, shift, sk);
        // Also hides the keys outside [jb, je), which scores did not compute: no row sees them
        // (or they lie past seqlen_k, for apply_mask).
        if constexpr (kMaskMod) apply_user_mask(t, keys, rows);
      }

      // Online softmax, lane-wise. A row that has seen only masked keys keeps m = -inf; it
      // subtracts 0 instead, so exp2(-inf - 0) = 0 and never -inf - (-inf) = NaN. With the
      // scale folded in (kOrder 2), scores and m are in raw units and one multiply-add scales
      // and subtracts; P is rounded to bf16 there, so a shorter exp2 polynomial serves.
      F alpha[NV];
      for (int v = 0; v < NV; ++v) {
        F mx = m_run[v];
        for (int j = 0; j < BN; ++j) mx = vmax(mx, *(const F*)&t.st[j][v * V]);
        F base = mx == -__builtin_inff() ? (F)0.f : mx;
        alpha[v] = vexp2<F, I>((m_run[v] - base) * fold);
        const F nb = -base * fold;
        F sum = 0.f;
        for (int j = 0; j < BN; ++j) {
          const F x = *(const F*)&t.st[j][v * V] * fold + nb;
          F e;
          if constexpr (kAmx) e = vexp2_bf16<F, I>(x);
          else e = vexp2<F, I>(x);
          *(F*)&t.st[j][v * V] = e;
          sum += e;
        }
        l_run[v] = l_run[v] * alpha[v] + sum;
        m_run[v] = mx;
      }

      if constexpr (kAmx) amx_accumulate(t, alpha);
      else accumulate<kMaskMod>(t, vrow, alpha, jb, je);
    }

    // Normalise, transpose out, and write the LSE (natural log).
    T* o = (T*)p.o + L::q_rows(st, p.o_batch_stride, p.o_row_stride) + h * p.o_head_stride;
    float* lse = p.lse ? p.lse + L::lse_rows(p, st) + h * p.lse_head_stride : 0;
    for (int i = 0; i < rows; ++i) {
      float l = l_run[i / V][i % V], m = m_run[i / V][i % V];
      float inv = l > 0.f ? 1.f / l : 0.f;
      float row_lse = l > 0.f ? (float)(((double)m * fold + slog2(l)) * 0.6931471805599453) : -__builtin_inff();
      if constexpr (variants::has_sink<C>())  // the sink joins the row's denominator
        variants::fold_sink(
            p.sinks[h], row_lse, inv, [](float x) { return vexp2<F, I>((F)(x * 1.4426950408889634f))[0]; },
            [](float x) { return (float)(slog2(1.0 + (double)x) * 0.6931471805599453); });
      if constexpr (kAmx)
        for (int d = 0; d < D; ++d) o[i * p.o_row_stride + d] = S::store(t.o[i][d] * inv);
      else
        for (int d = 0; d < D; ++d) o[i * p.o_row_stride + d] = S::store(t.ot[d][i] * inv);
      if (lse) lse[i] = row_lse;
    }
  }

  static void run(const PrefillParams& p, long long item_begin, long long item_end) {
    if (p.seqlen_q <= 0) return;  // no work items exist
    Tiles t;
#if defined(ATTNJIT_CPU_AMX)
    if constexpr (kAmx) {  // every tile 16 rows x 64 bytes (amx_scores, amx_accumulate)
      amx::TileConfig tc;
      for (int i = 0; i < 8; ++i) tc.set(i, 16, 64);
      amx::load_config(tc);
    }
#endif
    for (long long it = item_begin; it < item_end; ++it) item(p, it, t);
#if defined(ATTNJIT_CPU_AMX)
    if constexpr (kAmx) amx::release();
#endif
  }
};

}  // namespace attnjit::cpu
