// AMX tiles (Intel Sapphire Rapids and newer, `amx-tile` + `amx-bf16`) for the CPU templates
// (decode/cpu.h and prefill/cpu.h, kOrder 2): the tile configuration and the bf16 operand
// shuffles the tiles need. The runtime asks Linux for the tile state (arch_prctl
// ARCH_REQ_XCOMP_PERM) before it offers those features to the JIT
// (runtime/cpu/amx_permission.cpp), so a kernel with tiles never runs in a process without it.
//
// One TDPBF16PS multiplies a 16 x 32 bf16 tile A by a 32 x 16 bf16 tile B (in pairs: B's row i
// holds the pairs (B[2i][n], B[2i + 1][n])) into a 16 x 16 fp32 tile C: 8192 multiply-adds in
// 8.5 TSC cycles (2.1 GHz TSC, Emerald Rapids VM), whatever N, against 32 per AVX-512 vdpbf16ps.
#pragma once

#include "common/cpu_simd.h"

// Empty unless the target has amx-tile, amx-bf16 and avx512bf16; then ATTNJIT_CPU_AMX is 1.
#if defined(__AMXTILE__) && defined(__AMXBF16__) && defined(__AVX512BF16__)
#define ATTNJIT_CPU_AMX 1

namespace attnjit::cpu::amx {

// The 64-byte operand of LDTILECFG, palette 1: per tile register its rows and bytes per row.
struct alignas(64) TileConfig {
  unsigned char palette = 1, start_row = 0;
  unsigned char reserved[14] = {};
  unsigned short colsb[16] = {};
  unsigned char rows[16] = {};
  void set(int tile, int nrows, int bytes_per_row) {
    rows[tile] = (unsigned char)nrows;
    colsb[tile] = (unsigned short)bytes_per_row;
  }
};

inline void load_config(const TileConfig& c) { __builtin_ia32_tile_loadconfig(&c); }
inline void release() { __builtin_ia32_tilerelease(); }

template <int T>
inline void zero() { __builtin_ia32_tilezero(T); }
template <int T>
inline void load(const void* base, long long stride) { __builtin_ia32_tileloadd64(T, base, stride); }
template <int T>
inline void store(void* base, long long stride) { __builtin_ia32_tilestored64(T, base, stride); }
// C += A * B (bf16 pairs, fp32 accumulation).
template <int C, int A, int B>
inline void dot_bf16() { __builtin_ia32_tdpbf16ps(C, A, B); }

typedef float F16x __attribute__((vector_size(64)));
typedef short W32x __attribute__((vector_size(64)));
typedef unsigned U16x __attribute__((vector_size(64)));

// Rows x 32 keys of probabilities in bf16, row-major (an A tile of P . V), from the same
// probabilities in fp32 key-major: in[v] holds keys v * K .. v * K + K - 1 of every row, lane
// k * R + r (K = 16 / R). R in {1, 2, 4, 8, 16}. Three steps: pairs of vectors to bf16 (round to
// nearest even, as every other bf16 probability here), each vector's words to row-major (its
// 2K keys of a row side by side), then an R x R transpose of (64 / R)-byte blocks across the R
// vectors, by butterflies that swap off-diagonal blocks (log2 R two-source shuffles per vector).
template <int R>
struct ProbTranspose {
  static constexpr int K = 16 / R;  // keys per fp32 vector
  static constexpr int M = 16 / R;  // 32-bit lanes per block of the transpose
  static_assert(R == 1 || R == 2 || R == 4 || R == 8 || R == 16, "rows must be a power of two up to 16");

  // Word o of the row-major vector: row o / (2K), key o % (2K) <- word key * R + row.
  template <int... L>
  static W32x row_major(W32x x, Ints<L...>) {
    return __builtin_shufflevector(x, x, (((L % (2 * K)) * R + L / (2 * K)))...);
  }
  // Butterfly step S: blocks c with bit S set trade places between vectors i and i | S.
  template <int S, int... L>
  static U16x low(U16x a, U16x b, Ints<L...>) {
    return __builtin_shufflevector(a, b, ((L / M) & S ? 16 + ((L / M) ^ S) * M + L % M : L)...);
  }
  template <int S, int... L>
  static U16x high(U16x a, U16x b, Ints<L...>) {
    return __builtin_shufflevector(a, b, ((L / M) & S ? 16 + L : ((L / M) ^ S) * M + L % M)...);
  }
  template <int S>
  static void stage(U16x (&z)[R]) {
    if constexpr (S >= 1) {
      for (int i = 0; i < R; ++i)
        if (!(i & S)) {
          const U16x a = z[i], b = z[i | S];
          z[i] = low<S>(a, b, typename MakeInts<16>::type());
          z[i | S] = high<S>(a, b, typename MakeInts<16>::type());
        }
      stage<S / 2>(z);
    }
  }
  // in: 2R vectors (32 keys), `stride` vectors apart; out: R rows of 64 bytes.
  static void run(const F16x* in, U16x* out, int stride = 1) {
    U16x z[R];
    for (int i = 0; i < R; ++i) {
      const W32x w = (W32x)__builtin_ia32_cvtne2ps2bf16_512(in[(2 * i + 1) * stride], in[2 * i * stride]);
      z[i] = (U16x)row_major(w, typename MakeInts<32>::type());
    }
    stage<R / 2>(z);
    for (int r = 0; r < R; ++r) out[r] = z[r];
  }
};

// Two rows' 32 bf16 elements (64 bytes each) -> the two B-tile rows of their key pair: lo holds
// (a[e], b[e]) for elements 0..15, hi for 16..31, in element order.
template <int... L>
inline void pair_rows_(W32x a, W32x b, U16x& lo, U16x& hi, Ints<L...>) {
  lo = (U16x)__builtin_shufflevector(a, b, ((L % 2) * 32 + L / 2)...);
  hi = (U16x)__builtin_shufflevector(a, b, ((L % 2) * 32 + 16 + L / 2)...);
}
inline void pair_rows(const void* a, const void* b, U16x& lo, U16x& hi) {
  W32x x, y;
  __builtin_memcpy(&x, a, 64);
  __builtin_memcpy(&y, b, 64);
  pair_rows_(x, y, lo, hi, typename MakeInts<32>::type());
}

}  // namespace attnjit::cpu::amx

#endif  // ATTNJIT_CPU_AMX
