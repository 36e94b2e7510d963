// prefill_sm80: the FlashAttention-2 style prefill forward for sm_80 and newer
// (templates/prefill/sm80.cuh). The generator only picks compile-time constants; the kernel
// text is the fixed template, so everything here is legality, geometry and a short prelude.
#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>
#include <vector>

#include "codegen/embedded_templates.h"
#include "codegen/kernel_template.h"
#include "codegen/prefill/arguments.h"
#include "codegen/prefill/cuda_source.h"
#include "codegen/user_variant.h"
#include "codegen/variant.h"

namespace attnjit {
namespace {

// Bump when the prelude or the meaning of a config changes, so tuned results are not reused.
constexpr const char* kGeneratorVersion = "prefill_sm80/1";

// The template the prelude includes (its #include closure is embedded with it).
constexpr const char* kRoot = "prefill/sm80.cuh";

// The knob values this template understands.
constexpr int kBlockMs[] = {64, 128};
constexpr int kBlockNs[] = {32, 64, 128};
constexpr int kWarps[] = {4, 8};
constexpr int kSearchStages[] = {1, 2, 3};
constexpr int kMaxStages = 4;

// Per-thread fp32 accumulators (O and S) above which ptxas spills for this kernel: measured with
// -Xptxas -v over the full grid on sm_80 (CUDA 13.0): every config at or under 160 compiled
// with 0 spill bytes except with two m16 row tiles per warp at 160 (hd32 bn128: 4 bytes on
// sm_80; hd96 bn64 sliding window: 8-24 bytes on sm_90a), so two-tile warps stay below 160 and
// never take block_n 128; every config above 160 spilled (hd128 bm128 bn64 w4: 4-8 bytes,
// hd256 bm128 bn64 w4: 2.6 KB).
constexpr int kMaxAccumulatorRegs = 160;
constexpr int kMaxKeyTileAccumulatorRegs = 128;  // orders 1 and 2 (see can_implement)

template <class T, size_t N>
bool one_of(const T (&values)[N], T v) {
  return std::find(std::begin(values), std::end(values), v) != std::end(values);
}

std::string list(const int* b, const int* e) {
  std::string s;
  for (const int* p = b; p != e; ++p) s += (s.empty() ? "" : ", ") + std::to_string(*p);
  return s;
}

int64_t smem_bytes(const ProblemSpec& spec, const TileConfig& cfg) {
  // Q tile + `stages` K tiles + `stages` V tiles, 16-bit elements, no padding (XOR swizzle).
  return int64_t{cfg.block_m + 2 * cfg.stages * cfg.block_n} * spec.head_dim * 2;
}

int accumulator_regs(const ProblemSpec& spec, const TileConfig& cfg) {
  const int m_atoms = cfg.block_m / (16 * cfg.warps);
  return m_atoms * (spec.head_dim / 8 + cfg.block_n / 8) * 4;
}

// The mask policy wrapped by the user variants (when any) and the score variants
// (codegen/variant.h); without any, the mask type itself, so the kernel (and its PTX) is today's.
// The wrappers only add traits, so their nesting order does not matter.
std::string variant_policy(const ProblemSpec& spec) {
  std::string mask = prefill_mask_policy(spec.mask);
  if (has_user_variants(spec))
    mask = "attnjit::variants::WithUserMods<" + mask + ", attnjit_gen::UserMods, " + std::to_string(spec.block_sparse) + ">";
  return score_variant_policy(spec, mask);
}

std::string traits_type(const ProblemSpec& spec, const TileConfig& cfg) {
  return std::string("attnjit::PrefillSm80Traits<") +
         (spec.dtype == DType::BF16 ? "attnjit::sm80::Bf16" : "attnjit::sm80::F16") + ", " +
         std::to_string(spec.head_dim) + ", " + std::to_string(cfg.block_m) + ", " +
         std::to_string(cfg.block_n) + ", " + std::to_string(cfg.warps) + ", " +
         std::to_string(cfg.stages) + ", " +
         variant_policy(spec) + ", " +
         (spec.even ? "true" : "false") +
         // Dense batches with the aligned tiles keep the short name (and so their cached kernels
         // and tuned rows).
         (spec.varlen || spec.page_size != 0 || cfg.order != 0
              ? std::string(", ") + (spec.varlen ? "true" : "false") + ", " + (spec.page_size != 0 ? "true" : "false")
              : std::string()) +
         (cfg.order != 0 ? ", " + std::to_string(cfg.order) : std::string()) + ">";
}

// sm_90a defaults, measured: exhaustive tuning on an H100 80GB HBM3 (bf16, head dims 64 / 128 /
// 256, none / causal, 1k-16k tokens; bench/RESULTS.md, 2026-11-23) picked single-stage
// pipelines almost everywhere (two CTAs share an SM and hide each other's loads) and 4-warp
// CTAs except for long non-causal head dim 128. These beat the generic rule below by 1.09-1.34x
// there. Configs the spec cannot take (other head dims, sliding windows near the register
// budget) fall through to the generic rule.
std::vector<TileConfig> hopper_defaults(const ProblemSpec& spec) {
  auto c = [](int bm, int bn, int w, int s) {
    return TileConfig{.block_m = bm, .block_n = bn, .warps = w, .stages = s, .tmpl = "sm80"};
  };
  // A mask_mod or a block mask (documents, Longformer) leaves each CTA few key tiles, like a
  // short sequence: it takes the masked shapes, whose two 4-warp CTAs per SM hide each other's
  // prologue and epilogue (one 8-warp CTA per SM leaves them exposed).
  const bool masked = spec.mask.kind != MaskKind::None || !spec.mask_mod.empty() || spec.block_sparse > 0;
  const bool short_seq = spec.seqlen_q <= 1024;
  if (spec.head_dim <= 64)
    return {masked && short_seq ? c(64, 64, 4, 2) : c(128, 64, 4, 1)};
  if (spec.head_dim <= 128) {
    if (masked) return {short_seq ? c(64, 64, 4, 3) : c(64, 128, 4, 1)};
    return {short_seq ? c(64, 128, 4, 1) : c(128, 128, 8, 1)};
  }
  return {c(64, 64, 4, 1)};
}

int threads(const TileConfig& cfg) { return 32 * cfg.warps; }

const CudaPrefillKernel kKernel{kGeneratorVersion, kRoot, "attnjit::prefill_sm80_kernel", "attnjit::PrefillParams",
                                traits_type, smem_bytes, threads};

class PrefillSm80 final : public KernelTemplate {
 public:
  Family family() const override { return Family::Prefill; }
  std::string_view short_name() const override { return "sm80"; }
  ArchRange archs() const override { return {Platform::Cuda, 80}; }

