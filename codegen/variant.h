// How a problem's variant (mask + score modification) is spelled in generated kernel source.
// One place, so every template's prelude writes the soft-cap the same, exact, way.
#pragma once

#include <charconv>
#include <string>

#include "attnjit/problem_spec.h"

namespace attnjit {

// The float the kernels use for c, as an exact C++17 hex literal ("0x1.9p+5f"); "0.f" = off.
inline std::string softcap_literal(double c) {
  if (c == 0) return "0.f";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, static_cast<float>(c), std::chars_format::hex);
  return "0x" + std::string(buf, r.ptr) + "f";
}

// The prelude line declaring the cap for variants::SoftCapped (namespace scope, before use).
inline std::string softcap_struct(double c) {
  return "struct Softcap { static constexpr float kValue = " + softcap_literal(c) + "; };\n";
}

// The sm80 templates' variant policy: the mask policy type wrapped, innermost first, by
// soft-capping (the prelude's Softcap struct), ALiBi and sinks (templates/common/variants*.h).
// Without any of them it is the mask type itself, so the kernel (and its PTX) is unchanged.
inline std::string score_variant_policy(const ProblemSpec& spec, std::string policy) {
  if (spec.softcap != 0) policy = "attnjit::variants::SoftCapped<" + policy + ", attnjit_gen::Softcap>";
  if (spec.alibi) policy = "attnjit::variants::WithAlibi<" + policy + ">";
  if (spec.sink) policy = "attnjit::variants::WithSink<" + policy + ">";
  return policy;
}

}  // namespace attnjit
