// KernelTemplate: one way to compute one family on one kind of target (prefill on sm80, decode
// on sm80, prefill on CPU, ...). Each owns its search space, its legality check, its default
// config, how it renders a KernelSource, and its launch contract (CUTLASS's kernel interface):
// can_implement, geometry (grid, block, shared memory), workspace_bytes and build_arguments (the
// kernel's parameter buffer). Nothing outside a template's module builds a launch by hand.
// Templates register with the arch range they run on and a priority (codegen/registry.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "attnjit/launch.h"
#include "attnjit/tensors.h"
#include "codegen/kernel_source.h"
#include "codegen/problem_spec.h"
#include "codegen/target.h"
#include "codegen/tile_config.h"

namespace attnjit {

// The arguments of one launch as the application passed them: exactly one family's set.
struct LaunchArgs {
  const PrefillArgs* prefill = nullptr;
  const DecodeArgs* decode = nullptr;

  // The run shape of the arguments (validates the problem); throws SpecError if neither or both
  // families are set.
  RunShape shape() const;
};

// Device memory a launch needs besides its tensors (decode's split partials). `zeroed` bytes
// must be all zero before the first launch that uses them, and the kernels leave them zero, so a
// caller zeroes them once, when allocating; `scratch` bytes have no requirement.
struct WorkspaceSize {
  int64_t zeroed = 0;
  int64_t scratch = 0;
  bool operator==(const WorkspaceSize&) const = default;
};
struct Workspace {
  void* zeroed = nullptr;
  void* scratch = nullptr;
};

// One launch, ready for Backend::launch: the geometry and the kernel's parameter buffer.
struct KernelLaunch {
  LaunchGeometry geometry;
  std::vector<unsigned char> params;
};

// Where a template runs: a platform and, on CUDA, a compute-capability range (major * 10 +
// minor, inclusive; sm_90a is 90).
struct ArchRange {
  Platform platform = Platform::Cuda;
  int min_cc = 0;
  int max_cc = 1000;
  bool contains(const Target& t) const;
};

// Thrown by build_arguments when a template cannot take this call's tensors although the problem
// is its own (TMA cannot describe a stride or an alignment; the driver has no tensor-map
// encoder): a property of the arguments, not of the problem, so the runtime launches the next
// template by priority that implements the problem instead of failing the call.
struct LaunchRefused : SpecError {
  using SpecError::SpecError;
};

class KernelTemplate {
 public:
  virtual ~KernelTemplate() = default;

  virtual Family family() const = 0;
  // The template's name within its family, e.g. "sm80" | "cpu": the prefix of its config keys.
  virtual std::string_view short_name() const = 0;
  // "<family>_<short name>", e.g. "prefill_sm80": logs, database rows, kernel names.
  std::string name() const;
  // The one spelling of a kernel's name, "<template>/<problem key>/<config key>/<target key>":
  // KernelSource::name, logs and error messages.
  std::string kernel_name(const ProblemSpec& spec, const TileConfig& cfg, const Target& target) const;
  // The extern "C" entry symbol of a CPU kernel: "attnjit_<template>_" + identifier(problem key
  // _ config key).
  std::string cpu_entry(const ProblemSpec& spec, const TileConfig& cfg) const;
  // Where it runs, and its rank among the templates that implement a problem there: the highest
  // priority one gives the default config.
  virtual ArchRange archs() const = 0;
  virtual int priority() const { return 0; }
  // Hash of the template files and generator version: part of every database key.
  virtual std::string version_hash() const = 0;
  virtual bool supports(const ProblemSpec& spec, const Target& target) const = 0;
  // Whether its default config serves a problem it supports when it has the highest priority. A
  // template may run a problem (tuning, an explicit choice) before a GPU has verified it there;
  // until then the next template's default serves it (the Hopper issue's default policy).
  virtual bool default_for(const ProblemSpec&, const Target&) const { return true; }
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
  // ---- The launch contract ----
  // Grid, block and dynamic shared memory for one call of `shape`.
  virtual LaunchGeometry geometry(const ProblemSpec& spec, const TileConfig& cfg,
                                  const Target& target, const RunShape& shape) const = 0;
  // Extra device memory one call needs (none by default).
  virtual WorkspaceSize workspace_bytes(const ProblemSpec& spec, const TileConfig& cfg,
                                        const Target& target, const RunShape& shape) const;
  // Validates the arguments (SpecError naming the field) and builds the kernel's parameter
  // buffer, pointing into `ws` (sized by workspace_bytes) where the kernel needs workspace.
  virtual std::vector<unsigned char> build_arguments(const ProblemSpec& spec, const TileConfig& cfg,
                                                     const Target& target, const LaunchArgs& args,
                                                     const Workspace& ws) const = 0;
  // geometry(args.shape()) + build_arguments: everything Backend::launch takes.
  KernelLaunch make_launch(const ProblemSpec& spec, const TileConfig& cfg, const Target& target,
                           const LaunchArgs& args, const Workspace& ws = {}) const;
};


}  // namespace attnjit
