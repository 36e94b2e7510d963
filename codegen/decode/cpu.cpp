// decode_cpu: split-KV decode on the CPU (templates/decode/cpu.h), JIT-compiled by clang.
//
// Knobs (TileConfig): block_m = query rows per work item (powers of two up to 16, at most the
// problem's rows rounded up), block_n = keys per softmax block (16..128, powers of two),
// vec = SIMD lanes over the head dim (4, 8 or 16; 2 * vec must divide the head dim),
// order = arithmetic (0: fp32 multiply-adds; 1, bf16 only: bf16 pair dot products, one
// vdpbf16ps per 2 * vec multiply-adds on AVX-512 BF16 hosts, emulated with FMAs elsewhere; the
// default where the host has the instruction; 2, bf16 only: Q.K^T and P.V on AMX tiles, one
// TDPBF16PS per 16 keys x 32 dims or 32 keys x 16 dims, on hosts with AMX, vec 16, head dims and
// block_n multiples of 32), threads = host worker threads (launch only),
// splits = 0 (decode_num_splits' rule) or a fixed count (launch only). warps and stages are 1.
//
// Launch geometry on the CPU: grid[0] = work items = batch * heads_kv * row_chunks * splits,
// block[0] = worker threads. The entry is
//   extern "C" void <entry>(const attnjit::DecodeParams*, long long item_begin, long long item_end)
// (the CPU backend's convention, as prefill_cpu). threads and splits only affect the launch, so
// configs differing only in them share one compiled object.
#include <algorithm>
#include <string>
#include <utility>

#include "codegen/cpu_template.h"
#include "codegen/decode/arguments.h"
#include "codegen/decode/launch.h"
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
int max_rows(const ProblemSpec& s) {
  int r = 1;
  while (r < decode_rows(s) && r < kMaxRowsPerItem) r *= 2;
  return r;
}
int64_t work_bytes(const ProblemSpec& s, const TileConfig& c) {
  // q and acc rows, the block's scores (+ bf16 pairs), its row pointers, the zero row; with
  // AMX tiles the gathered key rows, a chunk's probabilities and its V pairs.
  const int64_t amx = c.order == 2 ? 16LL * s.head_dim * 2 + c.block_m * 64LL + 64LL * s.head_dim : 0;
  return 2LL * c.block_m * s.head_dim * 4 + c.block_m * c.block_n * 6LL + c.block_n * 16LL + s.head_dim * 4 + amx;
}

class DecodeCpuTemplate final : public DecodeLaunch<CpuKernelTemplate> {
  // vdpbf16ps at the vector width the kernel runs (the 128/256-bit forms need AVX-512 VL).
  static bool has_bf16_dot(const Target& t, int vec) {
    return has_feature(t, "+avx512bf16") && (vec == 16 || has_feature(t, "+avx512vl"));
  }

 public:
  DecodeCpuTemplate() : DecodeLaunch(Family::Decode, kGenerator, kRoot) {}

  std::vector<TileConfig> search_space(const ProblemSpec& spec, const Target& target) const override {
    std::vector<TileConfig> out;
    if (!supports(spec, target)) return out;
    const int nv = native_vec(target);
    std::vector<int> orders = {0};
    if (spec.dtype == DType::BF16 && spec.kv_dtype == KvDType::Same) orders.push_back(1);
    if (spec.dtype == DType::BF16 && spec.kv_dtype == KvDType::Same && has_amx(target)) orders.push_back(2);
    for (int bm = 1; bm <= max_rows(spec); bm *= 2) {
      if (bm * 4 < max_rows(spec)) continue;
      for (int bn : {32, 64, 128})
        for (int vec : {nv, nv / 2})
          for (int t : thread_counts(target))
            for (int order : orders) {
              const TileConfig c = config(bm, bn, vec, t, order);
              if (!can_implement(spec, c, target)) out.push_back(c);
            }
    }
    return with_default(std::move(out), spec, target);
  }

  TileConfig default_config(const ProblemSpec& spec, const Target& target) const override {
    // All rows of a KV head in one item (each K/V row read once for all of them), 64-key
    // blocks, the widest vectors whose pairs tile the head dim, bf16 pair dot products where
    // the host has the instruction.
    // AMX tiles where an item has 8 rows or more: there the vdpbf16ps arithmetic, which grows
    // with the rows, is what binds (Emerald Rapids VM, bf16, 32k, 1 thread: GQA 8 12.4 -> 22.9
    // GB/s, GQA 16 6.2 -> 17.9, 2 tokens x GQA 4 8.7 -> 16.4); with 4 rows they tie, with 1-2
    // rows the tiles' 16-key column loads lose (MHA 15.7-19.4 -> 14.8-16.8; bench/RESULTS.md).
    int vec = native_vec(target);
    while (spec.head_dim % (2 * vec) != 0) vec /= 2;
    const bool pairs = spec.dtype == DType::BF16 && spec.kv_dtype == KvDType::Same;
    const int rows = max_rows(spec);
    const int order = pairs && has_amx(target) && vec == 16 && rows >= 8 && spec.head_dim % 32 == 0 ? 2
                      : pairs && has_bf16_dot(target, vec)                                       ? 1
                                                                                                 : 0;
    return config(rows, 64, vec, hw_threads(target), order);
  }

