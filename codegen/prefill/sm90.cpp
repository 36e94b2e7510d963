// prefill_sm90: the FlashAttention-3 style prefill forward for sm_90a (templates/prefill/sm90.cuh):
// a TMA producer warpgroup, two or three wgmma consumer warpgroups. Registered for sm_90a
// only, above prefill_sm80 since `scripts/gpu-check.sh sm90` passed on an H200 (issue #16's
// default policy; bench/RESULTS.md, 2026-12-04); problems it cannot run (variants, other head
// dims) it does not claim, so the sm80 template serves them.
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "codegen/embedded_templates.h"
#include "codegen/kernel_template.h"
#include "codegen/prefill/arguments.h"
#include "codegen/prefill/cuda_source.h"
#include "codegen/prefill/sm90_tensor_maps.h"
#include "codegen/variant.h"
#include "codegen/user_variant.h"

namespace attnjit {
namespace {

constexpr const char* kGeneratorVersion = "prefill_sm90/4";
constexpr const char* kRoot = "prefill/sm90.cuh";

// The knobs: consumer warpgroups (block_m = 64 each), block_n (per head dim: what fits 227 KB of
// shared memory with 2 stages), stages, ping-pong, intra-warpgroup overlap, persistent (1; 2: with
// O staged in a buffer of its own, so the next tile's Q loads during this tile's epilogue; 3: the
// same, and the next tile's first S GEMM runs during this tile's epilogue).
constexpr int kWarpgroups[] = {2, 3};
constexpr int kStages[] = {2, 3};
constexpr int kHeadDims[] = {64, 96, 128, 192, 256};

std::vector<int> block_ns(int head_dim) {
  switch (head_dim) {
    case 64: return {64, 128, 192};
    case 96: return {64, 128};
    case 128: return {64, 128, 176};
    case 192: return {64, 96, 112};
    case 256: return {64, 80};
  }
  return {};
}

template <class T, size_t N>
bool one_of(const T (&values)[N], T v) {
  return std::find(std::begin(values), std::end(values), v) != std::end(values);
}

std::string list(const std::vector<int>& v) {
  std::string s;
  for (int x : v) s += (s.empty() ? "" : ", ") + std::to_string(x);
  return s;
}

TileConfig make_config(int warpgroups, int block_n, int stages, bool pingpong, bool overlap, int persistent) {
  return {.block_m = 64 * warpgroups, .block_n = block_n, .warps = 4, .stages = stages,
          .warpgroups = warpgroups, .pingpong = pingpong ? 1 : 0, .overlap = overlap ? 1 : 0,
          .persistent = persistent, .tmpl = "sm90"};
}

// Head dims are stored padded to whole 128-byte column blocks (96 -> 128).
int padded_head_dim(int head_dim) { return (head_dim + 63) / 64 * 64; }

// Mirrors PrefillSm90Traits::kSmemBytes (render() static_asserts that they agree).
int64_t smem_bytes(const ProblemSpec& spec, const TileConfig& cfg) {
  const int64_t d = padded_head_dim(spec.head_dim);
  const int64_t q = int64_t{cfg.block_m} * d * 2, kv = int64_t{cfg.block_n} * d * 2;
  return q * (cfg.persistent >= 2 ? 2 : 1) + 2 * cfg.stages * kv + 8 * (2 + 4 * cfg.stages) + 1024;
}

// Live fp32/packed registers of a consumer thread: S (block_n / 2) and O (d / 2) throughout,
// P (block_n / 4) during the softmax only with the overlap (P of the previous tile is the
// operand of the P V GEMM in flight), ~30 for addresses, row statistics and indices (HOPPER.md),
// and ~24 more for a key mask's bounds or tanh's temporaries (soft-capping). Fitted to ptxas:
// hd 256 / block_n 80 / overlap compiles clean without a mask and spills with causal. The
// persistent loop keeps more live across tiles, growing with O (5/16 of the padded head dim,
// less 20, +4 with the overlap), and three consumer warpgroups pay 4 more: fitted to the gate
// sweep of 2026-12-04 (bench/RESULTS.md), where persistent and three-warpgroup configs spilled
// (4-260 bytes) under the rule without these terms (every persistent one at head dim 256). The budget is setmaxnreg's: 240 with two
// consumer warpgroups, 160 with three. A rule to prune by; the gate sweep checks every config.
// ALiBi keeps its slope and the tile's position base live through the softmax: 8 more, 16 with
// order 1's pass-through loops around the computed ones (the gate sweep of 2026-12-05: hd 128
// block_n 176 order 1 persistent spilled 8-112 bytes with ALiBi and sinks at the 8 of order 0).
constexpr int kAlibiRegs = 8;
// Varlen and paged tiles keep their sequence's lengths and first rows live across the persistent
// loop: 8 more there with order 1 (the same sweep: hd 64 three consumers and hd 192 block_n 96,
// a window, order 1, persistent, spilled 8-16 bytes; without order 1 or persistence none did).
constexpr int kRaggedRegs = 8;
// User variants mask like a built-in mask (+24 above) and keep the snippets' temporaries and the
// block mask's list state: 8 more (a block mask under the overlap with ps2 at hd 128 spilled 100
// bytes without them), 16 more with the overlap, whose softmax (snippets included) runs beside
// the next S tile, and 16 more for tiles wider than 128 keys (the gate sweep of 2026-12-05 with a
// score_mod and a document mask_mod, at +8: the overlap at hd 64 block_n 192, hd 192 block_n 96,
// hd 256 block_n 64 and three consumers spilled 4-116 bytes, and hd 128 block_n 176 persistent
// 84-156). A rule for these snippets; a heavier one can still spill, which ptxas reports.
constexpr int kUserRegs = 8, kUserOverlapRegs = 16, kUserWideRegs = 16;
int consumer_regs(const ProblemSpec& spec, const TileConfig& cfg) {
  const bool masked = spec.mask.kind != MaskKind::None || spec.softcap != 0 || has_user_variants(spec);
  const int d = padded_head_dim(spec.head_dim);
  const int persistent = cfg.persistent ? 5 * d / 16 - 20 + (cfg.overlap ? 4 : 0) : 0;
  return cfg.block_n / 2 + d / 2 + (cfg.overlap ? cfg.block_n / 4 : 0) + 30 + (masked ? 24 : 0) + persistent +
         (cfg.warpgroups == 3 ? 4 : 0) + (spec.alibi ? kAlibiRegs * (cfg.order == 1 ? 2 : 1) : 0) +
         ((spec.varlen || spec.page_size) && cfg.persistent && cfg.order == 1 ? kRaggedRegs : 0) +
         (has_user_variants(spec)
              ? kUserRegs + (cfg.overlap ? kUserOverlapRegs : 0) + (cfg.block_n > 128 ? kUserWideRegs : 0)
              : 0);
}
int consumer_budget(const TileConfig& cfg) { return cfg.warpgroups == 3 ? 160 : 240; }

// A spec with only the fields this template implements copied over: where it differs from the
// spec, the spec asks for something more (a variant, layout or feature added since) — refused.
ProblemSpec plain_fields(const ProblemSpec& s) {
  return {.family = s.family, .dtype = s.dtype, .head_dim = s.head_dim, .mask = s.mask,
          .group = s.group, .seqlen_q = s.seqlen_q, .seqlen_k = s.seqlen_k, .page_size = s.page_size,
          .even = s.even, .softcap = s.softcap, .varlen = s.varlen, .alibi = s.alibi, .sink = s.sink,
          .score_mod = s.score_mod, .mask_mod = s.mask_mod, .block_sparse = s.block_sparse};
}

// The mask policy wrapped by the user variants (when any) and the score variants the spec asks for
// (codegen/variant.h: soft-capping, ALiBi, sinks); without any, the mask type itself, so the kernel
// (and its PTX) is unchanged.
std::string variant_policy(const ProblemSpec& spec) {
  std::string mask = prefill_mask_policy(spec.mask);
  if (has_user_variants(spec))
    mask = "attnjit::variants::WithUserMods<" + mask + ", attnjit_gen::UserMods, " + std::to_string(spec.block_sparse) + ">";
  return score_variant_policy(spec, mask);
}

// The traits' trailing flags (kPassUnseen, kVarlen, kPaged, kNextS) up to the last one set: the
// defaults are left out, so a kernel that sets none keeps the name (and PTX) it had before them.
std::string trailing_flags(std::initializer_list<bool> flags) {
  std::vector<bool> v(flags);
  while (!v.empty() && !v.back()) v.pop_back();
  std::string s;
  for (bool f : v) s += f ? ", true" : ", false";
  return s;
}

std::string traits_type(const ProblemSpec& spec, const TileConfig& cfg) {
  auto b = [](int v) { return v ? "true" : "false"; };
  return std::string("attnjit::PrefillSm90Traits<") +
         (spec.dtype == DType::BF16 ? "attnjit::sm90::Bf16" : "attnjit::sm90::F16") + ", " +
         std::to_string(spec.head_dim) + ", " + std::to_string(cfg.block_n) + ", " +
         std::to_string(cfg.stages) + ", " + variant_policy(spec) + ", " + std::to_string(cfg.warpgroups) +
         ", " + b(cfg.pingpong) + ", " + b(cfg.overlap) + ", " + b(cfg.persistent != 0) + ", " +
         b(cfg.persistent >= 2) + trailing_flags({cfg.order == 1, spec.varlen, spec.page_size != 0, cfg.persistent == 3}) +
         ">";
}

// Paged K/V: one TMA box per page a key tile spans, each starting on a 1024-byte swizzle atom
// (8 rows of 128 bytes).
constexpr int kMinPage = 8;

// Why this template cannot run a problem whatever the config (nullopt: it can, given a legal
// config). What it lacks is served by the sm80 template.
std::optional<std::string> problem_refusal(const ProblemSpec& spec, const Target& target) {
  if (spec.family != Family::Prefill || (spec.dtype != DType::F16 && spec.dtype != DType::BF16))
    return "prefill_sm90 implements prefill f16/bf16; got " + spec.key();
  if (target.platform != Platform::Cuda || target.arch != "sm_90a")
    return "prefill_sm90 needs sm_90a (wgmma, TMA, setmaxnreg); got " + target.key();
  if (spec.page_size != 0 && spec.page_size < kMinPage)
    return "variant: page_size " + std::to_string(spec.page_size) + ": prefill_sm90 loads pages of at least " +
           std::to_string(kMinPage) + " rows (one TMA box each, on whole 1024-byte swizzle atoms); the sm80 "
           "template serves smaller ones; got " + spec.key();
  if (!(plain_fields(spec) == spec))
    return "variant: prefill_sm90 implements masks none / causal / sliding window, soft-capping, ALiBi, "
           "sinks, user score_mod / mask_mod / block-sparse, GQA, varlen batches and paged K/V only; " +
           spec.key() + " asks for more (the sm80 template serves them)";
  if (!one_of(kHeadDims, spec.head_dim))
    return "head_dim: " + std::to_string(spec.head_dim) +
           " not supported by prefill_sm90 (64, 96, 128, 192, 256); the sm80 template serves it";
  return std::nullopt;
}

// The persistent grid: one block per SM (132 when the target does not say), never more blocks
// than tiles.
unsigned persistent_blocks(const Target& target, int64_t tiles) {
  const int64_t sms = target.sm_count > 0 ? target.sm_count : 132;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min(sms, tiles)));
}

