// attnjit — the application-facing API.
//
//   auto rt = attnjit::Runtime::create();                 // CUDA if a GPU is usable, else CPU
//   attnjit::PrefillArgs a;
//   a.problem = {.dtype = attnjit::DType::BF16, .head_dim = 128,
//                .mask = {attnjit::MaskKind::Causal}, .batch = 2, .heads_q = 32,
//                .heads_kv = 8, .seqlen_q = 4096, .seqlen_k = 4096};
//   a.q = attnjit::TensorView::bshd(q_ptr, 4096, 32, 128);  // or ::bhsd(...), or any strides
//   ... a.k, a.v, a.o likewise; a.lse optional
//   rt->prefill(a, stream);                                 // enqueued on `stream` (CUstream)
//
// The first call for a problem compiles its kernel (NVRTC / clang, ~0.1-2 s; cached in memory
// and on disk), later calls only pick the cached kernel and launch. Every argument is checked:
// bad input throws SpecError naming the field; device / compiler failures throw BackendError.
// A Runtime is thread-safe: concurrent calls for one new problem compile its kernel once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "attnjit/launch.h"
#include "attnjit/problem_spec.h"
#include "attnjit/target.h"
#include "attnjit/tensors.h"
#include "attnjit/tile_config.h"
#include "attnjit/types.h"

