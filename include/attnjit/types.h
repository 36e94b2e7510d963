// Small enums shared by every component, with their canonical spellings.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace attnjit {

// Any invalid problem, config or target. The message names the field and the allowed values.
struct SpecError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Any failure in compiling, loading, launching or a device call. The message names the call,
// the error and the kernel involved.
struct BackendError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class Family { Prefill, Decode };
enum class DType { F16, BF16, F32 };
enum class MaskKind { None, Causal, SlidingWindow };
enum class Platform { Cuda, Cpu };  // where a kernel runs

std::string_view to_string(Family f);     // "prefill" | "decode"
std::string_view to_string(DType d);      // "f16" | "bf16" | "f32"
std::string_view to_string(MaskKind m);   // "none" | "causal" | "sliding_window"
std::string_view to_string(Platform b);    // "cuda" | "cpu"

// Each throws SpecError("<field>: unknown value 'x' (allowed: a, b, c)").
Family parse_family(std::string_view s);
DType parse_dtype(std::string_view s);
MaskKind parse_mask_kind(std::string_view s);  // also accepts "sw" / "window"
Platform parse_platform(std::string_view s);

// Bytes per element in memory.
int dtype_bytes(DType d);

// Storage of a decode problem's KV cache: the query's dtype (Same), or 8-bit floats (OCP FP8
// e4m3 "fn": no infinities, S.1111.111 is NaN; e5m2: IEEE-like) with f32 dequantisation scales,
// converted in the kernel.
enum class KvDType { Same, E4M3, E5M2 };
std::string_view to_string(KvDType k);  // "same" | "e4m3" | "e5m2"
KvDType parse_kv_dtype(std::string_view s);  // throws SpecError("kv_dtype: ...")
// Bytes per K/V element: the query dtype's, or 1 for fp8.
int kv_dtype_bytes(DType d, KvDType k);

}  // namespace attnjit