// A producer warpgroup and the consumer warpgroups.
int threads(const TileConfig& cfg) { return 128 * (1 + cfg.warpgroups); }

const CudaPrefillKernel kKernel{kGeneratorVersion, kRoot, "attnjit::prefill_sm90_kernel",
                                "const __grid_constant__ attnjit::PrefillSm90Params", traits_type, smem_bytes,
                                threads};

// L2 the persistent order's sections aim to stay within (H100 / H200 have 50 / 60 MB).
constexpr long long kL2SectionBytes = 32ll << 20;

class PrefillSm90 final : public KernelTemplate {
 public:
  Family family() const override { return Family::Prefill; }
  std::string_view short_name() const override { return "sm90"; }
  ArchRange archs() const override { return {Platform::Cuda, 90, 90}; }
  // Above prefill_sm80: the default on sm_90a for what it implements since scripts/gpu-check's
  // sm90 checks passed on an H200 (bench/RESULTS.md section 0, 2026-12-04: 1.43-1.59x the sm80
  // path at head dims 128 and 256 from 2k tokens, every GPU test passing). The sm80 template serves the rest.
  int priority() const override { return 1; }

  std::string version_hash() const override {
    static const std::string hash = templates::version_hash(kGeneratorVersion, kRoot);
    return hash;
  }

