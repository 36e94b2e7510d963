// prefill_sm90: the FlashAttention-3 style prefill forward for sm_90a (templates/prefill/sm90.cuh):
// a TMA producer warpgroup, two wgmma consumer warpgroups with ping-pong. Registered for sm_90a
// only, with a priority below prefill_sm80: the sm80 template stays the default there until
// `scripts/gpu-check.sh sm90` has passed on a GPU (issue #16's default policy); this one is
// reached by tuning or by naming it in the config (`--template sm90`, TileConfig::tmpl).
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "codegen/embedded_templates.h"
#include "codegen/kernel_template.h"
#include "codegen/prefill/arguments.h"
#include "codegen/prefill/sm90_tensor_maps.h"
#include "codegen/user_variant.h"

namespace attnjit {
namespace {

constexpr const char* kGeneratorVersion = "prefill_sm90/1";
constexpr const char* kRoot = "prefill/sm90.cuh";

// The knobs: consumer warpgroups (block_m = 64 each; the template has 2), block_n, stages.
constexpr int kWarpgroups = 2;
constexpr int kBlockNs[] = {64, 128};
constexpr int kStages[] = {2, 3};
// Head dims the emulator tests and compile gates cover; 256 compiles in the template but is not
// yet proven, so it is refused (the sm80 path serves it).
constexpr int kHeadDims[] = {64, 128};

template <class T, size_t N>
bool one_of(const T (&values)[N], T v) {
  return std::find(std::begin(values), std::end(values), v) != std::end(values);
}

TileConfig make_config(int block_n, int stages) {
  TileConfig c;
  c.tmpl = "sm90";
  c.block_m = 64 * kWarpgroups;
  c.block_n = block_n;
  c.warps = 4;
  c.stages = stages;
  c.warpgroups = kWarpgroups;
  return c;
}

// Mirrors PrefillSm90Traits::kSmemBytes (render() static_asserts that they agree).
int64_t smem_bytes(const ProblemSpec& spec, const TileConfig& cfg) {
  const int64_t q = int64_t{cfg.block_m} * spec.head_dim * 2;
  const int64_t kv = int64_t{cfg.block_n} * spec.head_dim * 2;
  return q + 2 * cfg.stages * kv + 8 * (1 + 3 * cfg.stages) + 1024;
}

std::string traits_type(const ProblemSpec& spec, const TileConfig& cfg) {
  return std::string("attnjit::PrefillSm90Traits<") +
         (spec.dtype == DType::BF16 ? "attnjit::sm90::Bf16" : "attnjit::sm90::F16") + ", " +
         std::to_string(spec.head_dim) + ", " + std::to_string(cfg.block_n) + ", " +
         std::to_string(cfg.stages) + ", " + prefill_mask_policy(spec.mask) + ">";
}

class PrefillSm90 final : public KernelTemplate {
 public:
  Family family() const override { return Family::Prefill; }
  std::string_view short_name() const override { return "sm90"; }
  ArchRange archs() const override { return {Platform::Cuda, 90, 90}; }
  int priority() const override { return -1; }  // below prefill_sm80 until a GPU verifies it

  std::string version_hash() const override {
    static const std::string hash = templates::version_hash(kGeneratorVersion, kRoot);
    return hash;
  }

  bool supports(const ProblemSpec& spec, const Target& target) const override {
    return spec.family == Family::Prefill &&
           (spec.dtype == DType::F16 || spec.dtype == DType::BF16) &&
           target.platform == Platform::Cuda && target.arch == "sm_90a" &&
           one_of(kHeadDims, spec.head_dim);
  }

  std::vector<TileConfig> search_space(const ProblemSpec& spec, const Target& target) const override {
    std::vector<TileConfig> out;
    for (int bn : kBlockNs)
      for (int s : kStages) {
        const TileConfig c = make_config(bn, s);
        if (!can_implement(spec, c, target)) out.push_back(c);
      }
    return out;
  }

  // FlashAttention-3's forward choices for two consumer warpgroups: block_n 128 with a 2-stage
  // K/V ring (HOPPER.md); a GPU has not tuned them yet.
  TileConfig default_config(const ProblemSpec& spec, const Target& target) const override {
    for (int bn : {128, 64}) {
      const TileConfig c = make_config(bn, 2);
      if (!can_implement(spec, c, target)) return c;
    }
    throw SpecError("prefill_sm90: no legal default config for " + spec.key() + " on " + target.key());
  }

