// decode_sm80: split-KV decode on sm_80 and newer (templates/decode/sm80.cuh), NVRTC-compiled.
//
// Knobs (TileConfig):
//   block_m  query rows (group heads x query tokens) per CTA: 1, 2, 4 or 8 for the scalar kernel
//            (16 fp32 registers per row per thread: q and the accumulator), or 16 for the
//            tensor-core kernel (templates/decode/mma_sm80.cuh; one m16 MMA tile of rows, head
//            dims 64 / 128 / 256) — the default from 8 rows (GQA 8, or 2+ query tokens with GQA 4)
//   block_n  scalar: keys per pipeline stage, a multiple of the CTA's lane groups
//            (warps * 32 / (head_dim / 8)), at most 64; tensor-core: keys per warp per stage,
//            16, 32 or 64 (16 at head dim 256: registers)
//   warps    1, 2, 4 or 8;  stages: cp.async ring depth 1..8
//   splits   0 = decode_num_splits' rule at launch, else a fixed count (capped at the KV blocks)
//   vec      0 or 8 (16-byte loads; the only width implemented)
// ALiBi / sinks (_alibi, _sink): both kernels, through their variant entries (DecodeVariantParams);
// user score_mod / mask_mod (_sm / _mm): both kernels, through their mods entries (DecodeModParams).
// fp8 KV cache (_kv-e4m3 / _kv-e5m2): the tensor-core kernel only (head dims 64 / 128 / 256),
// each lane converting its own fp8 operand bytes to f16 in registers, the MMAs' type for every query dtype
// (bf16 Q scaled into f16's range by a power of two; templates/decode/mma_sm80.cuh).
// Launch: grid = (splits * row_chunks, heads_kv, batch), block = warps * 32,
// dynamic smem = max(K+V ring, cross-warp merge buffer) + the merge / combine scalars.
#include <algorithm>
#include <string>
#include <utility>

#include "codegen/decode/arguments.h"
#include "codegen/decode/launch.h"
#include "codegen/decode/plan.h"
#include "codegen/embedded_templates.h"
#include "codegen/kernel_template.h"
#include "codegen/user_variant.h"
#include "codegen/variant.h"

namespace attnjit {
namespace {

constexpr const char* kGenerator = "decode_sm80/3";  // 3: kMinBlocks (the launch bound)
// The tensor-core kernel includes the scalar one (shared helpers), so its closure covers both.
constexpr const char* kScalarRoot = "decode/sm80.cuh";
constexpr const char* kMmaRoot = "decode/mma_sm80.cuh";
constexpr int kVec = 8;          // elements per 16-byte load
constexpr int kMaxRowsPerCta = 8;
constexpr int kMaxBlockN = 64;
constexpr int kMmaRows = kDecodeMmaRows;  // block_m of the tensor-core kernel
bool is_mma(const TileConfig& c) { return c.block_m == kMmaRows; }
bool mma_head_dim(int d) { return d == 64 || d == 128 || d == 256; }
// The tensor-core kernel pays off once the scalar kernel would hold 8 rows.
// An fp8 cache is read by the tensor-core kernel only (its MMA operands are converted in registers).
bool fp8(const ProblemSpec& s) { return s.kv_dtype != KvDType::Same; }
// The kernel choice is decode_gpu_plan's (it depends on the rows and the cache, not the batch).
bool mma_default(const ProblemSpec& s) {
  DecodeGpuPlanInput in;
  in.group = s.group;
  in.q_tokens = s.seqlen_q;
  in.head_dim = s.head_dim;
  in.kv_bytes = kv_dtype_bytes(s.dtype, s.kv_dtype);
  return decode_gpu_plan(in).tensor_cores;
}
// Shared memory of the kernel, all dynamic: max(K+V ring, cross-warp merge buffer), then the
// per-warp max / sum [W][RPC] x 2, the combine weights [RPC][kMaxSplits] and a flag.
int64_t dynamic_smem(const ProblemSpec& s, const TileConfig& c) {
  // Tensor-core kernel: one ring per warp; with an fp8 cache a ring of 1-byte elements (read
  // straight into the MMA operands: no 16-bit tile).
  const int64_t kv_bytes = kv_dtype_bytes(s.dtype, s.kv_dtype);
  const int64_t ring = 2LL * c.stages * c.block_n * s.head_dim * kv_bytes * (is_mma(c) ? c.warps : 1);
  const int64_t merge = int64_t(c.warps) * c.block_m * s.head_dim * 4;
  const int64_t tail = (2LL * c.warps * c.block_m + int64_t(c.block_m) * kDecodeMaxSplits + 1) * 4;
  return (std::max(ring, merge) + tail + 15) / 16 * 16;
}
// The resident CTAs per SM decode_gpu_plan counts on for this config (shared memory, warps,
// registers as it estimates them): the tensor-core kernel's launch bound (kMinBlocks).
int plan_ctas_per_sm(const ProblemSpec& s, const TileConfig& c, const Target& t) {
  return decode_gpu_plan(decode_gpu_plan_input(s, c, t)).ctas_per_sm;
}
bool pow2(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }
bool gpu_head_dim(int d) { return d == 32 || d == 64 || d == 128 || d == 256; }
// Lane groups (one key each) per CTA.
int lane_groups(const ProblemSpec& s, int warps) { return warps * (32 / (s.head_dim / kVec)); }
// Rows per CTA by default: all rows when they fit, else the register limit.
int default_rows(const ProblemSpec& s) {
  int r = 1;
  while (r < decode_rows(s) && r < kMaxRowsPerCta) r *= 2;
  return r;
}

class DecodeSm80 final : public DecodeLaunch<KernelTemplate> {
 public:
  Family family() const override { return Family::Decode; }
  std::string_view short_name() const override { return "sm80"; }
  ArchRange archs() const override { return {Platform::Cuda, 80}; }