  // Only problems this template can run with some config: where it reports it supports a problem,
  // its default config wins there (priority), so a refusal must come before any config is asked.
  bool supports(const ProblemSpec& spec, const Target& target) const override {
    return !problem_refusal(spec, target);
  }
  // ALiBi, sinks, varlen batches, paged K/V and user variants run here by tuning or by choice
  // (--template sm90) until the GPU tests (tests/gpu Sm90Prefill.AlibiAndSinks,
  // VariantsGpu.*OnSm90) have verified them on a GPU (the emulator and the compile gates have):
  // the sm80 template's default serves them meanwhile.
  bool default_for(const ProblemSpec& spec, const Target&) const override {
    return !spec.alibi && !spec.sink && !spec.varlen && spec.page_size == 0 && !has_user_variants(spec);
  }

  std::vector<TileConfig> search_space(const ProblemSpec& spec, const Target& target) const override {
    std::vector<TileConfig> out;
    for (int wg : kWarpgroups)
      for (int bn : block_ns(spec.head_dim))
        for (int s : kStages)
          for (bool pp : {true, false})
            for (bool ov : {true, false})
              for (int ps : {0, 1, 2, 3})
                // Order 1 only where a mask's key range can leave a consumer a tile it cannot see.
                for (int order : {0, 1}) {
                  if (order == 1 && spec.mask.kind == MaskKind::None) continue;
                  TileConfig c = make_config(wg, bn, s, pp, ov, ps);
                  c.order = order;
                  if (!can_implement(spec, c, target)) out.push_back(c);
                }
    return out;
  }

