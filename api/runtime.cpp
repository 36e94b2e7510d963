#include <cstdio>

#include "api/config_provider.h"
#include "codegen/kernel_template.h"
#include "codegen/prefill/arguments.h"
#include "codegen/prefill/ragged_args.h"
#include "codegen/registry.h"
#include "codegen/user_variant.h"
#include "runtime/backend.h"
#include "attnjit/attnjit.h"
#include "runtime/cuda_backend.h"
#include "runtime/cuda_driver.h"

#if defined(ATTNJIT_WITH_LLVM) && __has_include("runtime/cpu/cpu_backend.h")
#include "runtime/cpu/cpu_backend.h"
#define ATTNJIT_HAVE_CPU_BACKEND 1
#endif

namespace attnjit {

std::string_view to_string(BackendKind k) {
  switch (k) {
    case BackendKind::Auto: return "auto";
    case BackendKind::Cuda: return "cuda";
    case BackendKind::Cpu: return "cpu";
  }
  return "?";
}

BackendKind parse_backend_kind(std::string_view s) {
  if (s == "auto") return BackendKind::Auto;
  if (s == "cuda" || s == "gpu") return BackendKind::Cuda;
  if (s == "cpu") return BackendKind::Cpu;
  throw SpecError("backend: unknown value '" + std::string(s) + "' (allowed: auto, cuda, cpu)");
}

namespace {

std::unique_ptr<Backend> make_cuda(const RuntimeOptions& o) {
  CudaBackendOptions c;
  c.device = o.device;
  c.disk_cache = o.disk_cache;
  c.cache_dir = o.cache_dir;
  return make_cuda_backend(c);
}

std::unique_ptr<Backend> make_cpu([[maybe_unused]] const RuntimeOptions& o) {
#ifdef ATTNJIT_HAVE_CPU_BACKEND
  CpuBackendOptions c;
  c.cache_dir = o.cache_dir;
  c.use_disk_cache = o.disk_cache;
  return make_cpu_backend(c);
#else
  throw BackendError(
      "CPU backend not built (it needs LLVM/clang 14: configure with -DATTNJIT_WITH_LLVM=ON and "
      "llvm-14-dev, libclang-cpp14-dev installed)");
#endif
}

}  // namespace

std::unique_ptr<Runtime> Runtime::create(BackendKind kind, RuntimeOptions options) {
  std::unique_ptr<Backend> backend;
  switch (kind) {
    case BackendKind::Cuda:
      backend = make_cuda(options);
      break;
    case BackendKind::Cpu:
      backend = make_cpu(options);
      break;
    case BackendKind::Auto: {
      std::string cuda_why;
      if (cuda::cuda_available(&cuda_why)) {
        try {
          backend = make_cuda(options);
        } catch (const BackendError& e) {
          cuda_why = e.what();  // e.g. a driver but no NVRTC: fall back to the CPU
        }
      }
      if (!backend) {
        try {
          backend = make_cpu(options);
        } catch (const BackendError& e) {
          throw BackendError("no usable backend: CUDA: " + cuda_why + "; CPU: " + e.what());
        }
      }
      break;
    }
  }
  return std::make_unique<Runtime>(std::move(backend), std::move(options));
}

Runtime::Runtime(std::unique_ptr<Backend> backend, RuntimeOptions options)
    : backend_(std::move(backend)), options_(std::move(options)) {
  if (!backend_) throw BackendError("Runtime: no backend given");
  provider_ = options_.config_provider ? options_.config_provider
                                       : std::make_shared<DefaultConfigProvider>();
}

Runtime::~Runtime() = default;

const Target& Runtime::target() const { return backend_->target(); }

void Runtime::set_config_provider(std::shared_ptr<ConfigProvider> provider) {
  std::unique_lock lock(mu_);
  provider_ = provider ? std::move(provider) : std::make_shared<DefaultConfigProvider>();
  plans_.clear();
  fallbacks_.clear();
  ++generation_;
}

std::shared_ptr<ConfigProvider> Runtime::config_provider() const {
  std::shared_lock lock(mu_);
  return provider_;
}

void Runtime::clear_plans() {
  std::unique_lock lock(mu_);
  plans_.clear();
  fallbacks_.clear();
  ++generation_;
}

size_t Runtime::SpecHash::operator()(const ProblemSpec& s) const noexcept {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the fields
  auto mix = [&](uint64_t v) {
    h ^= v;
    h *= 1099511628211ull;
  };
  mix(static_cast<uint64_t>(s.family));
  mix(static_cast<uint64_t>(s.dtype));
  mix(static_cast<uint64_t>(s.head_dim));
  mix(static_cast<uint64_t>(s.mask.kind));
  mix(static_cast<uint64_t>(s.mask.window_left));
  mix(static_cast<uint64_t>(s.mask.window_right));
  mix(static_cast<uint64_t>(s.group));
  mix(static_cast<uint64_t>(s.seqlen_q));
  mix(static_cast<uint64_t>(s.seqlen_k));
  mix(static_cast<uint64_t>(s.page_size));
  mix(static_cast<uint64_t>(s.even));
  mix(static_cast<uint64_t>(s.varlen));
  mix(std::hash<std::string>()(s.score_mod));
  mix(std::hash<std::string>()(s.mask_mod));
  mix(static_cast<uint64_t>(s.block_sparse));
  mix(std::hash<double>()(s.softcap));
  mix(static_cast<uint64_t>(s.alibi) | static_cast<uint64_t>(s.sink) << 1);
  mix(static_cast<uint64_t>(s.kv_dtype));
  return static_cast<size_t>(h);
}

std::shared_ptr<const CompiledKernel> Runtime::compile(const KernelTemplate& tmpl, const ProblemSpec& spec,
                                                      const TileConfig& config) {
  KernelSource src = tmpl.render(spec, config, backend_->target());
  try {
    return backend_->get_kernel(src);
  } catch (const BackendError& e) {
    throw_if_snippet_error(spec, e.what());  // a user snippet that does not compile is bad input
    throw;
  }
}

std::shared_ptr<const Runtime::Plan> Runtime::fallback_plan(const ProblemSpec& spec, const Plan& refused,
                                                            const std::string& why) {
  {
    std::shared_lock lock(mu_);
    if (auto it = fallbacks_.find(spec); it != fallbacks_.end()) return it->second;
  }
  const Target& target = backend_->target();
  for (const KernelTemplate* t : applicable_templates(spec, target)) {
    if (t == refused.tmpl || t->priority() > refused.tmpl->priority()) continue;
    TileConfig cfg = t->default_config(spec, target);
    if (t->can_implement(spec, cfg, target)) continue;
    cfg.tmpl = std::string(t->short_name());
    auto plan = std::make_shared<const Plan>(
        Plan{t, cfg, "fallback (" + std::string(refused.tmpl->short_name()) + " refused the call: " + why + ")",
             compile(*t, spec, cfg)});
    std::unique_lock lock(mu_);
    return fallbacks_.try_emplace(spec, std::move(plan)).first->second;
  }
  throw SpecError(why);
}

std::shared_ptr<const Runtime::Plan> Runtime::plan_for(const ProblemSpec& spec) {
  std::shared_ptr<ConfigProvider> provider;
  uint64_t generation = 0;
  {
    std::shared_lock lock(mu_);
    if (auto it = plans_.find(spec); it != plans_.end()) return it->second;
    provider = provider_;
    generation = generation_;
  }
  // Built without the lock: threads racing on one new key each render it, and the backend's
  // kernel cache makes sure the kernel itself is compiled once.
  const Target& target = backend_->target();
  const KernelTemplate& def = select_template(spec, target);
  ConfigChoice choice = provider->choose(def, spec, target);
  // The config names its template (an old key without a name means the default one).
  const KernelTemplate* tmpl = &def;
  std::optional<std::string> why;
  try {
    tmpl = &template_for(spec, target, choice.config);
    why = tmpl->can_implement(spec, choice.config, target);
  } catch (const SpecError& e) {
    why = e.what();
  }
  if (why) {
    choice.source = "default (" + choice.source + " config " + choice.config.key() +
                    " rejected: " + *why + ")";
    choice.config = def.default_config(spec, target);
    tmpl = &template_for(spec, target, choice.config);  // the member the default names
  }
  choice.config.tmpl = std::string(tmpl->short_name());
  auto plan = std::make_shared<const Plan>(
      Plan{tmpl, choice.config, std::move(choice.source), compile(*tmpl, spec, choice.config)});
  std::unique_lock lock(mu_);
  if (generation != generation_) return plan;  // provider changed meanwhile: use once, don't keep
  auto [it, inserted] = plans_.try_emplace(spec, plan);
  return it->second;
}

PreparedKernel Runtime::prepare(const ProblemSpec& spec, const RunShape& shape) {
  auto plan = plan_for(spec);
  PreparedKernel pk;
  pk.spec = spec;
  pk.tmpl = plan->tmpl;
  pk.config = plan->config;
  pk.config_source = plan->config_source;
  pk.kernel = plan->kernel;
  pk.geometry = plan->tmpl->geometry(spec, plan->config, backend_->target(), shape);
  return pk;
}

PreparedLaunch Runtime::prepare_launch(const ProblemSpec& spec, const LaunchArgs& args, void* stream,
                                       std::unique_lock<std::mutex>& lock) {
  auto plan = plan_for(spec);
  const Target& t = backend_->target();
  const WorkspaceSize need = plan->tmpl->workspace_bytes(spec, plan->config, t, args.shape());
  Workspace ws;
  if (need.zeroed > 0 || need.scratch > 0) {
    lock = std::unique_lock(launch_mu_);
    ws = workspace(stream, need);
  }
  KernelLaunch kl;
  try {
    kl = plan->tmpl->make_launch(spec, plan->config, t, args, ws);
  } catch (const LaunchRefused& e) {
    // These tensors, not the problem, are what the template cannot take (sm90: a stride TMA
    // cannot describe): the next template by priority runs this call; later calls try again.
    plan = fallback_plan(spec, *plan, e.what());
    const WorkspaceSize fb_need = plan->tmpl->workspace_bytes(spec, plan->config, t, args.shape());
    if ((fb_need.zeroed > 0 || fb_need.scratch > 0) && !lock.owns_lock()) lock = std::unique_lock(launch_mu_);
    if (fb_need.zeroed > need.zeroed || fb_need.scratch > need.scratch) ws = workspace(stream, fb_need);
    kl = plan->tmpl->make_launch(spec, plan->config, t, args, ws);
  }
  PreparedLaunch l;
  l.kernel = PreparedKernel{spec, plan->tmpl, plan->config, plan->config_source, plan->kernel, kl.geometry};
  l.params = std::move(kl.params);
  return l;
}

void Runtime::launch(const PreparedLaunch& l, void* stream) {
  backend_->launch(*l.kernel.kernel, l.kernel.geometry, l.params.data(), l.params.size(), stream);
}

PreparedKernel Runtime::prepare_prefill(const PrefillProblem& problem) {
  return prepare(prefill_spec(problem), prefill_shape(problem));
}

PreparedLaunch Runtime::prepare_launch(const PrefillArgs& args) {
  std::unique_lock<std::mutex> lock;
  return prepare_launch(prefill_spec(args.problem), LaunchArgs{&args, nullptr}, nullptr, lock);
}

void Runtime::prefill(const PrefillArgs& args, void* stream) {
  validate_prefill_args(args, backend_->target().platform);
  if (prefill_empty(args.problem)) return;  // nothing to compute
  std::unique_lock<std::mutex> lock;
  launch(prepare_launch(prefill_spec(args.problem), LaunchArgs{&args, nullptr}, stream, lock), stream);
}

}  // namespace attnjit