  std::string version_hash() const override {
    return templates::version_hash(kGenerator, kMmaRoot);
  }

  bool supports(const ProblemSpec& spec, const Target& target) const override {
    return target.platform == Platform::Cuda && target.cc_major >= 8 && spec.family == Family::Decode &&
           (spec.dtype == DType::F16 || spec.dtype == DType::BF16) && gpu_head_dim(spec.head_dim) &&
           (!fp8(spec) || mma_head_dim(spec.head_dim));
  }

  std::vector<TileConfig> search_space(const ProblemSpec& spec, const Target& target) const override {
    std::vector<TileConfig> out;
    if (!supports(spec, target)) return out;
    const int rows_max = default_rows(spec);
    if (decode_rows(spec) >= 4 || fp8(spec))  // tensor-core kernel
      for (int w : {2, 4, 8})
        for (int bn : {16, 32, 64})
          for (int st : {2, 3, 4}) {
            TileConfig c = make(kMmaRows, bn, w, st);
            if (!can_implement(spec, c, target)) out.push_back(c);
          }
    for (int bm = 1; bm <= rows_max && !fp8(spec); bm *= 2) {
      if (bm * 4 < rows_max) continue;  // far fewer rows than fit: K/V re-read per chunk
      for (int w : {2, 4, 8})
        for (int per_group : {1, 2, 4})
          for (int st : {2, 3, 4}) {
            TileConfig c = make(bm, lane_groups(spec, w) * per_group, w, st);
            if (!can_implement(spec, c, target)) out.push_back(c);
          }
    }
    TileConfig d = default_config(spec, target);
    if (std::find(out.begin(), out.end(), d) == out.end()) out.push_back(d);
    return out;
  }

  TileConfig default_config(const ProblemSpec& spec, const Target& target) const override {
    // Tensor cores: 4 warps of 16 keys, 3 stages — 64 KB of K+V in flight per CTA at head dim
    // 128, 96 KB of rings (two CTAs per SM on sm_90) — else fewer stages / warps where shared
    // memory is smaller (sm_86 / sm_89) or rows are longer (head dim 256). An fp8 cache takes
    // blocks of 32 keys (decode_gpu_plan's kFp8BlockN): the same bytes in flight and rings as
    // 16-bit K/V, half the per-step work per key.
    if (mma_default(spec))
      for (auto [w, st] : {std::pair{4, 3}, {4, 2}, {2, 3}, {2, 2}}) {
        if (spec.head_dim == 256 && w == 4) continue;
        TileConfig c = make(kMmaRows, decode_mma_block_n(spec.head_dim, kv_dtype_bytes(spec.dtype, spec.kv_dtype)), w, st);
        if (!can_implement(spec, c, target)) return c;
      }
    // 4 warps, two keys per lane group and a 4-deep ring: 8 KB of K+V per stage, 24 KB in
    // flight per CTA — more than an SM's share of the bandwidth-latency product at 2 CTAs/SM.
    const int w = 4;
    return make(default_rows(spec), std::min(kMaxBlockN, lane_groups(spec, w) * 2), w, 4);
  }

