// prefill_cpu: the CPU prefill forward (templates/prefill/cpu.h), JIT-compiled by clang.
//
// Knobs (TileConfig): block_m / block_n in 16..128 (powers of two), vec = SIMD lanes (f32),
// order 0 (register-blocked micro-kernels), 1 (streaming loop nests) or 2 (bf16 only: Q.K^T and
// P.V on AMX tiles, on hosts with AMX; vec 16, block_m a multiple of 16, block_n of 32, head dim
// of 32), threads = host worker
// threads. warps and stages must be 1. Query rows run along the SIMD lanes, so block_m must be
// a multiple of vec and block_m / vec vectors must fit the accumulator registers.
//
// Launch geometry on the CPU: grid[0] = number of work items, one per (batch, query head,
// block of block_m query rows); block[0] = worker threads. The entry is
//   extern "C" void <entry>(const attnjit::PrefillParams*, long long item_begin, long long item_end)
// and the CPU backend hands ranges of items to its threads. threads only affects the launch,
// not the source, so configs differing only in threads share one compiled object; likewise
// problems differing only in length buckets or GQA group.
//
// Compiler options are clang -cc1 flags; the runtime adds the host triple, the in-memory
// include directory and the clang resource directory.
#include <algorithm>
#include <string>
#include <utility>

#include "codegen/cpu_template.h"
#include "codegen/embedded_templates.h"
#include "codegen/prefill/arguments.h"
#include "codegen/user_variant.h"
#include "codegen/variant.h"

namespace attnjit {
namespace {

constexpr const char* kGenerator = "prefill_cpu/1";
constexpr const char* kRoot = "prefill/cpu.h";  // the template the prelude includes
constexpr int kTileSizes[] = {16, 32, 64, 128};
// Tile memory (Q^T, O^T, S^T, converted K/V) lives on the worker's stack; stay well under the
// default 8 MiB thread stack.
constexpr int64_t kMaxTileBytes = 2 << 20;

bool pow2(int v) { return v > 0 && (v & (v - 1)) == 0; }

int64_t tile_bytes(const ProblemSpec& s, const TileConfig& c) {
  int64_t d = s.head_dim;
  int64_t floats = 2 * d * c.block_m + int64_t(c.block_n) * c.block_m + d;
  if (s.dtype != DType::F32) floats += 2 * int64_t(c.block_n) * d;
  if (c.order == 2)  // Q^T pairs, O, K rows, V pairs, P in bf16 (the f32 Q^T / O^T / K / V shrink)
    floats = d * c.block_m / 2 + d * c.block_m + int64_t(c.block_n) * d / 2 + int64_t(c.block_n) * d / 2 +
             int64_t(c.block_m) * c.block_n / 2 + int64_t(c.block_n) * c.block_m + d;
  return floats * 4;
}


class PrefillCpu final : public CpuKernelTemplate {
 public:
  PrefillCpu() : CpuKernelTemplate(Family::Prefill, kGenerator, kRoot) {}

  std::vector<TileConfig> search_space(const ProblemSpec& spec, const Target& target) const override {
    std::vector<TileConfig> out;
    const int nv = native_vec(target);
    for (int order : {0, 1, 2})
      for (int vec : {nv, nv / 2}) {
        if (order >= 1 && vec != nv) continue;  // the streaming nest gains nothing from narrow vectors
        for (int bm : kTileSizes)
          for (int bn : {32, 64, 128})
            for (int t : thread_counts(target)) {
              const TileConfig c = config(bm, bn, vec, t, order);
              if (!can_implement(spec, c, target)) out.push_back(c);
            }
      }
    return with_default(std::move(out), spec, target);
  }

