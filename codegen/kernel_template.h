// KernelTemplate: one family of generated kernels (prefill on sm80, decode on sm80, prefill on
// CPU, ...). Each owns its search space, its legality check, its default config, how it renders
// a KernelSource and how it is launched. The registry picks one for a (spec, target).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "codegen/kernel_source.h"
#include "codegen/problem_spec.h"
#include "codegen/target.h"
#include "codegen/tile_config.h"

namespace attnjit {

// The run-time sizes of one call (the spec holds only buckets).
struct RunShape {
  int64_t batch = 1;
  int64_t heads_q = 1;
  int64_t heads_kv = 1;
  int64_t seqlen_q = 1;   // prefill: max query length; decode: query tokens per sequence
  int64_t seqlen_k = 1;   // prefill: max key length; decode: max KV length in the batch
};

class KernelTemplate {
 public:
  virtual ~KernelTemplate() = default;

  virtual std::string_view name() const = 0;  // e.g. "prefill_sm80"
  // Hash of the template files and generator version: part of every database key.
  virtual std::string version_hash() const = 0;
  virtual bool supports(const ProblemSpec& spec, const Target& target) const = 0;
  // Every config worth trying, each passing can_implement.
  virtual std::vector<TileConfig> search_space(const ProblemSpec& spec, const Target& target) const = 0;
  // The built-in heuristic default (always in the search space).
  virtual TileConfig default_config(const ProblemSpec& spec, const Target& target) const = 0;
  // nullopt if legal; else the reason (shared memory, registers, divisibility, ...).
  virtual std::optional<std::string> can_implement(const ProblemSpec& spec, const TileConfig& cfg,
                                                   const Target& target) const = 0;
  // Throws SpecError if can_implement fails.
  virtual KernelSource render(const ProblemSpec& spec, const TileConfig& cfg,
                              const Target& target) const = 0;
  virtual LaunchGeometry geometry(const ProblemSpec& spec, const TileConfig& cfg,
                                  const Target& target, const RunShape& shape) const = 0;
};

// The template that implements (spec, target); throws SpecError naming what is unsupported.
const KernelTemplate& select_template(const ProblemSpec& spec, const Target& target);
// Every registered template.
std::vector<const KernelTemplate*> all_templates();

}  // namespace attnjit