  std::optional<std::string> can_implement(const ProblemSpec& spec, const TileConfig& c,
                                           const Target& target) const override {
    if (target.platform != Platform::Cuda || target.cc_major < 8)
      return "decode_sm80 needs a CUDA target of compute capability 8.0 or newer, got " + target.key();
    if (spec.family != Family::Decode) return "decode_sm80 implements decode problems only, got " + spec.key();
    if (!c.tmpl.empty() && c.tmpl != "sm80")
      return "template: config " + c.key() + " names template '" + c.tmpl + "', not sm80";
    if (spec.dtype != DType::F16 && spec.dtype != DType::BF16)
      return "dtype: decode_sm80 supports f16 and bf16, got " + std::string(to_string(spec.dtype));
    if (!gpu_head_dim(spec.head_dim))
      return "head_dim: decode_sm80 supports 32, 64, 128 and 256, got " + std::to_string(spec.head_dim);
    if (spec.mask.window_left > 0x7fffffffLL || spec.mask.window_right > 0x7fffffffLL)
      return "window: widths beyond 2^31 - 1 keys are not supported";
    if (fp8(spec) && !mma_head_dim(spec.head_dim))
      return "kv_dtype: an fp8 KV cache (" + std::string(to_string(spec.kv_dtype)) +
             ") needs head_dim 64, 128 or 256 on GPUs (the tensor-core kernel), got " +
             std::to_string(spec.head_dim);
    if (is_mma(c)) return can_implement_mma(spec, c, target);
    if (fp8(spec))
      return "block_m: an fp8 KV cache (" + std::string(to_string(spec.kv_dtype)) +
             ") is dequantised by the tensor-core kernel only (block_m 16), got " + std::to_string(c.block_m);
    if (!pow2(c.block_m) || c.block_m > kMaxRowsPerCta)
      return "block_m: query rows per CTA must be 1, 2, 4 or 8 (scalar) or 16 (tensor cores), got " +
             std::to_string(c.block_m);
    if (c.block_m > default_rows(spec))
      return "block_m: " + std::to_string(c.block_m) + " exceeds the problem's " +
             std::to_string(decode_rows(spec)) + " query rows per KV head";
    if (c.warps != 1 && c.warps != 2 && c.warps != 4 && c.warps != 8)
      return "warps: must be 1, 2, 4 or 8, got " + std::to_string(c.warps);
    const int ng = lane_groups(spec, c.warps);
    if (c.block_n < ng || c.block_n % ng != 0 || c.block_n > kMaxBlockN)
      return "block_n: must be a multiple of the " + std::to_string(ng) +
             " lane groups per CTA and at most " + std::to_string(kMaxBlockN) + ", got " +
             std::to_string(c.block_n);
    return common_checks(spec, c, target);
  }

  KernelSource render(const ProblemSpec& spec, const TileConfig& c, const Target& target) const override {
    if (auto why = can_implement(spec, c, target)) throw SpecError("decode_sm80: " + *why);
    // splits is a launch knob: it stays out of the source so every split count shares a binary.
    TileConfig code_cfg = c;
    code_cfg.splits = 0;
    code_cfg.vec = kVec;
    const char* mask = spec.mask.kind == MaskKind::None     ? "kMaskNone"
                       : spec.mask.kind == MaskKind::Causal ? "kMaskCausal"
                                                            : "kMaskWindow";
    KernelSource s;
    s.platform = Platform::Cuda;
    s.name = kernel_name(spec, c, target);
    s.text = "// Generated by attnjit " + std::string(kGenerator) + ": " + spec.key() + " / " +
             code_cfg.key() + " / " + target.key() +
             "\n#include \"" + (is_mma(c) ? kMmaRoot : kScalarRoot) + "\"" +
             "\n\n" + user_mods_prelude(spec) + "namespace attnjit_gen {\nstruct DecodeConfig {\n";
    auto cst = [&](const char* type, const char* n, const std::string& v) {
      s.text += std::string("  static constexpr ") + type + " " + n + " = " + v + ";\n";
    };
    s.text += std::string("  using Elem = attnjit::decode::") + (spec.dtype == DType::BF16 ? "Bf16" : "F16") + ";\n";
    cst("int", "kHeadDim", std::to_string(spec.head_dim));
    cst("int", "kGroup", std::to_string(spec.group));
    cst("int", "kQTokens", std::to_string(spec.seqlen_q));
    cst("int", "kRowsPerCta", std::to_string(c.block_m));
    cst("int", "kWarps", std::to_string(c.warps));
    cst("int", "kBlockN", std::to_string(c.block_n));
    cst("int", "kStages", std::to_string(c.stages));
    cst("int", "kPageSize", std::to_string(spec.page_size));
    cst("int", "kMask", std::string("attnjit::decode::") + mask);
    cst("long long", "kWindowLeft", std::to_string(spec.mask.window_left) + "LL");
    cst("long long", "kWindowRight", std::to_string(spec.mask.window_right) + "LL");
    if (spec.softcap != 0) cst("float", "kSoftcap", softcap_literal(spec.softcap));
    if (is_mma(c)) cst("int", "kMinBlocks", std::to_string(plan_ctas_per_sm(spec, c, target)));
    if (fp8(spec))
      cst("int", "kKvFp8", spec.kv_dtype == KvDType::E4M3 ? "attnjit::fp8::kE4M3" : "attnjit::fp8::kE5M2");
    if (spec.alibi) cst("bool", "kAlibi", "true");
    if (spec.sink) cst("bool", "kSink", "true");
    if (has_user_variants(spec)) s.text += "  using UserMods = attnjit_gen::UserMods;\n";
    s.text += "};\n}  // namespace attnjit_gen\n";
    // ALiBi / sinks: the entry taking DecodeVariantParams; user mods: DecodeModParams
    // (templates/decode/variants.h).
    const char* entry = has_user_variants(spec) ? "_mods" : spec.alibi || spec.sink ? "_variant" : "";
    s.entry = std::string("attnjit::decode::") + (is_mma(c) ? "decode_mma" : "decode") + entry +
              "_kernel<attnjit_gen::DecodeConfig>";
    s.headers = templates::headers(is_mma(c) ? kMmaRoot : kScalarRoot);
    s.options = {"--std=c++17", "--extra-device-vectorization"};
    s.arch = target.arch;
    s.finalize();
    return s;
  }