  std::optional<std::string> can_implement(const ProblemSpec& spec, const TileConfig& c,
                                           const Target& target) const override {
    if (!supports(spec, target))
      return "decode_cpu implements decode problems on CPU targets only (got " + spec.key() + " on " +
             target.key() + ")";
    if (auto why = knob_refusal(c)) return why;
    if (c.has_hopper_knobs()) return "warpgroups/pingpong/overlap/persistent: not decode_cpu knobs";
    if (c.order < 0 || c.order > 2)
      return "order: must be 0 (fp32), 1 (bf16 pairs) or 2 (AMX tiles), got " + std::to_string(c.order);
    if (c.order >= 1 && (spec.dtype != DType::BF16 || spec.kv_dtype != KvDType::Same))
      return std::string(c.order == 1 ? "order: 1 (bf16 pair dot products)" : "order: 2 (AMX tiles)") +
             " needs bf16 K/V, got " +
             std::string(spec.kv_dtype != KvDType::Same ? to_string(spec.kv_dtype) : to_string(spec.dtype));
    if (c.order == 2) {
      if (!has_amx(target))
        return "order: 2 (AMX tiles) needs a host with amx-tile, amx-bf16 and avx512bf16 whose process Linux "
               "granted the tile state (" + target.key() + " has not)";
      if (spec.head_dim % 32 != 0)
        return "order: 2 (AMX tiles) needs a head dim that is a multiple of 32, got " + std::to_string(spec.head_dim);
      if (c.block_n % 32 != 0)
        return "order: 2 (AMX tiles) needs block_n a multiple of 32, got " + std::to_string(c.block_n);
    }
    if (!pow2(c.block_m) || c.block_m > max_rows(spec))
      return "block_m: query rows per item must be a power of two up to " + std::to_string(max_rows(spec)) +
             ", got " + std::to_string(c.block_m);
    if (!pow2(c.block_n) || c.block_n < 16 || c.block_n > 128)
      return "block_n: must be a power of two in 16..128, got " + std::to_string(c.block_n);
    const int vec = c.vec ? c.vec : native_vec(target);
    if (auto why = vec_refusal(vec, target)) return why;
    if (c.order == 2 && vec != 16) return "order: 2 (AMX tiles) needs vec 16, got " + std::to_string(vec);
    if (spec.head_dim % (2 * vec) != 0)
      return "vec: head_dim " + std::to_string(spec.head_dim) + " is not a multiple of 2 * " + std::to_string(vec) +
             " (rows are read in pairs of vectors)";
    if (c.splits < 0 || c.splits > kDecodeMaxSplits)
      return "splits: must be 0 (rule) or 1.." + std::to_string(kDecodeMaxSplits) + ", got " +
             std::to_string(c.splits);
    if (auto why = threads_refusal(c)) return why;
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
    // Long rows' prefetch distance in bytes on Intel hosts (templates/decode/cpu.h process): the
    // 4x head-row rule was measured on Zen 4; an Emerald Rapids VM streamed f32 MHA 15% faster at
    // 64 KiB. LLVM names AMD cores znver*.
    if (target.arch.rfind("znver", 0) != 0) cst("int", "kLongRowAhead", "65536");
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
    s.options = compile_options(target);
    s.arch = target.arch;
    s.finalize();
    return s;
  }

  int64_t work_items(const ProblemSpec& spec, const TileConfig& c, const Target& target,
                     const RunShape& shape) const override {
    if (shape.batch < 1 || shape.heads_kv < 1) throw SpecError("shape: batch and heads_kv must be >= 1");
    const int64_t per = decode_cpu_heads_per_item(spec, c);
    return shape.batch * ((shape.heads_kv + per - 1) / per) * decode_row_chunks(spec, c) *
           decode_num_splits(spec, c, target, shape);
  }
};

}  // namespace

const KernelTemplate& decode_cpu_template() {
  static DecodeCpuTemplate t;
  return t;
}

}  // namespace attnjit