  // Tuned on an H200 (bench/RESULTS.md sections 0b, 0c and 0d: exhaustive over this space at
  // bf16, then the persistent kernels at 512-2k tokens): head dim 64 runs fastest with three
  // consumer warpgroups and no ping-pong or overlap (1.34x the previous FA3-shaped default at
  // 8k); 96 and 128 with a third K/V stage (1.13-1.27x: the refill of a stage then has an
  // iteration of slack); 192 with the overlap but no ping-pong (1.07-1.08x at 8k), 256 without
  // the overlap (1.40x: its second S tile leaves the softmax too few registers). Where a query
  // tile sees few key tiles — up to 2k tokens (1k for causal at 96/128), or a sliding window of
  // at most 2k keys at 96/128 — each tile's Q load and epilogue are a large share of its work:
  // there the persistent kernel with O in its own buffer (ps2) hides them under the previous
  // tile (1.05-1.28x at 512-1k, 1.03x on a 1024-key window at 8k). The first legal choice wins
  // (masks and soft-capping cost registers); then any legal FA3-shaped tile.
  TileConfig default_config(const ProblemSpec& spec, const Target& target) const override {
    struct Choice {
      int warpgroups, block_n, stages;
      bool pingpong, overlap;
      int persistent;
    };
    std::vector<Choice> choices;
    const MaskKind kind = spec.mask.kind;
    const bool windowed = kind == MaskKind::SlidingWindow;
    const bool few_keys =
        windowed ? spec.mask.window_left + spec.mask.window_right < 2048
                 : spec.seqlen_k <= (kind == MaskKind::Causal && spec.head_dim > 64 ? 1024 : 2048);
    switch (spec.head_dim) {
      case 64:
        if (kind == MaskKind::Causal && few_keys)
          choices = {{2, 128, 3, false, false, 2}, {2, 128, 3, false, false, 1}, {3, 128, 2, false, false, 0}};
        else if (kind == MaskKind::None && few_keys)
          choices = {{3, 128, 2, false, false, 2}, {3, 128, 2, false, false, 0}};
        else
          choices = {{3, 128, 2, false, false, 0}, {2, 128, 3, true, true, 0}};
        break;
      case 96:
      case 128:
        choices = few_keys ? std::vector<Choice>{{2, 128, 2, true, true, 2}, {2, 128, 3, true, true, 0}}
                           : std::vector<Choice>{{2, 128, 3, true, true, 0}, {2, 128, 2, true, true, 0}};
        break;
      case 192:
        choices = {{2, 112, 2, false, true, 0}, {2, 112, 2, true, true, 0}, {2, 96, 2, true, true, 0},
                   {2, 112, 2, true, false, 0}, {2, 96, 2, true, false, 0}};
        break;
      case 256: choices = {{2, 80, 2, true, false, 0}, {2, 64, 2, true, false, 0}}; break;
    }
    for (const Choice& ch : choices) {
      const TileConfig c = make_config(ch.warpgroups, ch.block_n, ch.stages, ch.pingpong, ch.overlap, ch.persistent);
      if (!can_implement(spec, c, target)) return c;
    }
    const std::vector<int> bns = block_ns(spec.head_dim);
    for (bool ov : {true, false})
      for (auto bn = bns.rbegin(); bn != bns.rend(); ++bn) {  // the largest tile that fits
        const TileConfig c = make_config(2, *bn, 2, true, ov, 0);
        if (!can_implement(spec, c, target)) return c;
      }
    throw SpecError("prefill_sm90: no legal default config for " + spec.key() + " on " + target.key());
  }

