// Register-level building blocks of the CPU decode (templates/decode/cpu.h), in clang vector
// extensions plus the one x86 builtin worth having (AVX-512 BF16's vdpbf16ps). Like cpu_vec.h,
// JIT-compiled by clang with no system headers.
//
// Row pairs. A head-dim row is handled in segments of 2V elements, each held as two fp32
// vectors ("a pair"). Which element sits in which lane depends on the storage, so that each
// conversion is as cheap as it can be:
//   f32, f16: vector 0 = elements [0, V), vector 1 = [V, 2V);
//   bf16:     one 32-bit lane holds two bf16 elements, so vector 0 = the even elements
//             (lane << 16) and vector 1 = the odd ones (lane & 0xffff0000): 2 integer ops per 2V
//             elements, no shuffles.
// A dot product does not care about the order as long as both operands share it, so queries go
// through the same loader as keys; an output accumulated from V rows carries the permutation and
// RowPairs::element maps it back when the row is stored.
//
// TreeSum: the lane sums of N <= V vectors at once, as one vector (lane i = sum of input i), in
// log2(V) levels of "two shuffles and an add" over pairs of vectors, instead of N separate
// horizontal sums (log2(V) shuffle+add each). For 8 vectors of 8 lanes: 21 ops instead of 48.
#pragma once

#include "common/cpu_vec.h"

