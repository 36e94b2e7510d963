// fp8 K/V straight into the tensor-core decode kernel's MMA operands (decode/mma_sm80.cuh), with
// no dequantised 16-bit tile and no ldmatrix: each lane reads from the raw fp8 ring exactly the
// bytes of its own B fragments and converts them in registers (sm_89+: cvt.rn.f16x2.e4m3x2 /
// .e5m2x2 per pair; sm_80/86: fp8::to_float's integer operations).
//
// This works because the MMAs' reduction dimensions may be permuted freely, as long as both
// operands use the same permutation:
//  - S = Q K^T reduces over the head dim. Lane (g, t4) of k-step kt holds B[k = 2t4 + {0,1}][n]
//    and B[2t4 + 8 + {0,1}][n]; those four logical k are mapped to the physical dims
//    t4 * D/4 + 4 kt + {0, 1, 2, 3}: one 4-byte word of key n per k-step, and the lane's D/4
//    bytes of the row are contiguous (16-byte shared loads). Q's A fragments are loaded with the
//    same map (q_dim_offset).
//  - O += P V reduces over the keys: lane (g, t4) holds V[keys 16 kk + 2t4 + {0,1}] and
//    [+8 + {0,1}] at column n = g. The O columns (head dims) are permuted too: column g of
//    d-tile dt is physical dim g * D/8 + dt, so the lane reads D/8 contiguous bytes of each of its
//    4 keys and interleaves two keys' bytes with prmt into the (key, key + 1) pairs the B
//    fragment wants; the output is written back through the inverse map (o_dim).
// The ring rows are XOR-swizzled by 16-byte chunk (ch ^ key % 8), so a quarter-warp's 16-byte
// reads of 2 keys x 4 lanes (K) or 8 keys (V) fall in distinct banks at head dim 128.
#pragma once

namespace attnjit {
namespace decode {

#ifndef ATTNJIT_DECODE_EMULATED_PTX
// prmt.b32: byte i of the result is byte (kSel >> 4i) & 7 of {b:a} (a = bytes 0-3).
template <unsigned kSel>
__device__ __forceinline__ unsigned byte_perm(unsigned a, unsigned b) {
  unsigned r;
  asm("prmt.b32 %0, %1, %2, %3;\n" : "=r"(r) : "r"(a), "r"(b), "n"(kSel));
  return r;
}
#endif

namespace fp8_mma {

// Physical chunk of logical 16-byte chunk ch of key `key` in a raw fp8 ring row of D bytes.
template <int D>
__device__ __forceinline__ int swizzle(int key, int ch) {
  constexpr int kChunks = D / 16;
  return ch ^ (key & (kChunks < 8 ? kChunks - 1 : 7));
}

// Element offset in a Q row of k-step kt's pair `hi` (0: logical k 2t4 + {0,1}, 1: 2t4 + 8 + {0,1}).
template <int D>
__device__ __forceinline__ int q_dim_offset(int t4, int kt, int hi) {
  return t4 * (D / 4) + 4 * kt + 2 * hi;
}

// Physical head dim of O column c (0..7) of d-tile dt.
template <int D>
__device__ __forceinline__ int o_dim(int c, int dt) {
  return c * (D / 8) + dt;
}

// S[nt] += Q K^T for the n8 tile of keys key .. (this lane: key = tile base + g), from the raw
// row of `key` in the ring stage at `tile` (BN rows of D bytes).
template <class MT, int K, int D, int KT>
__device__ __forceinline__ void qk_tile(float (&sc)[4], const unsigned (&qa)[KT][4], const unsigned char* tile,
                                        int key, int t4) {
  constexpr int kPerLane = D / 64;  // 16-byte chunks of the lane's D/4 bytes
#pragma unroll
  for (int c = 0; c < kPerLane; ++c) {
    const uint4 raw =
        *reinterpret_cast<const uint4*>(tile + key * D + (swizzle<D>(key, t4 * kPerLane + c) << 4));
    const unsigned w[4] = {raw.x, raw.y, raw.z, raw.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      unsigned b0, b1;
      fp8x4_to_elem4<MT, K>(w[i], b0, b1);
      sm80::mma_16816<MT>(sc, qa[c * 4 + i], b0, b1);
    }
  }
}

// The lane's D/8 bytes (dims g * D/8 ..) of key `key`'s raw row: D/32 words.
template <int D>
__device__ __forceinline__ void v_words(const unsigned char* tile, int key, int g, unsigned (&w)[D / 32]) {
  if constexpr (D == 64) {  // 8 bytes: half of chunk g / 2
    const uint2 u = *reinterpret_cast<const uint2*>(tile + key * D + (swizzle<D>(key, g >> 1) << 4) + (g & 1) * 8);
    w[0] = u.x;
    w[1] = u.y;
  } else {
#pragma unroll
    for (int c = 0; c < D / 128; ++c) {
      const uint4 u = *reinterpret_cast<const uint4*>(tile + key * D + (swizzle<D>(key, g * (D / 128) + c) << 4));
      w[4 * c] = u.x;
      w[4 * c + 1] = u.y;
      w[4 * c + 2] = u.z;
      w[4 * c + 3] = u.w;
    }
  }
}

// O += P V for k-step kk (keys 16 kk ..) of the ring stage at `tile`: pa is P's A fragment.
template <class MT, int K, int D>
__device__ __forceinline__ void pv_step(float (&o)[D / 8][4], const unsigned (&pa)[4], const unsigned char* tile,
                                        int kk, int g, int t4) {
  constexpr int NW = D / 32;
  const int k0 = kk * 16 + 2 * t4;
  unsigned a[NW], b[NW], c[NW], d[NW];  // keys k0, k0 + 1, k0 + 8, k0 + 9
  v_words<D>(tile, k0, g, a);
  v_words<D>(tile, k0 + 1, g, b);
  v_words<D>(tile, k0 + 8, g, c);
  v_words<D>(tile, k0 + 9, g, d);
#pragma unroll
  for (int w = 0; w < NW; ++w) {
    // Word w holds d-tiles 4w .. 4w + 3; interleave two keys' bytes into (key, key + 1) pairs.
    unsigned lo[4], hi[4];
    fp8x4_to_elem4<MT, K>(byte_perm<0x5140u>(a[w], b[w]), lo[0], lo[1]);
    fp8x4_to_elem4<MT, K>(byte_perm<0x7362u>(a[w], b[w]), lo[2], lo[3]);
    fp8x4_to_elem4<MT, K>(byte_perm<0x5140u>(c[w], d[w]), hi[0], hi[1]);
    fp8x4_to_elem4<MT, K>(byte_perm<0x7362u>(c[w], d[w]), hi[2], hi[3]);
#pragma unroll
    for (int i = 0; i < 4; ++i) sm80::mma_16816<MT>(o[4 * w + i], pa, lo[i], hi[i]);
  }
}

}  // namespace fp8_mma
}  // namespace decode
}  // namespace attnjit