  std::optional<std::string> can_implement(const ProblemSpec& spec, const TileConfig& cfg,
                                           const Target& target) const override {
    if (auto why = problem_refusal(spec, target)) return why;
    if (!cfg.tmpl.empty() && cfg.tmpl != "sm90")
      return "template: config " + cfg.key() + " names template '" + cfg.tmpl + "', not sm90";
    try {
      spec.validate();
    } catch (const SpecError& e) {
      return std::string(e.what());
    }
    if (!one_of(kWarpgroups, cfg.warpgroups))
      return "warpgroups: " + std::to_string(cfg.warpgroups) + " consumer warpgroups not supported (allowed: 2, 3)";
    if (cfg.block_m != 64 * cfg.warpgroups)
      return "block_m: must be 64 * warpgroups = " + std::to_string(64 * cfg.warpgroups) + ", got " +
             std::to_string(cfg.block_m);
    if (cfg.warps != 4) return "warps: 4 per warpgroup, got " + std::to_string(cfg.warps);
    const std::vector<int> bns = block_ns(spec.head_dim);
    if (std::find(bns.begin(), bns.end(), cfg.block_n) == bns.end())
      return "block_n: " + std::to_string(cfg.block_n) + " not supported for head_dim " +
             std::to_string(spec.head_dim) + " (allowed: " + list(bns) + ")";
    if (!one_of(kStages, cfg.stages))
      return "stages: " + std::to_string(cfg.stages) + " not supported (allowed: 2, 3)";
    for (auto [v, field] : {std::pair{cfg.pingpong, "pingpong"}, std::pair{cfg.overlap, "overlap"}})
      if (v != 0 && v != 1) return std::string(field) + ": 0 (off) or 1 (on), got " + std::to_string(v);
    if (cfg.persistent < 0 || cfg.persistent > 3)
      return "persistent: 0 (off), 1 (on), 2 (on, O in its own shared buffer) or 3 (2, and the next tile's first "
             "S GEMM during this tile's epilogue), got " + std::to_string(cfg.persistent);
    // The gate sweep of 2026-12-05 (NVRTC's ptxas over every ps3 config of the space): with
    // ping-pong, anything beyond the plain problem spilled 4-40 bytes (a key mask: hd 64 window
    // block_n 192, hd 96 window, hd 128 causal and window; user variants: hd 64 block mask; hd 192
    // without a mask; paged K/V at hd 128 without a mask); without ping-pong none did.
    const bool plain = spec.mask.kind == MaskKind::None && spec.softcap == 0 && !spec.alibi && !spec.sink &&
                       !spec.varlen && spec.page_size == 0 && !has_user_variants(spec) && spec.head_dim <= 128;
    if (cfg.persistent == 3 && cfg.pingpong && !plain)
      return "persistent 3 with ping-pong beyond head dim <= 128 without a mask or variant: the consumer "
             "spills (ptxas); use ping-pong 0 or persistent 2";
    // Three consumers have 160 registers each: S in flight beside O during the epilogue spilled
    // 100-224 bytes at every head dim (the same sweep).
    if (cfg.persistent == 3 && cfg.warpgroups == 3)
      return "persistent 3 with three consumer warpgroups: the next S in flight beside O spills in 160 "
             "registers (ptxas); use two warpgroups or persistent 2";
    // User variants (score_mod / mask_mod snippets): 4-52 bytes spilled above head dim 64 (hd 96 /
    // 128 / 192, with and without a block mask), and at hd 64 a cold NVRTC compile took 5-9.5 s
    // (ps2: 0.7-1.3 s; issue 16 allows 1.5 s per kernel).
    if (cfg.persistent == 3 && has_user_variants(spec))
      return "persistent 3 with user variants: the snippets beside the next S in flight spill (ptxas) or take "
             "5-9 s to compile; use persistent 2";
    if (cfg.persistent == 3 && cfg.order == 1)
      return "persistent 3 with order 1: a consumer that passes through the next tile's first key tile cannot "
             "start it early; use order 0";
    if (cfg.splits || cfg.vec || cfg.threads)
      return "splits/vec/threads: not knobs of prefill_sm90 (must be 0), got " + cfg.key();
    if (cfg.order != 0 && cfg.order != 1)
      return "order: " + std::to_string(cfg.order) + " not supported by prefill_sm90 (0, or 1: a consumer " +
             "passes through the key tiles its rows cannot see)";
    // Measured with ptxas over the space (hd 64-256, causal and a 1024-key window): with the
    // overlap, a window's pass-through loops around the pipelined ones spilled 4-200 bytes (hd 128
    // pp1_ov1_ps2: 96); causal, with or without soft-capping, never did.
    if (cfg.order == 1 && cfg.overlap && spec.mask.kind == MaskKind::SlidingWindow)
      return "order 1 with the overlap under a sliding window: the consumer's pass-through loops around the "
             "pipelined ones spill (ptxas); use order 0 or overlap 0";
    if (spec.block_sparse > 0 && (spec.block_sparse % cfg.block_m != 0 || spec.block_sparse % cfg.block_n != 0))
      return "block_sparse " + std::to_string(spec.block_sparse) + ": block_m " + std::to_string(cfg.block_m) +
             " and block_n " + std::to_string(cfg.block_n) + " must divide the block mask's tile";
    if (spec.block_sparse > 0 && cfg.order == 1)
      return "order 1 with a block mask: the pass-through walks a contiguous tile range, a block mask's tiles are a list";
    if (spec.page_size != 0 && spec.page_size % cfg.block_n != 0 && cfg.block_n % spec.page_size != 0)
      return "page_size " + std::to_string(spec.page_size) + " and block_n " + std::to_string(cfg.block_n) +
             ": a key tile must hold whole pages or lie in one page (one TMA box per page)";
    const int64_t smem = smem_bytes(spec, cfg);
    const int64_t smem_limit = target.smem_per_block > 0 ? target.smem_per_block : 227 * 1024;
    if (smem > smem_limit)
      return "shared memory: " + std::to_string(smem) + " bytes exceed " + target.key() + "'s " +
             std::to_string(smem_limit) + " per block";
    if (consumer_regs(spec, cfg) > consumer_budget(cfg))
      return "registers: ~" + std::to_string(consumer_regs(spec, cfg)) + " per consumer thread exceed the " +
             std::to_string(consumer_budget(cfg)) + " of " + std::to_string(cfg.warpgroups) +
             " consumer warpgroups (smaller block_n, fewer warpgroups or overlap off)";
    return std::nullopt;
  }