  std::string version_hash() const override {
    static const std::string hash = templates::version_hash(kGeneratorVersion, kRoot);
    return hash;
  }

  bool supports(const ProblemSpec& spec, const Target& target) const override {
    const auto& archs = Target::cuda_archs();
    return spec.family == Family::Prefill &&
           (spec.dtype == DType::F16 || spec.dtype == DType::BF16) &&
           target.platform == Platform::Cuda &&
           std::find(archs.begin(), archs.end(), target.arch) != archs.end();
  }

  std::vector<TileConfig> search_space(const ProblemSpec& spec, const Target& target) const override {
    std::vector<TileConfig> out;
    for (int bm : kBlockMs)
      for (int bn : kBlockNs)
        for (int w : kWarps)
          for (int s : kSearchStages)
            for (int order : {0, 1, 2}) {
              // Only a built-in mask's key range gives the end-aligned tiles (1, 2) a range to align
              // to and cuts tiles for warps to skip in (2); alone (1) they differ from aligned ones
              // only where a tile is longer than the query block (a block's key span is then an
              // odd number of half tiles).
              if (order != 0 && spec.mask.kind == MaskKind::None) continue;
              if (order == 1 && bn <= bm) continue;
              const TileConfig c{.block_m = bm, .block_n = bn, .warps = w, .stages = s, .order = order, .tmpl = "sm80"};
              if (!can_implement(spec, c, target)) out.push_back(c);
            }
    return out;
  }

