// Emulated tensor maps: cuTensorMapEncodeTiled with the CUDA driver's documented argument checks
// (Driver API, "Tensor Map Object Management"), writing the fields into the 128-byte opaque map
// that the emulated cp.async.bulk.tensor reads back. Enum values are the driver's.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include "emu/emu_runtime.h"

namespace emu::sm90 {

enum : int {  // CUtensorMapDataType
  kTmaU8 = 0, kTmaU16, kTmaU32, kTmaI32, kTmaU64, kTmaI64, kTmaF16, kTmaF32, kTmaF64, kTmaBf16,
  kTmaF32Ftz, kTmaTf32, kTmaTf32Ftz
};
enum : int { kInterleaveNone = 0, kInterleave16B, kInterleave32B };
enum : int { kSwizzleNone = 0, kSwizzle32B, kSwizzle64B, kSwizzle128B };
enum : int { kL2None = 0, kL2_64B, kL2_128B, kL2_256B };
enum : int { kOobZero = 0, kOobNanRequestZeroFma };
inline constexpr int kCudaSuccess = 0, kCudaErrorInvalidValue = 1;

// What a tensor map holds, plus the coordinates of the box being copied (set per copy).
struct TensorMapFields {
  uint32_t magic = 0;
  uint8_t dtype = 0, rank = 0, interleave = 0, swizzle = 0, oob_fill = 0, elem = 0;
  uint8_t elem_strides[5] = {};
  uint16_t box[5] = {};
  void* addr = nullptr;
  uint64_t dims[5] = {};
  uint64_t strides[4] = {};  // bytes, dimensions 1..rank-1
  int coords[5] = {};        // not stored in the map
  unsigned swizzle_span() const {
    return swizzle == kSwizzle32B ? 32 : swizzle == kSwizzle64B ? 64 : swizzle == kSwizzle128B ? 128 : 0;
  }
};
inline constexpr uint32_t kMapMagic = 0x7e45a90u;
static_assert(sizeof(TensorMapFields) - sizeof(int) * 5 <= 128, "fields must fit the opaque map");

inline std::string& last_encode_error() {
  static std::string s;
  return s;
}

inline int element_bytes(int dtype) {
  switch (dtype) {
    case kTmaU8: return 1;
    case kTmaU16: case kTmaF16: case kTmaBf16: return 2;
    case kTmaU32: case kTmaI32: case kTmaF32: case kTmaF32Ftz: case kTmaTf32: case kTmaTf32Ftz: return 4;
    case kTmaU64: case kTmaI64: case kTmaF64: return 8;
    default: return 0;
  }
}

// cuTensorMapEncodeTiled. Returns kCudaSuccess, or kCudaErrorInvalidValue with the reason (naming
// the argument) in last_encode_error().
inline int encode_tiled(void* tensor_map, int dtype, uint32_t rank, void* global_address,
                        const uint64_t* global_dim, const uint64_t* global_strides,
                        const uint32_t* box_dim, const uint32_t* element_strides, int interleave,
                        int swizzle, int l2_promotion, int oob_fill) {
  auto fail = [](const std::string& why) {
    last_encode_error() = "cuTensorMapEncodeTiled: " + why;
    return kCudaErrorInvalidValue;
  };
  if (reinterpret_cast<uintptr_t>(tensor_map) % 64 != 0) return fail("tensorMap not 64-byte aligned");
  const int es = element_bytes(dtype);
  if (es == 0) return fail("tensorDataType " + std::to_string(dtype) + " unknown");
  if (interleave < kInterleaveNone || interleave > kInterleave32B)
    return fail("interleave " + std::to_string(interleave) + " unknown");
  if (rank < 1 || rank > 5 || (interleave != kInterleaveNone && rank < 3))
    return fail("tensorRank " + std::to_string(rank) + " outside [1, 5] ([3, 5] when interleaved)");
  const uintptr_t align = interleave == kInterleave32B ? 32 : 16;
  if (reinterpret_cast<uintptr_t>(global_address) % align != 0)
    return fail("globalAddress not " + std::to_string(align) + "-byte aligned");
  for (uint32_t i = 0; i < rank; ++i)
    if (global_dim[i] == 0 || global_dim[i] > (uint64_t{1} << 32))
      return fail("globalDim[" + std::to_string(i) + "] = " + std::to_string(global_dim[i]) +
                  " outside [1, 2^32]");
  for (uint32_t i = 0; i + 1 < rank; ++i)
    if (global_strides[i] % align != 0 || global_strides[i] >= (uint64_t{1} << 40))
      return fail("globalStrides[" + std::to_string(i) + "] = " + std::to_string(global_strides[i]) +
                  " not a multiple of " + std::to_string(align) + " below 2^40");
  for (uint32_t i = 0; i < rank; ++i)
    if (box_dim[i] == 0 || box_dim[i] > 256)
      return fail("boxDim[" + std::to_string(i) + "] = " + std::to_string(box_dim[i]) +
                  " outside [1, 256]");
  if (interleave == kInterleaveNone && (box_dim[0] * es) % 16 != 0)
    return fail("boxDim[0] * element size = " + std::to_string(box_dim[0] * es) +
                " bytes is not a multiple of 16");
  for (uint32_t i = 0; i < rank; ++i)
    if (element_strides[i] == 0 || element_strides[i] > 8)
      return fail("elementStrides[" + std::to_string(i) + "] = " + std::to_string(element_strides[i]) +
                  " outside [1, 8]");
  if (swizzle < kSwizzleNone || swizzle > kSwizzle128B)
    return fail("swizzle " + std::to_string(swizzle) + " unknown");
  if (l2_promotion < kL2None || l2_promotion > kL2_256B)
    return fail("l2Promotion " + std::to_string(l2_promotion) + " unknown");
  if (oob_fill != kOobZero && oob_fill != kOobNanRequestZeroFma)
    return fail("oobFill " + std::to_string(oob_fill) + " unknown");
  if (oob_fill == kOobNanRequestZeroFma &&
      !(dtype == kTmaF16 || dtype == kTmaF32 || dtype == kTmaF64 || dtype == kTmaBf16 ||
        dtype == kTmaF32Ftz || dtype == kTmaTf32 || dtype == kTmaTf32Ftz))
    return fail("oobFill NAN_REQUEST_ZERO_FMA needs a floating-point tensorDataType");
  if (interleave == kInterleave32B && swizzle != kSwizzle32B)
    return fail("interleave 32B requires swizzle 32B");
  if (interleave == kInterleaveNone && swizzle != kSwizzleNone) {
    const uint32_t span = swizzle == kSwizzle32B ? 32 : swizzle == kSwizzle64B ? 64 : 128;
    if (box_dim[0] * es > span)
      return fail("boxDim[0] * element size = " + std::to_string(box_dim[0] * es) +
                  " bytes exceeds the swizzle span of " + std::to_string(span) + " bytes");
  }
  TensorMapFields f;
  f.magic = kMapMagic;
  f.dtype = static_cast<uint8_t>(dtype);
  f.rank = static_cast<uint8_t>(rank);
  f.interleave = static_cast<uint8_t>(interleave);
  f.swizzle = static_cast<uint8_t>(swizzle);
  f.oob_fill = static_cast<uint8_t>(oob_fill);
  f.elem = static_cast<uint8_t>(es);
  f.addr = global_address;
  for (uint32_t i = 0; i < rank; ++i) {
    f.dims[i] = global_dim[i];
    f.box[i] = static_cast<uint16_t>(box_dim[i]);
    f.elem_strides[i] = static_cast<uint8_t>(element_strides[i]);
    if (i + 1 < rank) f.strides[i] = global_strides[i];
  }
  std::memset(tensor_map, 0, 128);
  std::memcpy(tensor_map, &f, sizeof(TensorMapFields) - sizeof(f.coords));
  last_encode_error().clear();
  return kCudaSuccess;
}

// The fields of a map written by encode_tiled (throws EmuError on anything else).
inline TensorMapFields decode_map(const void* tensor_map) {
  TensorMapFields f;
  std::memcpy(&f, tensor_map, sizeof(TensorMapFields) - sizeof(f.coords));
  for (int& c : f.coords) c = 0;
  if (f.magic != kMapMagic)
    throw EmuError("cp.async.bulk.tensor: operand is not a tensor map from cuTensorMapEncodeTiled");
  return f;
}

}  // namespace emu::sm90
