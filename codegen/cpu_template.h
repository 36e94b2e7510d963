// What the CPU templates (prefill_cpu, decode_cpu) share: their identity (template "cpu", CPU
// targets, the head dims every CPU kernel has), the SIMD width and worker threads of a CPU
// Target, the checks of the knobs every CPU kernel takes, the clang -cc1 options, and the launch
// of a range of work items (grid[0] = items, block[0] = worker threads; the CPU backend hands
// ranges of items to its threads).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "codegen/kernel_template.h"

namespace attnjit {

class CpuKernelTemplate : public KernelTemplate {
 public:
  // `generator` and `root` (the template the prelude includes) make the version hash.
  CpuKernelTemplate(Family family, const char* generator, const char* root)
      : family_(family), generator_(generator), root_(root) {}

  Family family() const override { return family_; }
  std::string_view short_name() const override { return "cpu"; }
  ArchRange archs() const override { return {Platform::Cpu}; }
  std::string version_hash() const override;
  bool supports(const ProblemSpec& spec, const Target& target) const override;
  // work_items() items (SpecError past the 2^32 grid limit) on the config's threads (0 = all).
  LaunchGeometry geometry(const ProblemSpec& spec, const TileConfig& c, const Target& target,
                          const RunShape& shape) const final;

 protected:
  // A config of the knobs CPU kernels take (warps and stages 1).
  static TileConfig config(int block_m, int block_n, int vec, int threads, int order) {
    return {.block_m = block_m, .block_n = block_n, .warps = 1, .stages = 1, .vec = vec, .threads = threads,
            .order = order, .tmpl = "cpu"};
  }
  // The thread counts a search space tries: 1 and, where the target has more, all of them.
  static std::vector<int> thread_counts(const Target& t);
  // `space` with the default config added where it lacks it (the default is always in the space).
  std::vector<TileConfig> with_default(std::vector<TileConfig> space, const ProblemSpec& spec,
                                       const Target& target) const;
  // f32 lanes of the target's widest vectors (4..16).
  static int native_vec(const Target& t);
  // Vector registers the accumulators may take: half the register file (16 of 32 with AVX-512,
  // 8 of 16 with AVX), the rest holds K/V vectors, a query or a probability.
  static int acc_regs(const Target& t);
  static int hw_threads(const Target& t);
  // Whether the target's feature list names `f` ("+avx512bf16").
  static bool has_feature(const Target& t, std::string_view f);
  // AMX tiles with bf16 products (Sapphire Rapids and newer): amx-tile, amx-bf16 and avx512bf16.
  // The runtime names them only once Linux has granted the process the tile state
  // (runtime/cpu/amx_permission.cpp).
  static bool has_amx(const Target& t);
  // A config naming another template, or warps / stages other than 1 (GPU knobs).
  static std::optional<std::string> knob_refusal(const TileConfig& c);
  // `vec` lanes other than 4, 8 or 16, or wider than the target's vectors.
  static std::optional<std::string> vec_refusal(int vec, const Target& t);
  static std::optional<std::string> threads_refusal(const TileConfig& c);
  // -O3 with vectorisation at the full vector width, the target CPU and its features.
  static std::vector<std::string> compile_options(const Target& t);
  // The work items of one call of `shape`; SpecError naming the field for a shape the kernel
  // cannot take.
  virtual int64_t work_items(const ProblemSpec& spec, const TileConfig& c, const Target& target,
                             const RunShape& shape) const = 0;

 private:
  Family family_;
  const char* generator_;
  const char* root_;
};

}  // namespace attnjit
