// decode_cpu: split-KV decode on the CPU (templates/decode/cpu.h), JIT-compiled by clang.
//
// Knobs (TileConfig): block_m = query rows per work item (powers of two up to 16, at most the
// problem's rows rounded up), block_n = keys per softmax block (16..128, powers of two),
// vec = SIMD lanes over the head dim (4, 8 or 16; 2 * vec must divide the head dim),
// order = arithmetic (0: fp32 multiply-adds; 1, bf16 only: bf16 pair dot products, one
// vdpbf16ps per 2 * vec multiply-adds on AVX-512 BF16 hosts, emulated with FMAs elsewhere; the
// default where the host has the instruction), threads = host worker threads (launch only),
// splits = 0 (decode_num_splits' rule) or a fixed count (launch only). warps and stages are 1.
//
// Launch geometry on the CPU: grid[0] = work items = batch * heads_kv * row_chunks * splits,
// block[0] = worker threads. The entry is
//   extern "C" void <entry>(const attnjit::DecodeParams*, long long item_begin, long long item_end)
// (the CPU backend's convention, as prefill_cpu). threads and splits only affect the launch, so
// configs differing only in them share one compiled object.
#include <algorithm>
#include <string>

#include "codegen/decode/arguments.h"
#include "codegen/decode/plan.h"
#include "codegen/embedded_templates.h"
#include "codegen/kernel_template.h"
#include "codegen/user_variant.h"
#include "codegen/variant.h"

namespace attnjit {
namespace {

constexpr const char* kGenerator = "decode_cpu/2";
constexpr const char* kRoot = "decode/cpu.h";  // the template the prelude includes
constexpr int kMaxRowsPerItem = 16;
// Per-thread working set (q, acc, the block's scores) lives on the worker's stack.
constexpr int64_t kMaxWorkBytes = 1 << 20;

bool pow2(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }
int native_vec(const Target& t) { return std::clamp(t.vector_bits / 32, 4, 16); }
int hw_threads(const Target& t) { return std::max(1, t.sm_count); }
bool has_feature(const Target& t, std::string_view f) {
  std::string_view s = t.cpu_features;
  while (!s.empty()) {
    const size_t comma = s.find(',');
    if (s.substr(0, comma) == f) return true;
    s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
  }
  return false;
}
// vdpbf16ps at the vector width the kernel runs (the 128/256-bit forms need AVX-512 VL).
bool has_bf16_dot(const Target& t, int vec) {
  return has_feature(t, "+avx512bf16") && (vec == 16 || has_feature(t, "+avx512vl"));
}
// Vector registers the kernel's accumulators may take: half the register file (16 of 32 with
// AVX-512, 8 of 16 with AVX), the rest holds the K/V vectors, a query or a probability.
int acc_regs(const Target& t) { return t.vector_bits >= 512 ? 16 : 8; }
int max_rows(const ProblemSpec& s) {
  int r = 1;
  while (r < decode_rows(s) && r < kMaxRowsPerItem) r *= 2;
  return r;
}
int64_t work_bytes(const ProblemSpec& s, const TileConfig& c) {
  // q and acc rows, the block's scores (+ bf16 pairs), its row pointers, the zero row.
  return 2LL * c.block_m * s.head_dim * 4 + c.block_m * c.block_n * 6LL + c.block_n * 16LL + s.head_dim * 4;
}

class DecodeCpuTemplate final : public KernelTemplate {
 public:
  Family family() const override { return Family::Decode; }
  std::string_view short_name() const override { return "cpu"; }
  ArchRange archs() const override { return {Platform::Cpu}; }

  std::string version_hash() const override {
    return templates::version_hash(kGenerator, kRoot);
  }

  bool supports(const ProblemSpec& spec, const Target& target) const override {
    return target.platform == Platform::Cpu && spec.family == Family::Decode &&
           std::find(std::begin(kHeadDims), std::end(kHeadDims), spec.head_dim) != std::end(kHeadDims);
  }

  std::vector<TileConfig> search_space(const ProblemSpec& spec, const Target& target) const override {
    std::vector<TileConfig> out;
    if (!supports(spec, target)) return out;
    const int nv = native_vec(target);
    std::vector<int> threads = {1};
    if (hw_threads(target) > 1) threads.push_back(hw_threads(target));
    std::vector<int> orders = {0};
    if (spec.dtype == DType::BF16 && spec.kv_dtype == KvDType::Same) orders.push_back(1);
    for (int bm = 1; bm <= max_rows(spec); bm *= 2) {
      if (bm * 4 < max_rows(spec)) continue;
      for (int bn : {32, 64, 128})
        for (int vec : {nv, nv / 2})
          for (int t : threads)
            for (int order : orders) {
              TileConfig c = make(bm, bn, vec, t, order);
              if (!can_implement(spec, c, target)) out.push_back(c);
            }
    }
    TileConfig d = default_config(spec, target);
    if (std::find(out.begin(), out.end(), d) == out.end()) out.push_back(d);
    return out;
  }