  TileConfig default_config(const ProblemSpec& spec, const Target& target) const override {
    // Four query vectors per tile row: enough rows to reuse each broadcast K/V element four
    // times while leaving registers for a 4-key (AVX-512) register block.
    const int nv = native_vec(target);
    int bm = std::clamp(4 * nv, 16, 128);
    TileConfig c = config(bm, 64, nv, hw_threads(target), 0);
    if (spec.block_sparse != 0) {  // blocks must divide the block mask's tile
      c.block_m = std::min(c.block_m, spec.block_sparse);
      c.block_n = std::min(c.block_n, spec.block_sparse);
    }
    if (can_implement(spec, c, target)) c.block_m = std::max(16, nv);
    // bf16 on AMX hosts: Q.K^T and P.V on tiles (Emerald Rapids VM, hd 128, 2k, 1 thread: 180 ->
    // 526 GFLOP/s causal, 576 not), 32 x 32 tiles up to head dim 64 (1k-4k, causal and not:
    // 13-17% over 64 x 64; at hd 128 the two were within that VM's noise; bench/RESULTS.md).
    if (spec.dtype == DType::BF16 && has_amx(target)) {
      TileConfig a = c;
      a.order = 2;
      if (spec.head_dim <= 64) a.block_m = a.block_n = std::min(a.block_n, 32);
      if (!can_implement(spec, a, target)) return a;
    }
    return c;
  }

  std::optional<std::string> can_implement(const ProblemSpec& spec, const TileConfig& c,
                                           const Target& target) const override {
    if (!supports(spec, target))
      return "prefill_cpu implements prefill problems on CPU targets only (got " + spec.key() +
             " on " + target.key() + ")";
    if (auto why = knob_refusal(c)) return why;
    if (c.splits != 0) return "splits: not a prefill knob";
    if (c.has_hopper_knobs()) return "warpgroups/pingpong/overlap/persistent: not CPU knobs";
    for (auto [v, field] : {std::pair{c.block_m, "block_m"}, std::pair{c.block_n, "block_n"}})
      if (!pow2(v) || v < 16 || v > 128)
        return std::string(field) + ": must be a power of two in 16..128, got " + std::to_string(v);
    const int vec = c.vec ? c.vec : native_vec(target);
    if (auto why = vec_refusal(vec, target)) return why;
    if (c.block_m % vec != 0)
      return "block_m: must be a multiple of vec (" + std::to_string(vec) + "), got " + std::to_string(c.block_m);
    if (auto why = block_sparse_refusal(spec, c.block_m, c.block_n)) return *why;
    if (c.block_m / vec > acc_regs(target))
      return "block_m: " + std::to_string(c.block_m / vec) + " query vectors per row exceed the " +
             std::to_string(acc_regs(target)) + " accumulator registers";
    if (c.order < 0 || c.order > 2)
      return "order: must be 0, 1 or 2 (AMX tiles), got " + std::to_string(c.order);
    if (c.order == 2) {
      if (spec.dtype != DType::BF16) return "order: 2 (AMX tiles) needs bf16, got " + std::string(to_string(spec.dtype));
      if (!has_amx(target))
        return "order: 2 (AMX tiles) needs a host with amx-tile, amx-bf16 and avx512bf16 whose process Linux "
               "granted the tile state (" + target.key() + " has not)";
      if (vec != 16) return "order: 2 (AMX tiles) needs vec 16, got " + std::to_string(vec);
      if (c.block_m % 16 != 0 || c.block_n % 32 != 0 || spec.head_dim % 32 != 0)
        return "order: 2 (AMX tiles) needs block_m a multiple of 16, block_n of 32 and head dim of 32, got " +
               std::to_string(c.block_m) + ", " + std::to_string(c.block_n) + ", " + std::to_string(spec.head_dim);
    }
    if (auto why = threads_refusal(c)) return why;
    if (tile_bytes(spec, c) > kMaxTileBytes)
      return "tile memory " + std::to_string(tile_bytes(spec, c)) + " bytes exceeds " +
             std::to_string(kMaxTileBytes);
    return std::nullopt;
  }