  // The prelude declares the user mods (codegen/user_variant.h), as for sm80.
  KernelSource render(const ProblemSpec& spec, const TileConfig& cfg,
                      const Target& target) const override {
    return render_cuda_prefill(*this, kKernel, spec, cfg, target);
  }

  // PrefillParams (validated as for sm80) behind four tensor maps encoded by the installed
  // cuTensorMapEncodeTiled (codegen/prefill/sm90_tensor_maps.h), then the persistent tile order.
  std::vector<unsigned char> build_arguments(const ProblemSpec& spec, const TileConfig& cfg,
                                             const Target& target, const LaunchArgs& args,
                                             const Workspace&) const override {
    if (!args.prefill || args.decode)
      throw SpecError("launch: a prefill template takes prefill arguments");
    const PrefillParams p = make_prefill_params(*args.prefill, target.platform);
    PrefillSm90HostParams h = make_prefill_sm90_params(p, spec.dtype, spec.head_dim, cfg.block_m, cfg.block_n,
                                                       args.prefill->problem.total_k, args.prefill->problem.num_pages);
    // Varlen: the tile numbers of common/layout_varlen.h, as one batch.
    const int num_m = spec.varlen ? static_cast<int>(p.total_q / cfg.block_m + p.batch)
                                  : (p.seqlen_q + cfg.block_m - 1) / cfg.block_m;
    h.sched = make_sm90_tile_sched(num_m, spec.varlen ? 1 : p.batch, p.heads_q, p.heads_q / p.heads_kv,
                                   2ll * p.seqlen_k * spec.head_dim * 2, kL2SectionBytes);
    const auto* b = reinterpret_cast<const unsigned char*>(&h);
    return {b, b + sizeof h};
  }

