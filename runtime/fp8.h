// Host-side 8-bit float formats of an fp8 KV cache (OCP FP8, as torch.float8_e4m3fn and
// torch.float8_e5m2): exact decoding, round-to-nearest-even encoding, and the dequantisation the
// float64 reference applies (value * scale). Written from the formats' definitions, not from the
// kernels' bit tricks, so tests comparing the two check something:
//   e4m3: 1 sign, 4 exponent (bias 7), 3 mantissa bits; subnormals m/8 * 2^-6; no infinities;
//         S.1111.111 is NaN; largest finite 448.
//   e5m2: 1 sign, 5 exponent (bias 15), 2 mantissa bits; subnormals m/4 * 2^-14; S.11111.00 is
//         infinity, S.11111.{01,10,11} NaN; largest finite 57344.
// NaN and infinity codes are not valid cache contents: the kernels' result for them is
// unspecified (the sm_80 bit conversions read them as large finite values), and the reference's
// dequantisation refuses them with a SpecError.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "codegen/types.h"

namespace attnjit {

// The exact value of code b (NaN or +-inf for the special codes). k must be E4M3 or E5M2.
inline double fp8_to_double(KvDType k, uint8_t b) {
  const bool e4m3 = k == KvDType::E4M3;
  const int mbits = e4m3 ? 3 : 2, bias = e4m3 ? 7 : 15;
  const int e = (b & 0x7f) >> mbits, m = b & ((1 << mbits) - 1);
  const double sign = (b & 0x80) ? -1.0 : 1.0;
  if (e4m3 && (b & 0x7f) == 0x7f) return std::numeric_limits<double>::quiet_NaN();
  if (!e4m3 && e == 31) return m == 0 ? sign * std::numeric_limits<double>::infinity()
                                      : std::numeric_limits<double>::quiet_NaN();
  if (e == 0) return sign * std::ldexp(double(m), 1 - bias - mbits);
  return sign * std::ldexp(double((1 << mbits) | m), e - bias - mbits);
}

inline bool fp8_is_finite(KvDType k, uint8_t b) { return std::isfinite(fp8_to_double(k, b)); }

// The largest finite value of the format.
inline double fp8_max(KvDType k) { return k == KvDType::E4M3 ? 448.0 : 57344.0; }

// x rounded to the nearest code (ties to the even code), saturating to +-fp8_max beyond it, as
// a cache writer that scales its values into range does; NaN gives a NaN code.
inline uint8_t fp8_from_float(KvDType k, float x) {
  const uint8_t top = k == KvDType::E4M3 ? 0x7e : 0x7b;  // largest finite positive code
  if (std::isnan(x)) return 0x7f;
  const uint8_t sign = std::signbit(x) ? 0x80 : 0;
  const double a = std::fabs(double(x));
  // Positive finite codes 0..top are increasing in value: binary search, then the nearer one.
  uint8_t lo = 0, hi = top;
  if (a >= fp8_to_double(k, top)) return sign | top;
  while (hi - lo > 1) {
    const uint8_t mid = static_cast<uint8_t>((lo + hi) / 2);
    (fp8_to_double(k, mid) <= a ? lo : hi) = mid;
  }
  const double dl = a - fp8_to_double(k, lo), dh = fp8_to_double(k, hi) - a;
  const uint8_t code = dl < dh ? lo : dh < dl ? hi : ((lo & 1) ? hi : lo);
  return sign | code;
}

// What the reference computes with: code * scale, in double. Throws SpecError naming `what` for
// a NaN or infinity code (not a valid cache value).
inline double fp8_dequantize(KvDType k, uint8_t b, double scale, const char* what = "kv") {
  const double v = fp8_to_double(k, b);
  if (!std::isfinite(v))
    throw SpecError(std::string(what) + ": fp8 code 0x" + "0123456789abcdef"[b >> 4] +
                    "0123456789abcdef"[b & 15] + " is NaN or infinity, not a valid " +
                    std::string(to_string(k)) + " cache value");
  return v * scale;
}

}  // namespace attnjit