  TileConfig default_config(const ProblemSpec& spec, const Target& target) const override {
    // All rows of a KV head in one item (each K/V row read once for all of them), 64-key
    // blocks, the widest vectors whose pairs tile the head dim, bf16 pair dot products where
    // the host has the instruction.
    int vec = native_vec(target);
    while (spec.head_dim % (2 * vec) != 0) vec /= 2;
    const int order = spec.dtype == DType::BF16 && spec.kv_dtype == KvDType::Same && has_bf16_dot(target, vec) ? 1 : 0;
    return make(max_rows(spec), 64, vec, hw_threads(target), order);
  }

  std::optional<std::string> can_implement(const ProblemSpec& spec, const TileConfig& c,
                                           const Target& target) const override {
    if (!supports(spec, target))
      return "decode_cpu implements decode problems on CPU targets only (got " + spec.key() + " on " +
             target.key() + ")";
    if (!c.tmpl.empty() && c.tmpl != "cpu")
      return "template: config " + c.key() + " names template '" + c.tmpl + "', not cpu";
    if (c.warps != 1) return "warps: must be 1 on the CPU, got " + std::to_string(c.warps);
    if (c.stages != 1) return "stages: must be 1 on the CPU, got " + std::to_string(c.stages);
    if (c.has_hopper_knobs()) return "warpgroups/pingpong/overlap/persistent: not decode_cpu knobs";
    if (c.order != 0 && c.order != 1) return "order: must be 0 (fp32) or 1 (bf16 pairs), got " + std::to_string(c.order);
    if (c.order == 1 && (spec.dtype != DType::BF16 || spec.kv_dtype != KvDType::Same))
      return "order: 1 (bf16 pair dot products) needs bf16 K/V, got " +
             std::string(spec.kv_dtype != KvDType::Same ? to_string(spec.kv_dtype) : to_string(spec.dtype));
    if (!pow2(c.block_m) || c.block_m > max_rows(spec))
      return "block_m: query rows per item must be a power of two up to " + std::to_string(max_rows(spec)) +
             ", got " + std::to_string(c.block_m);
    if (!pow2(c.block_n) || c.block_n < 16 || c.block_n > 128)
      return "block_n: must be a power of two in 16..128, got " + std::to_string(c.block_n);
    const int vec = c.vec ? c.vec : native_vec(target);
    if (vec != 4 && vec != 8 && vec != 16) return "vec: must be 4, 8 or 16, got " + std::to_string(vec);
    if (vec * 32 > std::max(128, target.vector_bits))
      return "vec: " + std::to_string(vec) + " lanes exceed the target's " +
             std::to_string(target.vector_bits) + "-bit vectors";
    if (spec.head_dim % (2 * vec) != 0)
      return "vec: head_dim " + std::to_string(spec.head_dim) + " is not a multiple of 2 * " + std::to_string(vec) +
             " (rows are read in pairs of vectors)";
    if (c.splits < 0 || c.splits > kDecodeMaxSplits)
      return "splits: must be 0 (rule) or 1.." + std::to_string(kDecodeMaxSplits) + ", got " +
             std::to_string(c.splits);
    if (c.threads < 0 || c.threads > 1024)
      return "threads: must be in 0..1024 (0 = all hardware threads), got " + std::to_string(c.threads);
    if (work_bytes(spec, c) > kMaxWorkBytes)
      return "working set " + std::to_string(work_bytes(spec, c)) + " bytes exceeds " + std::to_string(kMaxWorkBytes);
    return std::nullopt;
  }

