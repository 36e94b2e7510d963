// Host conversions between float and the 16-bit storage types (round to nearest even),
// so host code can build inputs, round them to the kernel's dtype, and read outputs.
#pragma once

#include <cstdint>
#include <cstring>

#include "codegen/types.h"

namespace attnjit {

inline float bits_to_float(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
inline uint32_t float_to_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }

inline uint16_t float_to_bf16(float f) {
  uint32_t u = float_to_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}
inline float bf16_to_float(uint16_t h) { return bits_to_float(static_cast<uint32_t>(h) << 16); }

inline uint16_t float_to_f16(float f) {
  uint32_t x = float_to_bits(f);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0));
  if (ax >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to >= 65520: inf
  if (ax < 0x38800000u) {  // subnormal or zero in f16
    // value * 2^24 rounded to nearest even, as an integer count of 2^-24 units
    float v = bits_to_float(ax) * 16777216.0f;
    uint32_t m = static_cast<uint32_t>(v);
    float rem = v - static_cast<float>(m);
    if (rem > 0.5f || (rem == 0.5f && (m & 1u))) ++m;
    return static_cast<uint16_t>(sign | m);
  }
  uint32_t e = ((ax >> 23) - 112u) << 10;
  uint32_t m = (ax >> 13) & 0x3ffu;
  uint32_t r = ax & 0x1fffu;
  uint32_t h = e | m;
  if (r > 0x1000u || (r == 0x1000u && (h & 1u))) ++h;  // may carry into the exponent: correct
  return static_cast<uint16_t>(sign | h);
}

inline float f16_to_float(uint16_t h) {
  uint32_t sign = (static_cast<uint32_t>(h) & 0x8000u) << 16;
  uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0) {
    float v = static_cast<float>(m) / 16777216.0f;  // m * 2^-24
    return sign ? -v : v;
  }
  if (e == 31) return bits_to_float(sign | 0x7f800000u | (m << 13));
  return bits_to_float(sign | ((e + 112u) << 23) | (m << 13));
}

// Storage <-> float for a dtype (f32 passes through).
inline float load_as_float(DType d, const void* p, int64_t i) {
  switch (d) {
    case DType::F16: return f16_to_float(static_cast<const uint16_t*>(p)[i]);
    case DType::BF16: return bf16_to_float(static_cast<const uint16_t*>(p)[i]);
    case DType::F32: return static_cast<const float*>(p)[i];
  }
  return 0.f;
}
inline void store_from_float(DType d, void* p, int64_t i, float v) {
  switch (d) {
    case DType::F16: static_cast<uint16_t*>(p)[i] = float_to_f16(v); break;
    case DType::BF16: static_cast<uint16_t*>(p)[i] = float_to_bf16(v); break;
    case DType::F32: static_cast<float*>(p)[i] = v; break;
  }
}
// The value a float takes once stored in the dtype.
inline float round_to(DType d, float v) {
  switch (d) {
    case DType::F16: return f16_to_float(float_to_f16(v));
    case DType::BF16: return bf16_to_float(float_to_bf16(v));
    case DType::F32: return v;
  }
  return v;
}

}  // namespace attnjit