  LaunchGeometry geometry(const ProblemSpec& spec, const TileConfig& cfg, const Target& target,
                          const RunShape& shape) const override {
    if (auto why = can_implement(spec, cfg, target))
      throw SpecError("prefill_sm90: cannot launch " + cfg.key() + " for " + spec.key() + ": " + *why);
    check_prefill_launch_shape(spec, shape);
    LaunchGeometry g;
    int64_t num_m = (shape.seqlen_q + cfg.block_m - 1) / cfg.block_m, batches = shape.batch;
    if (spec.varlen) {
      // One tile number per CTA (common/layout_varlen.h): at most one idle per sequence.
      num_m = shape.total_q / cfg.block_m + shape.batch;
      batches = 1;
      if (shape.total_q < 1 || num_m > INT32_MAX)
        throw SpecError("total_q: must be in 1..2^31-1 with at most 2^31-1 tiles, got " + std::to_string(shape.total_q));
    }
    if (cfg.persistent) {
      g.grid[0] = persistent_blocks(target, num_m * shape.heads_q * batches);
    } else {
      g.grid[0] = static_cast<unsigned>(num_m);
      g.grid[1] = static_cast<unsigned>(shape.heads_q);
      g.grid[2] = static_cast<unsigned>(batches);
    }
    g.block[0] = static_cast<unsigned>(threads(cfg));
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