  KernelSource render(const ProblemSpec& spec, const TileConfig& c, const Target& target) const override {
    if (auto why = can_implement(spec, c, target)) throw SpecError("decode_cpu: " + *why);
    const int vec = c.vec ? c.vec : native_vec(target);
    TileConfig code_cfg = c;  // launch-only knobs stay out of the source and the entry name
    code_cfg.threads = 0;
    code_cfg.splits = 0;
    code_cfg.vec = vec;
    const char* storage = spec.dtype == DType::F32    ? "kStoreF32"
                          : spec.dtype == DType::BF16 ? "kStoreBF16"
                                                      : "kStoreF16";
    const char* mask = spec.mask.kind == MaskKind::None     ? "kDecodeMaskNone"
                       : spec.mask.kind == MaskKind::Causal ? "kDecodeMaskCausal"
                                                            : "kDecodeMaskWindow";
    KernelSource s;
    s.platform = Platform::Cpu;
    s.name = kernel_name(spec, c, target);
    s.entry = cpu_entry(spec, code_cfg);
    s.text = "// Generated by attnjit " + std::string(kGenerator) + ": " + spec.key() + " / " +
             code_cfg.key() + " / " + target.key() + "\n#include \"" + kRoot + "\"\n\n" + user_mods_prelude(spec) +
             "namespace {\nstruct Config {\n";
    auto cst = [&](const char* type, const char* n, const std::string& v) {
      s.text += std::string("  static constexpr ") + type + " " + n + " = " + v + ";\n";
    };
    cst("int", "kHeadDim", std::to_string(spec.head_dim));
    cst("int", "kGroup", std::to_string(spec.group));
    cst("int", "kQTokens", std::to_string(spec.seqlen_q));
    cst("int", "kRowsPerItem", std::to_string(c.block_m));
    cst("int", "kBlockN", std::to_string(c.block_n));
    cst("int", "kVec", std::to_string(vec));
    cst("int", "kAccRegs", std::to_string(acc_regs(target)));
    cst("int", "kHeadsPerItem", std::to_string(decode_cpu_heads_per_item(spec, c)));
    cst("int", "kOrder", std::to_string(c.order));
    cst("int", "kStorage", std::string("attnjit::cpu::") + storage);
    cst("int", "kPageSize", std::to_string(spec.page_size));
    cst("int", "kMask", std::string("attnjit::cpu::") + mask);
    cst("long long", "kWindowLeft", std::to_string(spec.mask.window_left) + "LL");
    cst("long long", "kWindowRight", std::to_string(spec.mask.window_right) + "LL");
    if (spec.softcap != 0) cst("float", "kSoftcap", softcap_literal(spec.softcap));
    if (spec.kv_dtype != KvDType::Same)  // fp8 K/V, converted in registers
      cst("int", "kKvFp8", spec.kv_dtype == KvDType::E4M3 ? "attnjit::fp8::kE4M3" : "attnjit::fp8::kE5M2");
    if (spec.alibi) cst("bool", "kAlibi", "true");  // the params are then DecodeVariantParams
    if (spec.sink) cst("bool", "kSink", "true");
    if (has_user_variants(spec))  // the params are then DecodeModParams
      s.text += "  using UserMods = attnjit_gen::UserMods;\n";
    s.text += "};\n}  // namespace\n\nextern \"C\" void " + s.entry +
              "(const attnjit::DecodeParams* p, long long item_begin, long long item_end) {\n"
              "  attnjit::cpu::DecodeCpu<Config>::run(*p, item_begin, item_end);\n}\n";
    s.headers = templates::headers(kRoot);
    // clang -cc1 flags (the driver's -fno-math-errno is cc1's default).
    s.options = {"-O3", "-std=c++17", "-ffp-contract=fast", "-vectorize-loops", "-vectorize-slp",
                 "-mprefer-vector-width=" + std::to_string(std::max(128, target.vector_bits)),
                 "-target-cpu", target.arch};
    std::string_view feats = target.cpu_features;
    while (!feats.empty()) {
      const size_t comma = feats.find(',');
      const std::string_view f = feats.substr(0, comma);
      if (!f.empty()) {
        s.options.push_back("-target-feature");
        s.options.emplace_back(f);
      }
      feats = comma == std::string_view::npos ? std::string_view() : feats.substr(comma + 1);
    }
    s.arch = target.arch;
    s.finalize();
    return s;
  }

  WorkspaceSize workspace_bytes(const ProblemSpec& spec, const TileConfig& c, const Target& target,
                                const RunShape& shape) const override {
    return decode_workspace_bytes(spec, c, target, shape);
  }
  std::vector<unsigned char> build_arguments(const ProblemSpec& spec, const TileConfig& c, const Target& target,
                                             const LaunchArgs& args, const Workspace& ws) const override {
    return decode_arguments(spec, c, target, args, ws);
  }

  LaunchGeometry geometry(const ProblemSpec& spec, const TileConfig& c, const Target& target,
                          const RunShape& shape) const override {
    if (shape.batch < 1 || shape.heads_kv < 1) throw SpecError("shape: batch and heads_kv must be >= 1");
    const int64_t per = decode_cpu_heads_per_item(spec, c);
    const int64_t items = shape.batch * ((shape.heads_kv + per - 1) / per) * decode_row_chunks(spec, c) *
                          decode_num_splits(spec, c, target, shape);
    if (items > 0xffffffffLL)
      throw SpecError("shape: " + std::to_string(items) + " work items exceed the 2^32 grid limit");
    LaunchGeometry g;
    g.grid[0] = static_cast<unsigned>(items);
    g.block[0] = static_cast<unsigned>(c.threads > 0 ? c.threads : hw_threads(target));
    return g;
  }

 private:
  static TileConfig make(int bm, int bn, int vec, int threads, int order) {
    TileConfig c;
    c.tmpl = "cpu";
    c.block_m = bm;
    c.block_n = bn;
    c.warps = 1;
    c.stages = 1;
    c.vec = vec;
    c.threads = threads;
    c.order = order;
    return c;
  }
};

}  // namespace

const KernelTemplate& decode_cpu_template() {
  static DecodeCpuTemplate t;
  return t;
}

}  // namespace attnjit