  KernelSource render(const ProblemSpec& spec, const TileConfig& c, const Target& target) const override {
    if (auto why = can_implement(spec, c, target)) throw SpecError("prefill_cpu: " + *why);
    const int vec = c.vec ? c.vec : native_vec(target);
    const char* storage = spec.dtype == DType::F32 ? "kStoreF32" : spec.dtype == DType::BF16 ? "kStoreBF16" : "kStoreF16";
    const char* mask = spec.mask.kind == MaskKind::None     ? "kMaskNone"
                       : spec.mask.kind == MaskKind::Causal ? "kMaskCausal"
                                                            : "kMaskWindow";
    // Only what changes the code goes into the text and the entry name, so one object serves
    // every thread count, GQA group, page size and length bucket (lengths and heads are run-time params;
    // only "even" is compiled in).
    TileConfig code_cfg = c;
    code_cfg.threads = 0;
    code_cfg.vec = vec;
    ProblemSpec code_spec = spec;
    code_spec.seqlen_q = code_spec.seqlen_k = 16;
    code_spec.group = 1;
    // The page size is a run-time param (shift and mask): one object serves every page size.
    if (code_spec.page_size != 0) code_spec.page_size = 1;

    KernelSource s;
    s.platform = Platform::Cpu;
    s.name = kernel_name(spec, c, target);
    s.entry = cpu_entry(code_spec, code_cfg);
    s.text = "// Generated by attnjit " + std::string(kGenerator) + ": " + code_spec.key() + " / " +
             code_cfg.key() + " / " + target.key() + "\n#include \"" + kRoot + "\"\n\n" + user_mods_prelude(spec) + "namespace {\nstruct Config {\n";
    auto cst = [&](const char* type, const char* n, const std::string& v) {
      s.text += std::string("  static constexpr ") + type + " " + n + " = " + v + ";\n";
    };
    cst("int", "kHeadDim", std::to_string(spec.head_dim));
    cst("int", "kBlockM", std::to_string(c.block_m));
    cst("int", "kBlockN", std::to_string(c.block_n));
    cst("int", "kVec", std::to_string(vec));
    cst("int", "kOrder", std::to_string(c.order));
    cst("int", "kAccRegs", std::to_string(acc_regs(target)));
    cst("int", "kStorage", std::string("attnjit::cpu::") + storage);
    cst("int", "kMask", std::string("attnjit::cpu::") + mask);
    cst("long long", "kWindowLeft", std::to_string(spec.mask.window_left) + "LL");
    cst("long long", "kWindowRight", std::to_string(spec.mask.window_right) + "LL");
    if (spec.softcap != 0) cst("float", "kSoftcap", softcap_literal(spec.softcap));
    cst("bool", "kVarlen", spec.varlen ? "true" : "false");
    cst("bool", "kPaged", spec.page_size != 0 ? "true" : "false");
    if (spec.alibi) cst("bool", "kAlibi", "true");
    if (spec.sink) cst("bool", "kSink", "true");
    cst("bool", "kEven", spec.even ? "true" : "false");
    if (has_user_variants(spec)) {
      s.text += "  using UserMods = attnjit_gen::UserMods;\n";
      cst("int", "kBlockSparse", std::to_string(spec.block_sparse));
    }
    s.text += "};\n}  // namespace\n\nextern \"C\" void " + s.entry +
              "(const attnjit::PrefillParams* p, long long item_begin, long long item_end) {\n"
              "  attnjit::cpu::PrefillCpu<Config>::run(*p, item_begin, item_end);\n}\n";
    s.headers = templates::headers(kRoot);
    s.options = compile_options(target);
    s.arch = target.arch;
    s.finalize();
    return s;
  }

  std::vector<unsigned char> build_arguments(const ProblemSpec& spec, const TileConfig&, const Target& target,
                                             const LaunchArgs& args, const Workspace&) const override {
    return prefill_arguments(spec, args, target);
  }

  // One item per (batch, query head, block of block_m query rows).
  int64_t work_items(const ProblemSpec& spec, const TileConfig& c, const Target&,
                     const RunShape& shape) const override {
    if (shape.batch < 0 || shape.heads_q < 1 || shape.seqlen_q < 0 || shape.total_q < 0)
      throw SpecError("shape: batch >= 0, heads_q >= 1, seqlen_q >= 0 and total_q >= 0 required");
    // Varlen: the tile numbers of templates/common/layout_varlen.h, one item per (tile, head).
    return spec.varlen ? shape.heads_q * (shape.total_q / c.block_m + shape.batch)
                       : shape.batch * shape.heads_q * ((shape.seqlen_q + c.block_m - 1) / c.block_m);
  }
};

}  // namespace

const KernelTemplate& prefill_cpu_template() {
  static PrefillCpu t;
  return t;
}

}  // namespace attnjit