  std::optional<std::string> can_implement(const ProblemSpec& spec, const TileConfig& cfg,
                                           const Target& target) const override {
    if (spec.family != Family::Prefill || (spec.dtype != DType::F16 && spec.dtype != DType::BF16))
      return "prefill_sm90 implements prefill f16/bf16; got " + spec.key();
    if (target.platform != Platform::Cuda || target.arch != "sm_90a")
      return "prefill_sm90 needs sm_90a (wgmma, TMA, setmaxnreg); got " + target.key();
    if (spec.softcap != 0)
      return "softcap: prefill_sm90 has no soft-capping yet (the sm80 template serves it); got " + spec.key();
    if (has_user_variants(spec))
      return "score_mod/mask_mod/block_sparse: prefill_sm90 has no user variants yet (the sm80 template serves them); got " +
             spec.key();
    if (!one_of(kHeadDims, spec.head_dim))
      return "head_dim: " + std::to_string(spec.head_dim) +
             " not supported by prefill_sm90 yet (64, 128); the sm80 template serves it";
    if (!cfg.tmpl.empty() && cfg.tmpl != "sm90")
      return "template: config " + cfg.key() + " names template '" + cfg.tmpl + "', not sm90";
    try {
      spec.validate();
    } catch (const SpecError& e) {
      return std::string(e.what());
    }
    if (cfg.warpgroups != kWarpgroups)
      return "warpgroups: " + std::to_string(cfg.warpgroups) + " consumer warpgroups not supported (allowed: 2)";
    if (cfg.block_m != 64 * cfg.warpgroups)
      return "block_m: must be 64 * warpgroups = " + std::to_string(64 * cfg.warpgroups) + ", got " +
             std::to_string(cfg.block_m);
    if (cfg.warps != 4) return "warps: 4 per warpgroup, got " + std::to_string(cfg.warps);
    if (!one_of(kBlockNs, cfg.block_n))
      return "block_n: " + std::to_string(cfg.block_n) + " not supported (allowed: 64, 128)";
    if (!one_of(kStages, cfg.stages))
      return "stages: " + std::to_string(cfg.stages) + " not supported (allowed: 2, 3)";
    if (cfg.splits || cfg.vec || cfg.threads || cfg.order)
      return "splits/vec/threads/order: not knobs of prefill_sm90 (must be 0), got " + cfg.key();
    const int64_t smem = smem_bytes(spec, cfg);
    if (target.smem_per_block > 0 && smem > target.smem_per_block)
      return "shared memory: " + std::to_string(smem) + " bytes exceed " + target.key() + "'s " +
             std::to_string(target.smem_per_block) + " per block";
    return std::nullopt;
  }

  KernelSource render(const ProblemSpec& spec, const TileConfig& cfg,
                      const Target& target) const override {
    if (auto why = can_implement(spec, cfg, target))
      throw SpecError("prefill_sm90: cannot implement " + cfg.key() + " for " + spec.key() +
                      " on " + target.key() + ": " + *why);
    const std::string traits = traits_type(spec, cfg);
    KernelSource src;
    src.platform = Platform::Cuda;
    src.name = kernel_name(spec, cfg, target);
    src.text = "// Generated by attnjit " + std::string(kGeneratorVersion) + ": " + src.name +
               "\n#include \"" + kRoot + "\"\n\nnamespace attnjit_gen {\nusing Traits = " +
               traits + ";\n}  // namespace attnjit_gen\n\n" +
               "static_assert(attnjit_gen::Traits::kSmemBytes == " +
               std::to_string(smem_bytes(spec, cfg)) + " && attnjit_gen::Traits::kThreads == " +
               std::to_string(128 * (1 + cfg.warpgroups)) +
               ", \"host launch geometry != kernel\");\n" +
               "template __global__ void attnjit::prefill_sm90_kernel<attnjit_gen::Traits>("
               "const __grid_constant__ attnjit::PrefillSm90Params);\n";
    src.headers = templates::headers(kRoot);
    src.entry = "attnjit::prefill_sm90_kernel<" + traits + ">";
    src.options = {"-std=c++17", "-default-device"};
    src.arch = target.arch;
    src.finalize();
    return src;
  }

  // PrefillParams (validated as for sm80) behind four tensor maps encoded by the installed
  // cuTensorMapEncodeTiled (codegen/prefill/sm90_tensor_maps.h).
  std::vector<unsigned char> build_arguments(const ProblemSpec& spec, const TileConfig& cfg,
                                             const Target& target, const LaunchArgs& args,
                                             const Workspace&) const override {
    if (!args.prefill || args.decode)
      throw SpecError("launch: a prefill template takes prefill arguments");
    const PrefillParams p = make_prefill_params(*args.prefill, target.platform);
    const PrefillSm90HostParams h = make_prefill_sm90_params(p, spec.dtype, spec.head_dim, cfg.block_n);
    const auto* b = reinterpret_cast<const unsigned char*>(&h);
    return {b, b + sizeof h};
  }

  LaunchGeometry geometry(const ProblemSpec& spec, const TileConfig& cfg, const Target& target,
                          const RunShape& shape) const override {
    if (auto why = can_implement(spec, cfg, target))
      throw SpecError("prefill_sm90: cannot launch " + cfg.key() + " for " + spec.key() + ": " + *why);
    check_prefill_launch_shape(spec, shape);
    LaunchGeometry g;
    g.grid[0] = static_cast<unsigned>((shape.seqlen_q + cfg.block_m - 1) / cfg.block_m);
    g.grid[1] = static_cast<unsigned>(shape.heads_q);
    g.grid[2] = static_cast<unsigned>(shape.batch);
    g.block[0] = static_cast<unsigned>(128 * (1 + cfg.warpgroups));
    g.dynamic_smem = static_cast<unsigned>(smem_bytes(spec, cfg));
    return g;
  }
};

}  // namespace

const KernelTemplate& prefill_sm90_template() {
  static PrefillSm90 t;
  return t;
}

}  // namespace attnjit
