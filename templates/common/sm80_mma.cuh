// Tensor-core register-tile helpers for sm_80 and newer (Ampere, Ada, Hopper's legacy path):
// element tags, shared-memory addressing with an XOR swizzle, ldmatrix, mma.sync m16n8k16 and
// the fp32 -> 16-bit packing that turns accumulators back into A operands.
//
// Host-free and include-free on purpose: NVRTC compiles it with no include paths, so 16-bit
// values live in `unsigned short` / packed `unsigned` and every conversion is inline PTX.
//
// Fragment layouts (PTX ISA, "Matrix Fragments for mma.m16n8k16"), lane = 4 * g + t:
//   A 16x16 (row-major), 4 x b32: a0 = (row g,   k 2t..2t+1)   a1 = (row g+8, k 2t..2t+1)
//                                 a2 = (row g,   k 2t+8..+9)   a3 = (row g+8, k 2t+8..+9)
//   B 16x8 (k x n, "col"), 2 x b32: b0 = (k 2t..2t+1, n g)     b1 = (k 2t+8..+9, n g)
//   C 16x8 fp32, 4 x f32:          c0,c1 = (row g, n 2t, 2t+1) c2,c3 = (row g+8, n 2t, 2t+1)
// ldmatrix.x4: lanes 8i..8i+7 give the row addresses of 8x8 matrix i; register i of every lane
// receives matrix i with lane holding (row g, cols 2t, 2t+1) — or, with .trans, (rows 2t, 2t+1,
// col g), which is exactly a B fragment of a row-major [k][n] tile such as V.
#pragma once

namespace attnjit {
namespace sm80 {

// Element tags: the kernel's 16-bit input/output type.
struct F16 {
  static constexpr bool kIsBf16 = false;
};
struct Bf16 {
  static constexpr bool kIsBf16 = true;
};

// 32-bit shared-memory address of a generic pointer into shared memory (what ldmatrix and
// cp.async take), without depending on the CUDA headers' __cvta_generic_to_shared.
__device__ __forceinline__ unsigned smem_u32(const void* p) {
  unsigned addr;
  asm volatile("{ .reg .u64 a; cvta.to.shared.u64 a, %1; cvt.u32.u64 %0, a; }\n"
               : "=r"(addr)
               : "l"(p));
  return addr;
}

// Shared-memory tiles hold rows of kChunks 16-byte chunks (8 elements each). ldmatrix reads one
// chunk from each of 8 consecutive rows per phase; with a plain row-major layout and rows of
// 128 bytes or a multiple, all 8 land in the same 4 banks (8-way conflict). XOR-ing the chunk
// index with row bits spreads them over all 32 banks:
//   kChunks % 8 == 0 (head dim 64, 128, 192, 256): chunk ^ (row % 8)      — 8 rows, 8 chunks
//   kChunks % 8 == 4 (head dim 32, 96): two rows share a 128-byte line (row parity picks the
//   half), so chunk ^ ((row / 2) % 4) gives the other 2 bits; it only flips the low 2 bits, so
//   the chunk stays inside the row even when kChunks is not a multiple of 8.
// The same map keeps the cp.async fills (8 consecutive chunks of a row) and the epilogue's
// 4-byte accumulator stores conflict-free.
template <int kChunks>
struct Swizzle {
  static_assert(kChunks % 4 == 0, "rows must be a multiple of 32 elements");
  static constexpr int kMask = kChunks % 8 == 0 ? 7 : 3;  // chunk bits the XOR may flip

  __device__ __forceinline__ static int row_xor(int row) {
    return kChunks % 8 == 0 ? (row & 7) : ((row >> 1) & 3);
  }
  // Byte offset of (row, chunk) in the tile.
  __device__ __forceinline__ static int offset(int row, int chunk) {
    return 16 * (row * kChunks + (chunk ^ row_xor(row)));
  }
};

// Per-lane address of fragment loads and stores at (r0 + lane_row, c0 + lane_chunk), split so
// that each access in an unrolled loop costs one XOR with an immediate: r0 must be a multiple
// of 8 (then the row's XOR pattern depends on lane_row only) and lane_chunk must be 0 or 1
// with c0 even when it is 1 (then c0 + lane_chunk == c0 | lane_chunk). Without the split the
// compiler keeps one hoisted address per (row tile, k-step) live across the main loop, which
// costs tens of registers.
template <int kChunks>
struct FragAddr {
  unsigned base;  // shared tile + lane_row's offset
  unsigned x16;   // 16 * (lane_chunk ^ row_xor(lane_row)), below 16 * (kMask + 1)

  __device__ __forceinline__ FragAddr(unsigned tile, int lane_row, int lane_chunk)
      : base(tile + 16u * lane_row * kChunks),
        x16(16u * (lane_chunk ^ Swizzle<kChunks>::row_xor(lane_row))) {}

  __device__ __forceinline__ unsigned at(int r0, int c0) const {
    constexpr int kMask = Swizzle<kChunks>::kMask;
    return base + 16u * (r0 * kChunks + (c0 & ~kMask)) + ((16u * (c0 & kMask)) ^ x16);
  }
};

__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], unsigned addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

__device__ __forceinline__ void ldmatrix_x4_trans(unsigned (&r)[4], unsigned addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

// c += a * b for one 16x8x16 tile, fp32 accumulation.
template <class Element>
__device__ __forceinline__ void mma_16816(float (&c)[4], const unsigned (&a)[4], unsigned b0,
                                          unsigned b1) {
  if constexpr (Element::kIsBf16) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
        "{%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
        "{%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

// Two floats -> one b32 holding {lo in bits 0..15, hi in bits 16..31}, round to nearest even.
// cvt's first source goes to the UPPER half, hence (hi, lo).
template <class Element>
__device__ __forceinline__ unsigned pack2(float lo, float hi) {
  unsigned r;
  if constexpr (Element::kIsBf16) {
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
  } else {
    asm("cvt.rn.f16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
  }
  return r;
}

// 2^x on the SFU. ex2.approx(-inf) = +0, which the online softmax relies on for masked scores.
__device__ __forceinline__ float exp2_approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

__device__ __forceinline__ float neg_inf() { return __int_as_float(0xff800000); }

}  // namespace sm80
}  // namespace attnjit
