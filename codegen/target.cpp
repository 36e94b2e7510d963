#include "codegen/target.h"

namespace attnjit {
namespace {

struct ArchRow {
  const char* arch;
  int major, minor;
  int64_t smem_per_block;  // opt-in maximum dynamic shared memory per block
  int64_t smem_per_sm;
};

// From the CUDA C Programming Guide, "Technical Specifications per Compute Capability".
constexpr ArchRow kArchs[] = {
    {"sm_80", 8, 0, 163 * 1024, 164 * 1024},
    {"sm_86", 8, 6, 99 * 1024, 100 * 1024},
    {"sm_89", 8, 9, 99 * 1024, 100 * 1024},
    {"sm_90a", 9, 0, 227 * 1024, 228 * 1024},
};

}  // namespace

std::string Target::key() const {
  if (platform == Platform::Cuda) return arch;
  return "cpu-" + arch;
}

const std::vector<std::string>& Target::cuda_archs() {
  static const std::vector<std::string> v = [] {
    std::vector<std::string> out;
    for (const auto& r : kArchs) out.push_back(r.arch);
    return out;
  }();
  return v;
}

Target Target::cuda(std::string_view arch) {
  if (arch == "sm_90") arch = "sm_90a";
  for (const auto& r : kArchs) {
    if (arch != r.arch) continue;
    return {.platform = Platform::Cuda, .arch = r.arch, .cc_major = r.major,
            .cc_minor = r.minor, .smem_per_block = r.smem_per_block, .smem_per_sm = r.smem_per_sm};
  }
  throw SpecError("arch: unknown value '" + std::string(arch) +
                  "' (allowed: sm_80, sm_86, sm_89, sm_90a)");
}

Target Target::cpu(std::string_view cpu_name, std::string features, int vector_bits) {
  if (cpu_name.empty()) throw SpecError("arch: CPU name must not be empty");
  Target t;
  t.platform = Platform::Cpu;
  t.arch = std::string(cpu_name);
  t.cpu_features = std::move(features);
  t.vector_bits = vector_bits;
  t.max_threads_per_block = 1;
  return t;
}

}  // namespace attnjit
