// fp8 KV-cache elements (OCP e4m3 "fn" and e5m2), shared by the decode templates (GPU, the
// emulator, the CPU JIT) and host tests: the kind tags, the config trait that says whether a
// kernel reads an fp8 cache, and the portable exact conversion of one code to float.
// Include-free and builtin-only, like variants.h.
#pragma once

#include "common/variants.h"  // ATTNJIT_HD

namespace attnjit {
namespace fp8 {

// Kinds as a config's kKvFp8 spells them (0 = K/V in the query's dtype).
enum Kind { kNone = 0, kE4M3 = 1, kE5M2 = 2 };

// The fp8 kind of a template's config C: C::kKvFp8 where C declares it, else kNone. A function,
// not a constant, for the reason softcap_of gives (variants.h): kernels without an fp8 cache
// keep exactly their code.
template <class C>
ATTNJIT_HD constexpr auto kind_of_(int) -> decltype(static_cast<int>(C::kKvFp8)) { return C::kKvFp8; }
template <class C>
ATTNJIT_HD constexpr int kind_of_(long) { return kNone; }
template <class C>
ATTNJIT_HD constexpr int kind_of() { return kind_of_<C>(0); }

ATTNJIT_HD float bits_to_float(unsigned u) {
#if defined(__CUDACC_RTC__) || defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  return __builtin_bit_cast(float, u);
#endif
}

// Code b (low 8 bits) of kind K as a float, exactly, by integer operations only and without a
// subnormal intermediate (so no flush-to-zero mode can change it): mantissa with its implicit
// bit, times 2^(exponent - bias - mantissa bits), a normal float for every code. The NaN /
// infinity codes come out as large finite values (they are not valid cache contents).
template <int K>
ATTNJIT_HD float to_float(unsigned b) {
  constexpr unsigned kMant = K == kE4M3 ? 3u : 2u;
  constexpr int kBias = K == kE4M3 ? 7 : 15;
  const unsigned e = (b & 0x7fu) >> kMant, m = b & ((1u << kMant) - 1u);
  const unsigned mant = e ? (m | (1u << kMant)) : m;  // subnormals: no implicit bit ...
  const int exp = (e ? static_cast<int>(e) : 1) - kBias - static_cast<int>(kMant);  // ... exponent 1
  const float v = static_cast<float>(static_cast<int>(mant)) * bits_to_float(static_cast<unsigned>(exp + 127) << 23);
  return (b & 0x80u) ? -v : v;
}

}  // namespace fp8
}  // namespace attnjit
