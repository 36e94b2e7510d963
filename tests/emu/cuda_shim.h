// The CUDA C++ vocabulary the kernel templates use, defined for host C++ on top of the fiber
// emulator (emu_runtime.h), plus the PTX instructions they issue through inline asm, implemented
// from the PTX ISA's definitions (not from the templates' own layout comments):
//   ldmatrix.sync.aligned.m8n8.x4[.trans].shared.b16, mma.sync.aligned.m16n8k16.row.col.f32.
//   {f16,bf16}.{f16,bf16}.f32, cvt.rn.{f16x2,bf16x2}.f32, ex2.approx.ftz.f32, cvta.to.shared,
//   cp.async.cg.shared.global (with src-size), cp.async.commit_group / wait_group.
//
// Template files are included after this header; their `asm` helpers are renamed away by the
// per-template shadow headers and replaced by the functions here with identical signatures.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "emu/emu_runtime.h"
#include "runtime/half.h"

// ---- Qualifiers ----
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
// Only `extern __shared__` (dynamic shared memory) is supported: the declaration then names the
// emulator's block buffer (see EMU_DEFINE_DYNAMIC_SMEM). A static `__shared__ T x[N];` inside a
// kernel would silently become per-thread; no emulated template uses one.
#define __shared__
#define __align__(n) __attribute__((aligned(n)))
#define __restrict__ __restrict

// Defines the dynamic shared buffer that `extern __shared__ unsigned char NAME[]` in namespace
// NS resolves to (a block-scope extern declaration names the enclosing namespace's entity).
#define EMU_DEFINE_DYNAMIC_SMEM(NS, TYPE, NAME) \
  namespace NS {                                \
  alignas(128) inline TYPE NAME[emu::kMaxDynamicSmem / sizeof(TYPE)]; \
  }

// ---- Built-in variables ----
#define threadIdx (::emu::block().self().idx)
#define blockIdx (::emu::block().block_idx())
#define blockDim (::emu::block().config().block)
#define gridDim (::emu::block().config().grid)

// ---- Synchronisation and warp functions ----
inline void __syncthreads() { emu::block().syncthreads(); }
inline void __threadfence() {}  // one block at a time: global memory is always coherent

namespace emu {

inline void check_full_mask(unsigned mask, const char* what) {
  if (mask != 0xffffffffu)
    throw EmuError(std::string(what) + ": member mask " + std::to_string(mask) +
                   " (only full-warp masks are emulated)");
}

template <class T>
T shfl(unsigned mask, T v, int src_lane_or_mask, int width, bool xor_mode, const char* op) {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8, "shfl of 32- or 64-bit values");
  check_full_mask(mask, op);
  if (width < 1 || width > 32 || (width & (width - 1)) != 0)
    throw EmuError(std::string(op) + ": width must be a power of two <= 32");
  struct In {
    unsigned char v[8];
    int arg, width;
  } in{};
  std::memcpy(in.v, &v, sizeof(T));
  in.arg = src_lane_or_mask;
  in.width = width;
  struct Out {
    unsigned char v[8];
  };
  const Out o = block().collective<In, Out>(op, in, [xor_mode](const In* ins, Out* outs, int) {
    for (int l = 0; l < 32; ++l) {
      const int w = ins[l].width, base = l & ~(w - 1);
      // PTX shfl.sync: a source lane outside the lane's segment returns the lane's own value.
      int src = xor_mode ? (l ^ ins[l].arg) : base + (ins[l].arg & (w - 1));
      if (xor_mode && (src & ~(w - 1)) != base) src = l;
      std::memcpy(outs[l].v, ins[src].v, 8);
    }
  });
  T r;
  std::memcpy(&r, o.v, sizeof(T));
  return r;
}

}  // namespace emu

inline void __syncwarp(unsigned mask = 0xffffffffu) {
  static const char op[] = "__syncwarp";
  emu::check_full_mask(mask, op);
  struct None {
    int z;
  };
  emu::block().collective<None, None>(op, None{0}, [](const None*, None*, int) {});
}

template <class T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  static const char op[] = "__shfl_xor_sync";
  return emu::shfl(mask, v, lane_mask, width, true, op);
}
template <class T>
T __shfl_sync(unsigned mask, T v, int src_lane, int width = 32) {
  static const char op[] = "__shfl_sync";
  return emu::shfl(mask, v, src_lane, width, false, op);
}

