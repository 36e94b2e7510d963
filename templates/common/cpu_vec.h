// Vector helpers for the CPU templates: clang ext_vector_type arithmetic, exp2 / log2 without
// libm, and storage <-> f32 conversions. JIT-compiled by clang with no system headers, so only
// builtins are used here (no <cmath>, no libstdc++).
#pragma once

#include "common/variants.h"

namespace attnjit::cpu {

template <int V>
struct Vec {
  typedef float F __attribute__((ext_vector_type(V)));
  typedef int I __attribute__((ext_vector_type(V)));
  typedef unsigned U __attribute__((ext_vector_type(V)));
};

// Storage types of Q/K/V/O (compile-time constant in the prelude).
enum StorageKind { kStoreF32 = 0, kStoreBF16 = 1, kStoreF16 = 2 };

// max as x86's maxps computes it (b where either is NaN): one instruction. The elementwise
// builtin's IEEE maxNum added a compare and a blend per call, on the softmax's serial max chain.
template <class F>
inline F vmax(F a, F b) { return a > b ? a : b; }

// 2^x for x <= 127, accurate to ~2 ulp; x <= -127 (including -inf) gives exactly 0.
// Written out because libm's exp2f neither vectorises nor links into a libm-free JIT module.
// 2^x = 2^k * 2^f with k = round(x), f in [-0.5, 0.5]; 2^f by its Taylor series in f*ln2 to
// degree 7 (truncation error < 6e-9 relative). k by adding 1.5 * 2^23, whose ulp is 1: the sum
// is rounded to an integer and its low mantissa bits are k (two adds, where a floor through int
// conversions took six instructions). Correct only while float adds are not reassociated, i.e.
// without -ffast-math, which the JIT never passes.
template <class F, class I>
inline F vexp2(F x) {
  F xc = x < -127.f ? (F)(-127.f) : x;
  const F y = xc + 12582912.f;  // 1.5 * 2^23 + k
  const F k = y - 12582912.f;
  F f = xc - k;
  F p = 1.5252733804059840e-5f;            // ln2^7 / 7!
  p = p * f + 1.5403530393381606e-4f;       // ln2^6 / 6!
  p = p * f + 1.3333558146428443e-3f;       // ln2^5 / 5!
  p = p * f + 9.6181291076284772e-3f;       // ln2^4 / 4!
  p = p * f + 5.5504108664821580e-2f;       // ln2^3 / 3!
  p = p * f + 2.4022650695910071e-1f;       // ln2^2 / 2!
  p = p * f + 6.9314718055994531e-1f;       // ln2
  p = p * f + 1.0f;
  // y's bits are 0x4b400000 + k, whose low 9 bits are 0 before k: shifted by 23 they leave the
  // exponent field k + 127 (k = -127 -> bits 0 -> 2^k = +0).
  I e = ((I)y + 127) << 23;
  return p * (F)e;  // (F)e reinterprets the bits
}

// exp2 for values about to be rounded to bf16 (AMX P . V): degree 5 (relative error < 3e-6,
// against bf16's 2^-9 rounding), two multiply-adds fewer than vexp2's degree 7.
template <class F, class I>
inline F vexp2_bf16(F x) {
  F xc = x < -127.f ? (F)(-127.f) : x;
  const F y = xc + 12582912.f;
  const F k = y - 12582912.f;
  F f = xc - k;
  F p = 1.3333558146428443e-3f;
  p = p * f + 9.6181291076284772e-3f;
  p = p * f + 5.5504108664821580e-2f;
  p = p * f + 2.4022650695910071e-1f;
  p = p * f + 6.9314718055994531e-1f;
  p = p * f + 1.0f;
  I e = ((I)y + 127) << 23;
  return p * (F)e;
}

// tanh(x) = 1 - 2 / (2^(2 x log2 e) + 1), |x| clamped to 9 where tanh is 1 in float; absolute
// error ~1e-7 (for soft-capping, whose result is scaled by the cap).
template <class F, class I>
inline F vtanh(F x) {
  F xc = x > 9.f ? (F)9.f : x;
  xc = xc < -9.f ? (F)(-9.f) : xc;
  F e = vexp2<F, I>(xc * 2.8853900817779268f);
  return 1.f - 2.f / (e + 1.f);
}

inline float stanh(float x) {
  typedef typename Vec<4>::F F4;
  typedef typename Vec<4>::I I4;
  return vtanh<F4, I4>((F4)x)[0];
}

// log2(x) for finite x > 0, in double (used once per output row, for the LSE).
inline double slog2(double x) {
  unsigned long long bits;
  __builtin_memcpy(&bits, &x, 8);
  long long e = (long long)((bits >> 52) & 0x7ff) - 1023;
  bits = (bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull;  // mantissa in [1, 2)
  double m;
  __builtin_memcpy(&m, &bits, 8);
  if (m > 1.4142135623730951) { m *= 0.5; e += 1; }
  // ln m = 2 atanh(s), s = (m-1)/(m+1), |s| < 0.172: series to s^11 (error < 1e-10).
  double s = (m - 1.0) / (m + 1.0), s2 = s * s;
  double ln = 2.0 * s * (1.0 + s2 * (1.0 / 3 + s2 * (1.0 / 5 + s2 * (1.0 / 7 + s2 * (1.0 / 9 + s2 * (1.0 / 11))))));
  return (double)e + ln * 1.4426950408889634;
}

// Scalar storage conversions. Branch-free loads so clang vectorises the tile conversion loops.
inline float bf16_load(unsigned short h) {
  unsigned u = (unsigned)h << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}
inline float f16_load(unsigned short h) {
  unsigned em = h & 0x7fffu, sign = (unsigned)(h & 0x8000u) << 16;
  // (em << 13) is the value scaled by 2^-112 as a float, subnormals included.
  unsigned b = em << 13;
  float f;
  __builtin_memcpy(&f, &b, 4);
  f *= 5.192296858534828e33f;  // 2^112
  unsigned r;
  __builtin_memcpy(&r, &f, 4);
  r = em >= 0x7c00u ? (b | 0x7f800000u) : r;  // inf / nan
  r |= sign;
  __builtin_memcpy(&f, &r, 4);
  return f;
}
// Round to nearest even.
inline unsigned short bf16_store(float f) {
  unsigned u;
  __builtin_memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return (unsigned short)(u >> 16);
}
inline unsigned short f16_store(float f) {
  unsigned x;
  __builtin_memcpy(&x, &f, 4);
  unsigned sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) return (unsigned short)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0u));
  if (ax >= 0x477ff000u) return (unsigned short)(sign | 0x7c00u);  // rounds to >= 65520: inf
  if (ax < 0x38800000u) {  // f16 subnormal or zero: count of 2^-24 units, nearest even
    float v;
    __builtin_memcpy(&v, &ax, 4);
    v *= 16777216.0f;
    unsigned m = (unsigned)v;
    float rem = v - (float)m;
    if (rem > 0.5f || (rem == 0.5f && (m & 1u))) ++m;
    return (unsigned short)(sign | m);
  }
  unsigned h = (((ax >> 23) - 112u) << 10) | ((ax >> 13) & 0x3ffu), r = ax & 0x1fffu;
  if (r > 0x1000u || (r == 0x1000u && (h & 1u))) ++h;  // a carry into the exponent is correct
  return (unsigned short)(sign | h);
}

template <int Storage>
struct Storage_;
template <>
struct Storage_<kStoreF32> {
  typedef float T;
  static float load(float x) { return x; }
  static float store(float x) { return x; }
};
template <>
struct Storage_<kStoreBF16> {
  typedef unsigned short T;
  static float load(unsigned short x) { return bf16_load(x); }
  static unsigned short store(float x) { return bf16_store(x); }
};
template <>
struct Storage_<kStoreF16> {
  typedef unsigned short T;
  static float load(unsigned short x) { return f16_load(x); }
  static unsigned short store(float x) { return f16_store(x); }
};

}  // namespace attnjit::cpu