namespace attnjit {

// Internals the Runtime refers to but applications need not see (runtime/backend.h,
// codegen/kernel_template.h, api/config_provider.h).
class Backend;
class ConfigProvider;
class KernelTemplate;
struct CompiledKernel;
struct LaunchArgs;      // codegen/kernel_template.h: the launch contract
struct Workspace;
struct WorkspaceSize;

enum class BackendKind { Auto, Cuda, Cpu };
std::string_view to_string(BackendKind k);         // "auto" | "cuda" | "cpu"
BackendKind parse_backend_kind(std::string_view s);  // throws SpecError

struct RuntimeOptions {
  int device = -1;           // CUDA device ordinal; -1 = the current context's device, else 0
  bool disk_cache = true;    // keep compiled kernels on disk across processes
  // Disk cache root; empty = $ATTNJIT_CACHE_DIR, $XDG_CACHE_HOME/attnjit or ~/.cache/attnjit.
  std::filesystem::path cache_dir;
  // Picks each problem's TileConfig; null = the templates' built-in defaults.
  std::shared_ptr<ConfigProvider> config_provider;
};

// Everything needed to launch one problem without deciding anything again: what the service
// hands out and what prefill() launches.
struct PreparedKernel {
  ProblemSpec spec;
  const KernelTemplate* tmpl = nullptr;
  TileConfig config;
  std::string config_source;   // where the config came from ("default", "db:exact", ...)
  std::shared_ptr<const CompiledKernel> kernel;
  LaunchGeometry geometry;     // for the shape it was prepared with
};

// One launch with everything decided: the kernel, its geometry and its parameter buffer (built
// by the template's launch contract, pointing into the Runtime's workspace where needed). What
// prefill() and decode() enqueue; benchmarks time it with Backend::time.
struct PreparedLaunch {
  PreparedKernel kernel;
  std::vector<unsigned char> params;
};

class Runtime {
 public:
  // Auto: CUDA when a driver, a device and NVRTC are usable, else the CPU backend. Throws
  // BackendError saying why the requested kind (or, for Auto, every kind) is unavailable.
  static std::unique_ptr<Runtime> create(BackendKind kind = BackendKind::Auto,
                                         RuntimeOptions options = {});
  // Wraps a backend the caller built (tests, custom backends).
  explicit Runtime(std::unique_ptr<Backend> backend, RuntimeOptions options = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  Backend& backend() { return *backend_; }
  const Target& target() const;

  // Replaces the config provider (null = defaults) and forgets every prepared plan, so the new
  // provider is asked again. Safe to call while other threads launch.
  void set_config_provider(std::shared_ptr<ConfigProvider> provider);
  std::shared_ptr<ConfigProvider> config_provider() const;
  // Forgets prepared plans (e.g. after new tuning results arrived); kernels stay cached.
  void clear_plans();

  // Validates, picks the config, compiles (or takes the cached kernel) — does not launch.
  PreparedKernel prepare_prefill(const PrefillProblem& problem);
  // Validates everything, then launches on `stream` (a CUstream on GPUs; nullptr = default
  // stream; ignored by the CPU backend, which runs synchronously). An empty problem
  // (batch == 0) is a no-op.
  void prefill(const PrefillArgs& args, void* stream = nullptr);
  // Everything prefill() does but the launch. Throws SpecError for an empty problem.
  PreparedLaunch prepare_launch(const PrefillArgs& args);

  // The family-independent step prefill (and decode) share: config choice, render, compile —
  // memoized per ProblemSpec key — plus the launch geometry for `shape`.
  PreparedKernel prepare(const ProblemSpec& spec, const RunShape& shape);

  // ---- Decode (api/decode.cpp) ----
  // Validates, picks the config, compiles — does not launch. The geometry includes the split
  // count the call would use.
  PreparedKernel prepare_decode(const DecodeProblem& problem);
  // Validates everything (SpecError naming the field), then launches one kernel on `stream`;
  // splits are merged inside it. batch == 0 is a no-op. The split workspace is owned by the
  // Runtime, one per stream, grown on demand (its counters are zeroed once, when allocated).
  void decode(const DecodeArgs& args, void* stream = nullptr);
  // Everything decode() does but the launch; the params point into `stream`'s workspace, so a
  // launch of them must go on that stream. Throws SpecError for an empty problem.
  PreparedLaunch prepare_launch(const DecodeArgs& args, void* stream = nullptr);

 private:
  struct Plan {
    const KernelTemplate* tmpl;
    TileConfig config;
    std::string config_source;
    std::shared_ptr<const CompiledKernel> kernel;
  };
  std::shared_ptr<const Plan> plan_for(const ProblemSpec& spec);
  // Renders and compiles (once per source, in the backend's cache); a user snippet that does not
  // compile is a SnippetError.
  std::shared_ptr<const CompiledKernel> compile(const KernelTemplate& tmpl, const ProblemSpec& spec,
                                                const TileConfig& config);
  // For a call whose tensors `refused`'s template cannot take (LaunchRefused): the plan of the
  // next template by priority that implements `spec`, with its default config; built once per
  // spec. Rethrows `why` where no other template implements it.
  std::shared_ptr<const Plan> fallback_plan(const ProblemSpec& spec, const Plan& refused, const std::string& why);
  // The launch contract: geometry, workspace from `stream`'s buffer, parameter buffer.
  // `lock` (on launch_mu_) is taken when the launch needs workspace and must stay held until
  // the launch is enqueued.
  PreparedLaunch prepare_launch(const ProblemSpec& spec, const LaunchArgs& args,
                                void* stream, std::unique_lock<std::mutex>& lock);
  void launch(const PreparedLaunch& l, void* stream);
  Workspace workspace(void* stream, const WorkspaceSize& need);
  // Plans are keyed by the spec's fields (not its key() string, which costs allocations on
  // every call of the hot path).
  struct SpecHash {
    size_t operator()(const ProblemSpec& s) const noexcept;
  };

  std::unique_ptr<Backend> backend_;
  RuntimeOptions options_;
  mutable std::shared_mutex mu_;
  std::shared_ptr<ConfigProvider> provider_;
  std::unordered_map<ProblemSpec, std::shared_ptr<const Plan>, SpecHash> plans_;
  std::unordered_map<ProblemSpec, std::shared_ptr<const Plan>, SpecHash> fallbacks_;
  uint64_t generation_ = 0;  // bumped whenever plans_ is cleared

  // ---- Launch workspaces (api/workspace.cpp): one buffer per stream, grown on demand ----
  struct Workspaces;
  // Held from the workspace hand-out through the launch: the CPU backend runs a launch
  // synchronously, so two threads on the same (null) stream must not interleave in one
  // workspace; on GPUs it is held only for the enqueue.
  std::mutex launch_mu_;
  std::shared_ptr<Workspaces> workspaces_;
};

}  // namespace attnjit