// ---- Math and bit casts ----
inline float __int_as_float(int i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}
inline int __float_as_int(float f) {
  int i;
  std::memcpy(&i, &f, 4);
  return i;
}
inline float __uint_as_float(unsigned i) {
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __fdividef(float a, float b) { return a / b; }
// Atomics: one block runs at a time and fibers switch only at collectives, so a plain
// read-modify-write is atomic.
inline int atomicAdd(int* p, int v) {
  const int old = *p;
  *p = old + v;
  return old;
}
inline unsigned atomicAdd(unsigned* p, unsigned v) {
  const unsigned old = *p;
  *p = old + v;
  return old;
}
inline float atomicAdd(float* p, float v) {
  const float old = *p;
  *p = old + v;
  return old;
}

// ---- PTX instructions ----
namespace emu {

// 16-bit storage format of an mma / cvt operand.
enum class Half16 { F16, BF16 };

inline float half_to_float(Half16 t, uint16_t h) {
  return t == Half16::BF16 ? attnjit::bf16_to_float(h) : attnjit::f16_to_float(h);
}
// cvt.rn.{f16,bf16}.f32: round to nearest even; overflow goes to inf (no .satfinite).
inline uint16_t float_to_half(Half16 t, float f) {
  return t == Half16::BF16 ? attnjit::float_to_bf16(f) : attnjit::float_to_f16(f);
}

// cvt.rn.{f16x2,bf16x2}.f32 d, a, b: "a" is converted into the upper half of d, "b" into the
// lower half (PTX ISA, cvt, packed 16-bit destinations).
inline unsigned cvt_rn_x2(Half16 t, float a, float b) {
  return (static_cast<unsigned>(float_to_half(t, a)) << 16) | float_to_half(t, b);
}

// ex2.approx.ftz.f32: 2^x with subnormal inputs and results flushed to sign-preserving zero;
// ex2(-inf) = +0, ex2(+inf) = +inf, NaN -> NaN. The hardware's ~2 ulp error is not modelled.
inline float ex2_approx_ftz(float x) {
  if (std::fpclassify(x) == FP_SUBNORMAL) x = 0.f;
  float y = std::exp2(x);
  if (std::fpclassify(y) == FP_SUBNORMAL) y = std::copysign(0.f, y);
  return y;
}

// lg2.approx.ftz.f32: log2 with subnormal inputs flushed to zero (lg2(0) = -inf).
inline float lg2_approx_ftz(float x) {
  if (std::fpclassify(x) == FP_SUBNORMAL) x = std::copysign(0.f, x);
  return std::log2(x);
}

// cvta.to.shared of a generic pointer into the block's dynamic shared buffer.
inline unsigned cvta_to_shared(const void* p, const void* smem_base) {
  const auto* c = static_cast<const unsigned char*>(p);
  const auto* b = static_cast<const unsigned char*>(smem_base);
  if (c < b || static_cast<size_t>(c - b) > block().config().dynamic_smem)
    throw EmuError("cvta.to.shared: pointer is not in the block's dynamic shared memory");
  return kSharedBase + static_cast<unsigned>(c - b);
}

// ldmatrix.sync.aligned.m8n8.x4[.trans].shared.b16 (PTX ISA, "Warp-level matrix load"):
// threads 8i..8i+7 supply the addresses of rows 0..7 of 8x8 matrix i (16 contiguous bytes each);
// destination register i of every thread receives a fragment of matrix i: thread `lane` holds
// row lane/4, elements 2*(lane%4) and 2*(lane%4)+1 (the lower-index element in the low half).
// With .trans each matrix is delivered transposed: thread `lane` holds rows 2*(lane%4) and
// 2*(lane%4)+1 of column lane/4.
inline void ldmatrix_x4(unsigned (&r)[4], unsigned addr, bool trans) {
  static const char op_n[] = "ldmatrix.x4", op_t[] = "ldmatrix.x4.trans";
  struct In {
    unsigned addr;
  };
  struct Out {
    unsigned r[4];
  };
  Block& b = block();
  const Out o = b.collective<In, Out>(
      trans ? op_t : op_n, In{addr}, [&b, trans](const In* ins, Out* outs, int warp) {
        uint16_t m[4][8][8];  // [matrix][row][col]
        for (int i = 0; i < 4; ++i)
          for (int row = 0; row < 8; ++row)
            b.read_row16(ins[8 * i + row].addr, reinterpret_cast<unsigned char*>(m[i][row]), warp,
                         trans ? "ldmatrix.x4.trans" : "ldmatrix.x4");
        for (int l = 0; l < 32; ++l)
          for (int i = 0; i < 4; ++i) {
            const int g = l / 4, c = 2 * (l % 4);
            const uint16_t lo = trans ? m[i][c][g] : m[i][g][c];
            const uint16_t hi = trans ? m[i][c + 1][g] : m[i][g][c + 1];
            outs[l].r[i] = static_cast<unsigned>(lo) | (static_cast<unsigned>(hi) << 16);
          }
      });
  for (int i = 0; i < 4; ++i) r[i] = o.r[i];
}

// mma.sync.aligned.m16n8k16.row.col.f32.{f16,bf16}.{f16,bf16}.f32 d, a, b, c (PTX ISA, "Matrix
// Fragments for mma.m16n8k16 with floating point type"), groupID = lane/4, tig = lane%4:
//   A (16x16, 8 elements a0..a7 in 4 registers, two per register, lower index in the low half):
//     row = groupID for a0,a1,a4,a5 and groupID+8 for a2,a3,a6,a7;
//     col = tig*2 + (i & 1) for a0..a3 and tig*2 + 8 + (i & 1) for a4..a7.
//   B (16x8, b0..b3 in 2 registers): row (k) = tig*2 + (i & 1) for b0,b1 and +8 for b2,b3;
//     col (n) = groupID.
//   C/D (16x8 f32, c0..c3): row = groupID for c0,c1 and groupID+8 for c2,c3; col = tig*2 + (i&1).
// D = A * B + C. Products of 16-bit values are exact in double and the sum is rounded once to
// f32 (the tensor core's internal accumulation order and truncation are not modelled).
inline void mma_m16n8k16(Half16 type, float (&c)[4], const unsigned (&a)[4], unsigned b0,
                         unsigned b1) {
  static const char op_h[] = "mma.m16n8k16.f16", op_b[] = "mma.m16n8k16.bf16";
  struct In {
    unsigned a[4], b[2];
    float c[4];
  };
  struct Out {
    float d[4];
  };
  In in{};
  for (int i = 0; i < 4; ++i) {
    in.a[i] = a[i];
    in.c[i] = c[i];
  }
  in.b[0] = b0;
  in.b[1] = b1;
  ++block().stats().mma_calls;
  const Out o = block().collective<In, Out>(
      type == Half16::BF16 ? op_b : op_h, in, [type](const In* ins, Out* outs, int) {
        double A[16][16], B[16][8], C[16][8];
        auto elem = [type](unsigned reg, int i) {
          return static_cast<double>(half_to_float(type, static_cast<uint16_t>(reg >> (16 * i))));
        };
        for (int l = 0; l < 32; ++l) {
          const int g = l / 4, tig = l % 4;
          for (int i = 0; i < 8; ++i) {
            const int row = (i & 2) ? g + 8 : g;  // a2,a3,a6,a7 -> +8
            const int col = tig * 2 + (i & 1) + ((i & 4) ? 8 : 0);
            A[row][col] = elem(ins[l].a[i / 2], i & 1);
          }
          for (int i = 0; i < 4; ++i) B[tig * 2 + (i & 1) + ((i & 2) ? 8 : 0)][g] =
              elem(ins[l].b[i / 2], i & 1);
          for (int i = 0; i < 4; ++i) C[(i & 2) ? g + 8 : g][tig * 2 + (i & 1)] = ins[l].c[i];
        }
        for (int l = 0; l < 32; ++l) {
          const int g = l / 4, tig = l % 4;
          for (int i = 0; i < 4; ++i) {
            const int row = (i & 2) ? g + 8 : g, col = tig * 2 + (i & 1);
            double s = C[row][col];
            for (int k = 0; k < 16; ++k) s += A[row][k] * B[k][col];
            outs[l].d[i] = static_cast<float>(s);
          }
        }
      });
  for (int i = 0; i < 4; ++i) c[i] = o.d[i];
}

}  // namespace emu
