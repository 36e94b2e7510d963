#include "codegen/types.h"

#include <array>
#include <utility>

namespace attnjit {
namespace {

template <class E, size_t N>
E parse_enum(std::string_view field, std::string_view s,
             const std::array<std::pair<std::string_view, E>, N>& table) {
  for (const auto& [name, value] : table)
    if (name == s) return value;
  std::string allowed;
  for (const auto& [name, value] : table) {
    if (!allowed.empty()) allowed += ", ";
    allowed += name;
  }
  throw SpecError(std::string(field) + ": unknown value '" + std::string(s) +
                  "' (allowed: " + allowed + ")");
}

}  // namespace

std::string_view to_string(Family f) { return f == Family::Prefill ? "prefill" : "decode"; }

std::string_view to_string(DType d) {
  switch (d) {
    case DType::F16: return "f16";
    case DType::BF16: return "bf16";
    case DType::F32: return "f32";
  }
  return "?";
}

std::string_view to_string(MaskKind m) {
  switch (m) {
    case MaskKind::None: return "none";
    case MaskKind::Causal: return "causal";
    case MaskKind::SlidingWindow: return "sliding_window";
  }
  return "?";
}

std::string_view to_string(Platform b) { return b == Platform::Cuda ? "cuda" : "cpu"; }

Family parse_family(std::string_view s) {
  static constexpr std::array<std::pair<std::string_view, Family>, 2> t{
      {{"prefill", Family::Prefill}, {"decode", Family::Decode}}};
  return parse_enum("family", s, t);
}

DType parse_dtype(std::string_view s) {
  static constexpr std::array<std::pair<std::string_view, DType>, 3> t{
      {{"f16", DType::F16}, {"bf16", DType::BF16}, {"f32", DType::F32}}};
  return parse_enum("dtype", s, t);
}

MaskKind parse_mask_kind(std::string_view s) {
  if (s == "sw" || s == "window") return MaskKind::SlidingWindow;
  static constexpr std::array<std::pair<std::string_view, MaskKind>, 3> t{
      {{"none", MaskKind::None}, {"causal", MaskKind::Causal},
       {"sliding_window", MaskKind::SlidingWindow}}};
  return parse_enum("mask", s, t);
}

Platform parse_platform(std::string_view s) {
  if (s == "gpu") return Platform::Cuda;
  static constexpr std::array<std::pair<std::string_view, Platform>, 2> t{
      {{"cuda", Platform::Cuda}, {"cpu", Platform::Cpu}}};
  return parse_enum("platform", s, t);
}

int dtype_bytes(DType d) { return d == DType::F32 ? 4 : 2; }

std::string_view to_string(KvDType k) {
  switch (k) {
    case KvDType::Same: return "same";
    case KvDType::E4M3: return "e4m3";
    case KvDType::E5M2: return "e5m2";
  }
  return "?";
}

KvDType parse_kv_dtype(std::string_view s) {
  static constexpr std::array<std::pair<std::string_view, KvDType>, 3> t{
      {{"same", KvDType::Same}, {"e4m3", KvDType::E4M3}, {"e5m2", KvDType::E5M2}}};
  return parse_enum("kv_dtype", s, t);
}

int kv_dtype_bytes(DType d, KvDType k) { return k == KvDType::Same ? dtype_bytes(d) : 1; }

}  // namespace attnjit
