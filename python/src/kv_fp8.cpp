#include "kv_fp8.h"

namespace attnjit::python {
namespace {

constexpr uint8_t kUInt = static_cast<uint8_t>(nb::dlpack::dtype_code::UInt);
// DLPack 1.1's fp8 codes (kDLFloat8_e4m3fn, kDLFloat8_e5m2), as numbers: older nanobind
// releases (the GPU machine's carried copy) lack the enum names.
constexpr uint8_t kE4M3FN = 10, kE5M2 = 12;

// A dequantisation scale: float32, one per tensor (0-d or [1]) or per KV head ([heads_kv]),
// contiguous, on the runtime's device. Returns whether it is per head.
bool check_scale(const Arg& s, int64_t heads_kv, const Placement& where) {
  expect_device(s, where);
  expect_dtype(s, nb::dtype<float>(), "float32");
  const int64_t n = s.a.ndim() == 1 ? static_cast<int64_t>(s.a.shape(0)) : 0;
  const bool ok = s.a.ndim() == 0 || (s.a.ndim() == 1 && (n == 1 || n == heads_kv));
  if (!ok) {
    std::string shape = "(";
    for (size_t i = 0; i < s.a.ndim(); ++i) shape += (i ? ", " : "") + std::to_string(s.a.shape(i));
    throw nb::value_error((s.name + ": expected shape () or (1,) (per tensor) or (" + std::to_string(heads_kv) +
                           ",) (per KV head), got " + shape + (s.a.ndim() == 1 ? ",)" : ")")).c_str());
  }
  if (s.a.ndim() == 1) expect_unit_last_stride(s);
  return n == heads_kv && heads_kv > 1;
}

}  // namespace

KvDType kv_dtype_of(const Arg& k, const std::string& kv_dtype) {
  const nb::dlpack::dtype d = k.a.dtype();
  const bool byte = d.bits == 8 && d.lanes == 1;
  const KvDType tagged = byte && d.code == kE4M3FN ? KvDType::E4M3 : byte && d.code == kE5M2 ? KvDType::E5M2
                                                                                           : KvDType::Same;
  if (kv_dtype.empty()) {
    if (byte && d.code == kUInt)
      throw nb::type_error((k.name + ": uint8 holds fp8 codes only with kv_dtype='e4m3' or 'e5m2'").c_str());
    return tagged;
  }
  const KvDType want = kv_dtype == "e4m3" ? KvDType::E4M3 : kv_dtype == "e5m2" ? KvDType::E5M2 : KvDType::Same;
  if (want == KvDType::Same)
    throw nb::value_error(("kv_dtype: unknown value '" + kv_dtype + "' (allowed: e4m3, e5m2)").c_str());
  if (byte && d.code == kUInt) return want;
  if (tagged != want)
    throw nb::type_error(("kv_dtype: '" + kv_dtype + "' does not match " + k.name + "'s dtype " + dtype_name(d) +
                          " (give uint8 codes or the matching float8 dtype)").c_str());
  return want;
}

void kv_scales(DecodeArgs& a, const Arg& k_cache, const Arg* k_scale, const Arg* v_scale, const Placement& where) {
  const KvDType kv = a.problem.kv_dtype;
  if (kv == KvDType::Same) {
    for (auto [name, s] : {std::pair{"k_scale", k_scale}, {"v_scale", v_scale}})
      if (s)
        throw nb::value_error((std::string(name) + ": only an fp8 KV cache (float8_e4m3fn / float8_e5m2, or uint8 "
                               "with kv_dtype) takes a scale; " + k_cache.name + " is " +
                               dtype_name(k_cache.a.dtype())).c_str());
    return;
  }
  for (auto [name, s] : {std::pair{"k_scale", k_scale}, {"v_scale", v_scale}})
    if (!s)
      throw nb::value_error((std::string(name) + ": required with an fp8 KV cache (" + k_cache.name + " is " +
                             std::string(to_string(kv)) + "): the float32 dequantisation scale").c_str());
  const int64_t heads_kv = a.problem.heads_kv;
  const bool k_heads = check_scale(*k_scale, heads_kv, where), v_heads = check_scale(*v_scale, heads_kv, where);
  if (k_heads != v_heads)
    throw nb::value_error(("v_scale: " + std::string(v_heads ? "per KV head" : "per tensor") + " but k_scale is " +
                           (k_heads ? "per KV head" : "per tensor") + " (give both the same way)").c_str());
  a.k_scale = static_cast<const float*>(k_scale->a.data());
  a.v_scale = static_cast<const float*>(v_scale->a.data());
  a.kv_scale_per_head = k_heads;
}

}  // namespace attnjit::python