  LaunchGeometry geometry(const ProblemSpec& spec, const TileConfig& c, const Target& target,
                          const RunShape& shape) const override {
    if (shape.batch < 1 || shape.heads_kv < 1)
      throw SpecError("shape: batch and heads_kv must be >= 1");
    if (shape.batch > 65535) throw SpecError("batch: at most 65535 sequences per call, got " + std::to_string(shape.batch));
    if (shape.heads_kv > 65535) throw SpecError("heads_kv: at most 65535, got " + std::to_string(shape.heads_kv));
    const int splits = decode_num_splits(spec, c, target, shape);
    LaunchGeometry g;
    g.grid[0] = static_cast<unsigned>(splits * decode_row_chunks(spec, c));
    g.grid[1] = static_cast<unsigned>(shape.heads_kv);
    g.grid[2] = static_cast<unsigned>(shape.batch);
    g.block[0] = static_cast<unsigned>(c.warps * 32);
    g.dynamic_smem = static_cast<unsigned>(dynamic_smem(spec, c));
    return g;
  }

 private:
  std::optional<std::string> can_implement_mma(const ProblemSpec& spec, const TileConfig& c,
                                               const Target& target) const {
    if (!mma_head_dim(spec.head_dim))
      return "block_m 16 (tensor cores): head_dim must be 64, 128 or 256, got " + std::to_string(spec.head_dim);
    if (c.warps != 1 && c.warps != 2 && c.warps != 4 && c.warps != 8)
      return "warps: must be 1, 2, 4 or 8, got " + std::to_string(c.warps);
    if (c.block_n != 16 && c.block_n != 32 && c.block_n != 64)
      return "block_n: keys per warp and stage must be 16, 32 or 64, got " + std::to_string(c.block_n);
    // fp32 registers per thread: O (head_dim / 2) + S (block_n / 2), plus Q (head_dim / 4).
    if (spec.head_dim == 256 && c.block_n != 16)
      return "block_n: head dim 256 takes 16 keys per warp (registers), got " + std::to_string(c.block_n);
    return common_checks(spec, c, target);
  }
  // Checks both kernels share.
  std::optional<std::string> common_checks(const ProblemSpec& spec, const TileConfig& c,
                                           const Target& target) const {
    if (c.stages < 1 || c.stages > 8) return "stages: must be in 1..8, got " + std::to_string(c.stages);
    if (c.splits < 0 || c.splits > kDecodeMaxSplits)
      return "splits: must be 0 (rule) or 1.." + std::to_string(kDecodeMaxSplits) + ", got " +
             std::to_string(c.splits);
    if (c.vec != 0 && c.vec != kVec) return "vec: decode_sm80 loads 16 bytes (vec 8), got " + std::to_string(c.vec);
    if (c.threads != 0 || c.order != 0 || c.has_hopper_knobs())
      return "threads / order / warpgroups / pingpong / overlap / persistent: not decode_sm80 knobs";
    const int64_t smem = dynamic_smem(spec, c);
    if (smem > target.smem_per_block)
      return "shared memory: " + std::to_string(smem) + " bytes exceed the target's " +
             std::to_string(target.smem_per_block);
    return std::nullopt;
  }

  static TileConfig make(int bm, int bn, int warps, int stages) {
    return {.block_m = bm, .block_n = bn, .warps = warps, .stages = stages, .vec = kVec, .tmpl = "sm80"};
  }
};

}  // namespace

const KernelTemplate& decode_sm80_template() {
  static DecodeSm80 t;
  return t;
}

}  // namespace attnjit