namespace attnjit::cpu {

template <int... Is>
struct Ints {};
template <int N, int... Is>
struct MakeInts {
  typedef typename MakeInts<N - 1, N - 1, Is...>::type type;
};
template <int... Is>
struct MakeInts<0, Is...> {
  typedef Ints<Is...> type;
};

template <int Storage, int V>
struct RowPairs;

template <int V>
struct RowPairs<kStoreF32, V> {
  typedef typename Vec<V>::F F;
  static void load(const float* p, F& a, F& b) {
    __builtin_memcpy(&a, p, sizeof(F));
    __builtin_memcpy(&b, p + V, sizeof(F));
  }
  // Element (within the segment) held by lane e of vector h (0 or 1).
  static constexpr int element(int h, int e) { return h * V + e; }
};

template <int V>
struct RowPairs<kStoreBF16, V> {
  typedef typename Vec<V>::F F;
  typedef typename Vec<V>::U U;
  static U raw(const unsigned short* p) {
    U x;
    __builtin_memcpy(&x, p, sizeof(U));
    return x;
  }
  static void load(const unsigned short* p, F& a, F& b) {
    const U x = raw(p);
    a = (F)(x << 16);
    b = (F)(x & 0xffff0000u);
  }
  static constexpr int element(int h, int e) { return 2 * e + h; }
};

template <int V>
struct RowPairs<kStoreF16, V> {
  typedef typename Vec<V>::F F;
  typedef typename Vec<V>::U U;
  typedef unsigned short H __attribute__((ext_vector_type(V)));
  // f16_load (cpu_vec.h) on V lanes.
  static F convert(const unsigned short* p) {
    H h;
    __builtin_memcpy(&h, p, sizeof(H));
    const U x = __builtin_convertvector(h, U);
    const U em = x & 0x7fffu, sign = (x & 0x8000u) << 16, b = em << 13;
    const U scaled = (U)((F)b * 5.192296858534828e33f);  // 2^112: rebias, subnormals included
    const U special = (U)(em >= 0x7c00u);                // inf / nan: all ones where true
    return (F)(((scaled & ~special) | ((b | 0x7f800000u) & special)) | sign);
  }
  static void load(const unsigned short* p, F& a, F& b) {
    a = convert(p);
    b = convert(p + V);
  }
  static constexpr int element(int h, int e) { return h * V + e; }
};

// fp8 K/V rows (e4m3 / e5m2 codes, templates/common/fp8.h), converted in registers into the
// lane order of the query's RowPairs, so dot products and stored outputs line up: even / odd
// elements for bf16 queries (kEvenOdd), [0, V) and [V, 2V) for f32 / f16 ones.
template <int Kind, int V, bool kEvenOdd>
struct RowPairsFp8 {
  typedef typename Vec<V>::F F;
  typedef typename Vec<V>::U U;
  typedef unsigned char B __attribute__((ext_vector_type(V)));
  typedef unsigned short H __attribute__((ext_vector_type(V)));
  typedef unsigned char B2 __attribute__((ext_vector_type(2 * V)));
  // One code per 32-bit lane -> its value: exponent and mantissa bits moved into an fp32's
  // fields, then the bias difference multiplied back (2^120 for e4m3, 2^112 for e5m2). Exact;
  // subnormal codes pass through an fp32 subnormal, as in the f16 loader (no DAZ).
  static F convert(U x) {
    const U bits = ((x & 0x7fu) << (Kind == 1 ? 20 : 21)) | ((x & 0x80u) << 24);
    return (F)bits * (Kind == 1 ? 1.329227995784916e36f : 5.192296858534828e33f);
  }
  static void load(const unsigned char* p, F& a, F& b) {
#if defined(__F16C__)
    load_f16c(p, a, b);
    return;
#endif
    if constexpr (kEvenOdd) {
      H h;
      __builtin_memcpy(&h, p, sizeof(H));
      const U x = __builtin_convertvector(h, U);
      a = convert(x & 0xffu);
      b = convert(x >> 8);
    } else {
      B lo, hi;
      __builtin_memcpy(&lo, p, sizeof(B));
      __builtin_memcpy(&hi, p + V, sizeof(B));
      a = convert(__builtin_convertvector(lo, U));
      b = convert(__builtin_convertvector(hi, U));
    }
  }

#if defined(__F16C__)
  // The same values through fp16 and the hardware's fp16 -> fp32 conversion (vcvtph2ps), so
  // that no fp32 subnormal ever exists: convert() turns every subnormal code into one, and an
  // fp32 subnormal operand costs Zen 3 a microcode assist (random e4m3 codes ran the whole
  // decode at half speed). One byte shuffle puts each code in the high byte of a 16-bit lane, in
  // the order of the query's lanes (a: lanes [0, V), b: [V, 2V)), with a zero low byte: that is
  // the e5m2 code's fp16; e4m3 moves exponent and mantissa down one bit (an arithmetic shift
  // keeps the sign; the mask drops its copy and the low byte) and is 2^-8 of its fp16 value.
  // Exact, like convert(); e5m2 infinities and NaNs stay so.
  typedef short S __attribute__((ext_vector_type(2 * V)));
  typedef __fp16 HV __attribute__((ext_vector_type(V)));
  typedef short SV __attribute__((ext_vector_type(V)));
  static constexpr int code(int lane) {
    return kEvenOdd ? 2 * (lane % V) + lane / V : lane;  // the code lane `lane` of a:b holds
  }
  template <int... L>
  static void load_f16c_(const unsigned char* p, F& a, F& b, Ints<L...>) {
    B2 x, zero = 0;
    __builtin_memcpy(&x, p, sizeof(B2));
    S y = (S)__builtin_shufflevector(x, zero, (L % 2 ? code(L / 2) : 2 * V)...);
    if constexpr (Kind == 1) y = (y >> 1) & (short)0xbf80;
    SV lo, hi;
    __builtin_memcpy(&lo, &y, sizeof(SV));
    __builtin_memcpy(&hi, (const char*)&y + sizeof(SV), sizeof(SV));
    a = __builtin_convertvector((HV)lo, F);
    b = __builtin_convertvector((HV)hi, F);
    if constexpr (Kind == 1) {
      a *= 256.f;
      b *= 256.f;
    }
  }
  static void load_f16c(const unsigned char* p, F& a, F& b) {
    load_f16c_(p, a, b, typename MakeInts<4 * V>::type());
  }
#endif
};

// acc + sum over the two bf16 halves of each 32-bit lane of a * b, in fp32: vdpbf16ps where the
// host has it (AVX-512 BF16), else the same products with two FMAs (exact: a product of two
// bf16 values fits in fp32).
template <int V>
inline typename Vec<V>::F dot_bf16_pairs(typename Vec<V>::F acc, typename Vec<V>::U a, typename Vec<V>::U b) {
  typedef typename Vec<V>::F F;
#if defined(__AVX512BF16__)
  typedef float GF __attribute__((vector_size(V * 4)));
  typedef int GI __attribute__((vector_size(V * 4)));
  if constexpr (V == 16) {
    return (F)__builtin_ia32_dpbf16ps_512((GF)acc, (GI)a, (GI)b);
  }
#if defined(__AVX512VL__)
  if constexpr (V == 8) return (F)__builtin_ia32_dpbf16ps_256((GF)acc, (GI)a, (GI)b);
  if constexpr (V == 4) return (F)__builtin_ia32_dpbf16ps_128((GF)acc, (GI)a, (GI)b);
#endif
#endif
  const unsigned hi = 0xffff0000u;
  return acc + (F)(a << 16) * (F)(b << 16) + (F)(a & hi) * (F)(b & hi);
}

template <int V>
struct TreeSum {
  typedef typename Vec<V>::F F;

