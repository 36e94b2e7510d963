#include "codegen/cpu_template.h"

#include <algorithm>
#include <string_view>

#include "codegen/embedded_templates.h"

namespace attnjit {

std::string CpuKernelTemplate::version_hash() const { return templates::version_hash(generator_, root_); }

bool CpuKernelTemplate::supports(const ProblemSpec& spec, const Target& target) const {
  return target.platform == Platform::Cpu && spec.family == family_ &&
         std::find(std::begin(kHeadDims), std::end(kHeadDims), spec.head_dim) != std::end(kHeadDims);
}

int CpuKernelTemplate::native_vec(const Target& t) { return std::clamp(t.vector_bits / 32, 4, 16); }
int CpuKernelTemplate::acc_regs(const Target& t) { return t.vector_bits >= 512 ? 16 : 8; }
int CpuKernelTemplate::hw_threads(const Target& t) { return std::max(1, t.sm_count); }

bool CpuKernelTemplate::has_feature(const Target& t, std::string_view f) {
  std::string_view s = t.cpu_features;
  while (!s.empty()) {
    const size_t comma = s.find(',');
    if (s.substr(0, comma) == f) return true;
    s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
  }
  return false;
}

bool CpuKernelTemplate::has_amx(const Target& t) {
  return has_feature(t, "+amx-tile") && has_feature(t, "+amx-bf16") && has_feature(t, "+avx512bf16");
}

std::vector<int> CpuKernelTemplate::thread_counts(const Target& t) {
  if (hw_threads(t) > 1) return {1, hw_threads(t)};
  return {1};
}

std::vector<TileConfig> CpuKernelTemplate::with_default(std::vector<TileConfig> space, const ProblemSpec& spec,
                                                        const Target& target) const {
  const TileConfig d = default_config(spec, target);
  if (std::find(space.begin(), space.end(), d) == space.end()) space.push_back(d);
  return space;
}

std::optional<std::string> CpuKernelTemplate::knob_refusal(const TileConfig& c) {
  if (!c.tmpl.empty() && c.tmpl != "cpu")
    return "template: config " + c.key() + " names template '" + c.tmpl + "', not cpu";
  if (c.warps != 1) return "warps: must be 1 on the CPU, got " + std::to_string(c.warps);
  if (c.stages != 1) return "stages: must be 1 on the CPU, got " + std::to_string(c.stages);
  return std::nullopt;
}

std::optional<std::string> CpuKernelTemplate::vec_refusal(int vec, const Target& t) {
  if (vec != 4 && vec != 8 && vec != 16) return "vec: must be 4, 8 or 16, got " + std::to_string(vec);
  if (vec * 32 > std::max(128, t.vector_bits))
    return "vec: " + std::to_string(vec) + " lanes exceed the target's " + std::to_string(t.vector_bits) +
           "-bit vectors";
  return std::nullopt;
}

std::optional<std::string> CpuKernelTemplate::threads_refusal(const TileConfig& c) {
  if (c.threads < 0 || c.threads > 1024)
    return "threads: must be in 0..1024 (0 = all hardware threads), got " + std::to_string(c.threads);
  return std::nullopt;
}

std::vector<std::string> CpuKernelTemplate::compile_options(const Target& t) {
  // -cc1 does not vectorise loops unless asked (the driver adds these flags at -O2 and up; its
  // -fno-math-errno is cc1's default); preferring the full vector width keeps clang from
  // splitting 512-bit vectors on CPUs whose tuning prefers 256 bits.
  std::vector<std::string> options = {"-O3", "-std=c++17", "-ffp-contract=fast", "-vectorize-loops",
                                      "-vectorize-slp",
                                      "-mprefer-vector-width=" + std::to_string(std::max(128, t.vector_bits)),
                                      "-target-cpu", t.arch};
  // Features as the host reports them: a CPU name alone can claim ISA a VM has switched off.
  std::string_view feats = t.cpu_features;
  while (!feats.empty()) {
    const size_t comma = feats.find(',');
    const std::string_view f = feats.substr(0, comma);
    if (!f.empty()) {
      options.push_back("-target-feature");
      options.emplace_back(f);
    }
    feats = comma == std::string_view::npos ? std::string_view() : feats.substr(comma + 1);
  }
  return options;
}

LaunchGeometry CpuKernelTemplate::geometry(const ProblemSpec& spec, const TileConfig& c, const Target& t,
                                           const RunShape& shape) const {
  const int64_t items = work_items(spec, c, t, shape);
  if (items > 0xffffffffLL)
    throw SpecError("shape: " + std::to_string(items) + " work items exceed the 2^32 grid limit");
  LaunchGeometry g;
  g.grid[0] = static_cast<unsigned>(items);
  g.block[0] = static_cast<unsigned>(c.threads > 0 ? c.threads : hw_threads(t));
  return g;
}

}  // namespace attnjit