  // FA2's sm80 choices adapted to this kernel's register budget (a warp owns one m16 tile in
  // every default): the largest query tile with a K/V tile of 64-128 keys, a 2-stage pipeline
  // when shared memory allows and a single stage (FA2's own schedule) otherwise — e.g. head
  // dim 256 gets bm128_bn64_w8_s1 on sm_80 (128 KB) but bm64_bn64_w4_s1 on sm_86 / sm_89,
  // whose blocks are limited to 99 KB.
  TileConfig default_config(const ProblemSpec& spec, const Target& target) const override {
    if (target.arch == "sm_90a")
      for (const TileConfig& c : hopper_defaults(spec))
        if (!can_implement(spec, c, target)) return c;
    struct Shape { int bm, bn, w; };
    static constexpr Shape kSmall[] = {{128, 128, 8}, {128, 64, 8}, {64, 64, 4}, {64, 32, 4}};
    static constexpr Shape kMedium[] = {{128, 64, 8}, {64, 64, 4}, {64, 32, 4}};
    const bool small = spec.head_dim <= 64;
    const Shape* b = small ? std::begin(kSmall) : std::begin(kMedium);
    const Shape* e = small ? std::end(kSmall) : std::end(kMedium);
    for (const Shape* s = b; s != e; ++s)
      for (int stages : {2, 1}) {
        const TileConfig c{.block_m = s->bm, .block_n = s->bn, .warps = s->w, .stages = stages,
                           .tmpl = "sm80"};
        if (!can_implement(spec, c, target)) return c;
      }
    throw SpecError("prefill_sm80: no legal default config for " + spec.key() + " on " +
                    target.key());
  }

  std::optional<std::string> can_implement(const ProblemSpec& spec, const TileConfig& cfg,
                                           const Target& target) const override {
    if (!supports(spec, target))
      return "prefill_sm80 implements prefill f16/bf16 on CUDA archs " + [] {
        std::string s;
        for (const auto& a : Target::cuda_archs()) s += (s.empty() ? "" : ", ") + a;
        return s;
      }() + "; got " + spec.key() + " on " + target.key();
    if (!cfg.tmpl.empty() && cfg.tmpl != "sm80")
      return "template: config " + cfg.key() + " names template '" + cfg.tmpl + "', not sm80";
    try {
      spec.validate();
    } catch (const SpecError& e) {
      return std::string(e.what());
    }
    if (!one_of(kBlockMs, cfg.block_m))
      return "block_m: " + std::to_string(cfg.block_m) + " not supported (allowed: " +
             list(std::begin(kBlockMs), std::end(kBlockMs)) + ")";
    if (!one_of(kBlockNs, cfg.block_n))
      return "block_n: " + std::to_string(cfg.block_n) + " not supported (allowed: " +
             list(std::begin(kBlockNs), std::end(kBlockNs)) + ")";
    if (!one_of(kWarps, cfg.warps))
      return "warps: " + std::to_string(cfg.warps) + " not supported (allowed: " +
             list(std::begin(kWarps), std::end(kWarps)) + ")";
    if (cfg.stages < 1 || cfg.stages > kMaxStages)
      return "stages: " + std::to_string(cfg.stages) + " not in 1.." + std::to_string(kMaxStages);
    if (cfg.splits || cfg.vec || cfg.threads || cfg.has_hopper_knobs())
      return "splits/vec/threads/warpgroups/pp/ov/ps: not knobs of prefill_sm80 (must be 0), got " + cfg.key();
    if (cfg.order < 0 || cfg.order > 2)
      return "order: " + std::to_string(cfg.order) + " not supported (0: key tiles on multiples of block_n, 1: " +
             "end-aligned key tiles, 2: end-aligned with per-warp key skipping in cut tiles)";
    if (cfg.order != 0 && cfg.block_n % 32 != 0)
      return "order " + std::to_string(cfg.order) + " (end-aligned key tiles): block_n must be a multiple of 32 " +
             "(half a tile is whole k16 steps), got " + std::to_string(cfg.block_n);
    // The extra copies of the tile body (the half tile; order 2's warp-uniform branches around
    // each 16-key step) need register headroom: at 160 accumulators order 2 spilled 4 bytes (hd
    // 256 bm64_bn64, sm_80) and so did order 1 (hd 192 bm64_bn128_w4_s2, sm_90a, the gate sweep),
    // while at 128 (hd 128 bm64_bn128) both compiled without a spill on every arch.
    if (cfg.order != 0 && accumulator_regs(spec, cfg) > kMaxKeyTileAccumulatorRegs)
      return "order " + std::to_string(cfg.order) + " (end-aligned key tiles): " +
             std::to_string(accumulator_regs(spec, cfg)) +
             " fp32 accumulators per thread leave its extra tile bodies no registers (at most " +
             std::to_string(kMaxKeyTileAccumulatorRegs) + ")";
    if (cfg.order != 0 && spec.block_sparse > 0)
      return "order " + std::to_string(cfg.order) + " (end-aligned key tiles): a block mask names its own tiles " +
             "(block_sparse " + std::to_string(spec.block_sparse) + ")";
    // Each warp owns whole m16 row tiles of the query block; two at most (registers).
    if (cfg.block_m % (16 * cfg.warps) != 0 || cfg.block_m / (16 * cfg.warps) > 2)
      return "block_m: " + std::to_string(cfg.block_m) + " must be 16 or 32 rows per warp (16 * " +
             std::to_string(cfg.warps) + " warps * 1 or 2)";
    if (auto why = block_sparse_refusal(spec, cfg.block_m, cfg.block_n)) return *why;
    if (threads(cfg) > target.max_threads_per_block)
      return "warps: " + std::to_string(threads(cfg)) + " threads exceed the target's " +
             std::to_string(target.max_threads_per_block) + " per block";
    const int64_t smem = smem_bytes(spec, cfg);
    if (smem > target.smem_per_block)
      return "shared memory: " + std::to_string(smem) + " bytes (block_m " +
             std::to_string(cfg.block_m) + " + 2 * stages " + std::to_string(cfg.stages) +
             " * block_n " + std::to_string(cfg.block_n) + ") * head_dim " +
             std::to_string(spec.head_dim) + " * 2 exceed " + target.key() + "'s " +
             std::to_string(target.smem_per_block) + " per block";
    const int acc = accumulator_regs(spec, cfg);
    const bool two_tiles = cfg.block_m / (16 * cfg.warps) == 2;
    if (acc > kMaxAccumulatorRegs || (two_tiles && (cfg.block_n == 128 || acc >= kMaxAccumulatorRegs)))
      return "registers: " + std::to_string(acc) +
             " fp32 accumulators per thread for head_dim " + std::to_string(spec.head_dim) +
             ", block_n " + std::to_string(cfg.block_n) + ", " +
             std::to_string(cfg.block_m / cfg.warps) + " rows per warp would spill (budget " +
             std::to_string(kMaxAccumulatorRegs) + ")";
    return std::nullopt;
  }