  // One level folds sub-vectors of width w (each the partial sums of one input) to width w/2,
  // taking them alternately from a and b: output lane L reads lane lo(w, L) and lo(w, L) + w/2
  // of the concatenation a:b. For V = 8 the three levels are 128-bit lane swaps, in-lane
  // shuffles and even/odd picks, all single AVX instructions.
  static constexpr int lo(int w, int L) {
    const int h = w / 2, sub = L / h;
    return (sub % 2) * V + (sub / 2) * w + L % h;
  }
  template <int W, int... L>
  static F level(F a, F b, Ints<L...>) {
    return __builtin_shufflevector(a, b, lo(W, L)...) + __builtin_shufflevector(a, b, (lo(W, L) + W / 2)...);
  }
  template <int W, int N>
  static void levels(F* x) {
    if constexpr (W > 1) {
      constexpr int M = N > 1 ? N / 2 : 1;
      for (int k = 0; k < M; ++k) x[k] = level<W>(x[2 * k], x[N > 1 ? 2 * k + 1 : 2 * k], typename MakeInts<V>::type());
      levels<W / 2, M>(x);
    }
  }
  // Which input's sum lane L of the folded vector holds (the levels run symbolically).
  static constexpr int source(int n, int L) {
    int ids[V][V] = {};
    for (int i = 0; i < n; ++i)
      for (int e = 0; e < V; ++e) ids[i][e] = i;
    int cnt = n;
    for (int w = V; w > 1; w /= 2) {
      const int m = cnt > 1 ? cnt / 2 : 1;
      int next[V][V] = {};
      for (int k = 0; k < m; ++k)
        for (int l = 0; l < V; ++l) {
          const int j = lo(w, l), a = 2 * k, b = cnt > 1 ? 2 * k + 1 : 2 * k;
          next[k][l] = j >= V ? ids[b][j - V] : ids[a][j];
        }
      for (int k = 0; k < m; ++k)
        for (int l = 0; l < V; ++l) ids[k][l] = next[k][l];
      cnt = m;
    }
    return ids[0][L];
  }
  static constexpr int lane_of(int n, int i) {
    for (int L = 0; L < V; ++L)
      if (source(n, L) == i) return L;
    return 0;
  }
  template <int N, int... L>
  static F finish(F x, Ints<L...>) {
    return __builtin_shufflevector(x, x, lane_of(N, L % N)...);
  }
  // x[0..N) (N a power of two <= V) is clobbered; lane i of the result = sum of x[i]'s lanes
  // (lanes >= N repeat the first N).
  template <int N>
  static F run(F* x) {
    static_assert(N >= 1 && N <= V && (N & (N - 1)) == 0, "TreeSum: N must be a power of two <= V");
    levels<V, N>(x);
    return finish<N>(x[0], typename MakeInts<V>::type());
  }
};

}  // namespace attnjit::cpu
