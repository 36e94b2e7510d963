// Hopper operand layouts for the emulator, from the PTX ISA (see
// templates/common/sm90_primitives.cuh): the shared-memory swizzles, the wgmma matrix descriptor
// and the K-major / MN-major canonical layouts it describes, and the register fragments of the
// m64nNk16 accumulator and of A in registers. Plain functions, so tests can pin each one down.
#pragma once

#include <cstdint>
#include <cstdio>
#include <source_location>
#include <string>

#include "emu/emu_runtime.h"

namespace emu::sm90 {

inline constexpr int kWarpgroup = 128;

inline std::string where(const std::source_location& l) {
  std::string f = l.file_name();
  const size_t slash = f.rfind('/');
  if (slash != std::string::npos) f = f.substr(slash + 1);
  return f + ":" + std::to_string(l.line());
}

inline std::string hex(unsigned v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%x", v);
  return b;
}

// Swizzle of a shared address with a span of 32, 64 or 128 bytes (0: none): the 16-byte chunk
// bits [4, 4+b) are XORed with bits [7, 7+b), b = log2(span / 16).
inline unsigned swizzle_addr(unsigned addr, unsigned span) {
  if (span == 0) return addr;
  const unsigned bits = span == 32 ? 1 : span == 64 ? 2 : 3;
  return addr ^ (((addr >> 7) & ((1u << bits) - 1)) << 4);
}

// ---- wgmma operand layouts ----

struct Desc {
  unsigned start, lbo, sbo, span;  // bytes; span: swizzle bytes (0 = none)
};

inline Desc decode_desc(uint64_t d, const char* what) {
  if (((d >> 49) & 7) != 0)
    throw EmuError(std::string(what) + ": descriptor base offset " + std::to_string((d >> 49) & 7) +
                   " is not modelled (tiles are aligned to their swizzle pattern)");
  static const unsigned spans[4] = {0, 128, 64, 32};
  return Desc{static_cast<unsigned>(d & 0x3fff) << 4, static_cast<unsigned>((d >> 16) & 0x3fff) << 4,
              static_cast<unsigned>((d >> 32) & 0x3fff) << 4, spans[(d >> 62) & 3]};
}

// Shared address of element (mn, k) of a K-major operand (A: mn = row of M; B: mn = column n).
inline unsigned kmajor_addr(const Desc& d, int mn, int k) {
  const unsigned m = static_cast<unsigned>(mn), kk = static_cast<unsigned>(k);
  if (d.span == 0) return d.start + (m / 8) * d.sbo + (m % 8) * 16 + (kk / 8) * d.lbo + (kk % 8) * 2;
  return swizzle_addr(d.start + (m / 8) * d.sbo + (m % 8) * d.span + kk * 2, d.span);
}

// Shared address of element (n, k) of an MN-major B operand (kTransB = 1).
inline unsigned mnmajor_addr(const Desc& d, int n, int k) {
  const unsigned nn = static_cast<unsigned>(n), kk = static_cast<unsigned>(k);
  if (d.span == 0) return d.start + (nn / 8) * d.sbo + (nn % 8) * 2 + (kk % 8) * 16 + (kk / 8) * d.lbo;
  const unsigned w = d.span / 2;  // 16-bit elements per swizzle row
  return swizzle_addr(d.start + (nn / w) * d.lbo + (nn % w) * 2 + (kk % 8) * d.span + (kk / 8) * d.sbo,
                      d.span);
}

// Accumulator register i of warpgroup thread t holds D[row][col] (PTX ISA, wgmma .m64nNk16 D).
inline int acc_row(int t, int i) { return 16 * (t / 32) + (t % 32) / 4 + 8 * ((i >> 1) & 1); }
inline int acc_col(int t, int i) { return 8 * (i >> 2) + 2 * (t % 4) + (i & 1); }
// Register-A element e (0..7, two per register, low half first) of thread t: row, k.
inline int afrag_row(int t, int e) { return 16 * (t / 32) + (t % 32) / 4 + 8 * ((e >> 1) & 1); }
inline int afrag_k(int t, int e) { return 2 * (t % 4) + (e & 1) + 8 * (e >> 2); }

}  // namespace emu::sm90