  KernelSource render(const ProblemSpec& spec, const TileConfig& cfg,
                      const Target& target) const override {
    return render_cuda_prefill(*this, kKernel, spec, cfg, target);
  }

  std::vector<unsigned char> build_arguments(const ProblemSpec& spec, const TileConfig&, const Target& target,
                                             const LaunchArgs& args, const Workspace&) const override {
    return prefill_arguments(spec, args, target);
  }

  LaunchGeometry geometry(const ProblemSpec& spec, const TileConfig& cfg, const Target& target,
                          const RunShape& shape) const override {
    if (auto why = can_implement(spec, cfg, target))
      throw SpecError("prefill_sm80: cannot launch " + cfg.key() + " for " + spec.key() + ": " +
                      *why);
    check_prefill_launch_shape(spec, shape);
    auto check = [](bool ok, const std::string& msg) {
      if (!ok) throw SpecError(msg);
    };
    // The even specialization has no bounds checks: running it on other lengths would read
    // and write out of bounds.
    check(!spec.even || (shape.seqlen_q % kEvenAlignment == 0 &&
                         shape.seqlen_k % kEvenAlignment == 0 && shape.seqlen_k > 0),
          "even: the kernel was specialized for lengths that are multiples of " +
              std::to_string(kEvenAlignment) + ", got seqlen_q " +
              std::to_string(shape.seqlen_q) + ", seqlen_k " + std::to_string(shape.seqlen_k));
    LaunchGeometry g;
    g.grid[0] = static_cast<unsigned>((shape.seqlen_q + cfg.block_m - 1) / cfg.block_m);
    g.grid[1] = static_cast<unsigned>(shape.heads_q);
    g.grid[2] = static_cast<unsigned>(shape.batch);
    if (spec.varlen) {
      // One CTA per tile number of templates/common/layout_varlen.h: at most one idle per sequence.
      const int64_t tiles = shape.total_q / cfg.block_m + shape.batch;
      check(shape.total_q >= 1 && tiles <= INT32_MAX,
            "total_q: must be in 1..2^31-1 with at most 2^31-1 tiles, got " + std::to_string(shape.total_q));
      g.grid[0] = static_cast<unsigned>(tiles);
      g.grid[2] = 1;
    }
    g.block[0] = static_cast<unsigned>(threads(cfg));
    g.dynamic_smem = static_cast<unsigned>(smem_bytes(spec, cfg));
    return g;
  }
};

}  // namespace

const KernelTemplate& prefill_sm80_template() {
  static PrefillSm80 t;
  return t;
}

}  // namespace attnjit
