// fp8 KV caches from Python: which format a cache holds (torch's float8 dtypes, or uint8 codes
// named by kv_dtype) and its float32 dequantisation scales, checked with errors naming the
// argument before the library sees pointers.
#pragma once

#include <optional>
#include <string>

#include "tensor_arg.h"

namespace attnjit::python {

// The storage of `k_cache`: KvDType::Same for any dtype but fp8; E4M3 / E5M2 for
// float8_e4m3fn / float8_e5m2, or for uint8 with `kv_dtype` "e4m3" / "e5m2" ("" = from the
// dtype). TypeError for uint8 without kv_dtype or a kv_dtype that contradicts the dtype,
// ValueError for an unknown kv_dtype.
KvDType kv_dtype_of(const Arg& k_cache, const std::string& kv_dtype);

// k_scale / v_scale (null = not given) for a.problem.kv_dtype: refused (ValueError) without fp8,
// required with it; float32, shape () or (1,) per tensor or (heads_kv,) per KV head, both the
// same way, on the runtime's device. Sets a.k_scale, a.v_scale and a.kv_scale_per_head.
void kv_scales(DecodeArgs& a, const Arg& k_cache, const Arg* k_scale, const Arg* v_scale, const Placement& where);

}  // namespace attnjit::python
