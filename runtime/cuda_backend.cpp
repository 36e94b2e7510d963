#include "runtime/cuda_backend.h"

#include "runtime/compile_key.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <sstream>

#include "runtime/cuda_driver.h"
#include "runtime/nvrtc_compiler.h"

namespace attnjit {
namespace {

using cuda::check;
using cuda::driver;

// A loaded CUDA kernel. Holds the context so the module is unloaded before it is released.
struct CudaKernel final : CompiledKernel {
  std::shared_ptr<cuda::DeviceContext> ctx;
  cuda::CUmodule module = nullptr;
  cuda::CUfunction function = nullptr;
  std::string lowered_name;
  int static_smem = 0;
  int max_threads = 0;     // per block, for this kernel's register use
  size_t param_size = 0;   // 0 = unknown (older driver)
  // Dynamic shared memory the function is currently allowed; raised on demand at launch.
  mutable std::mutex smem_mu;
  mutable std::atomic<int> dynamic_smem_limit{0};

  ~CudaKernel() override {
    if (!module) return;
    try {
      cuda::DeviceContext::Scope scope(*ctx);
      driver().cuModuleUnload(module);
    } catch (...) {
      // Destructors must not throw; a context torn down at exit has already freed the module.
    }
  }
};

const CudaKernel& as_cuda(const CompiledKernel& k) {
  const auto* c = dynamic_cast<const CudaKernel*>(&k);
  if (!c) throw BackendError("CUDA backend: kernel " + k.source.name + " was not loaded by a CUDA backend");
  return *c;
}

cuda::CUdeviceptr dptr(const void* p) { return reinterpret_cast<cuda::CUdeviceptr>(p); }
cuda::CUstream as_stream(void* s) { return static_cast<cuda::CUstream>(s); }

std::string resources_to_string(const ResourceUsage& r) {
  std::ostringstream o;
  o << r.registers << ' ' << r.spill_store_bytes << ' ' << r.spill_load_bytes << ' '
    << r.smem_static_bytes << ' ' << r.stack_frame_bytes << ' ' << r.const_bytes;
  return o.str();
}

ResourceUsage resources_from_string(const std::string& s) {
  std::istringstream in(s);
  ResourceUsage r;
  in >> r.registers >> r.spill_store_bytes >> r.spill_load_bytes >> r.smem_static_bytes >>
      r.stack_frame_bytes >> r.const_bytes;
  if (!in) throw BackendError("disk cache: malformed resource record '" + s + "'");
  return r;
}

// A CUBIN built for `arch` runs on a device of compute capability (major, minor) when the major
// matches and the arch's minor is not newer; "a" archs only on exactly their own capability.
bool cubin_runs_on(const std::string& arch, int major, int minor) {
  Target t = Target::cuda(arch);
  if (t.cc_major != major) return false;
  if (!arch.empty() && arch.back() == 'a') return t.cc_minor == minor;
  return t.cc_minor <= minor;
}

void warn_once(std::once_flag& flag, const std::string& msg) {
  std::call_once(flag, [&] { std::fprintf(stderr, "attnjit: warning: %s\n", msg.c_str()); });
}
std::once_flag g_disk_write_warning, g_disk_read_warning;

constexpr const char* kRecordTag = "attnjit-cuda-kernel-1";

// Loads `cubin` into the context and resolves its entry.
// ptxas's report when the compile log had one (it also counts spills), else what the driver
// says of the loaded function (registers, local memory, static shared memory).
ResourceUsage resources_or_driver(const ResourceUsage& from_log, const ResourceUsage& from_driver) {
  return from_log.registers > 0 ? from_log : from_driver;
}

std::shared_ptr<CudaKernel> load_module(const std::shared_ptr<cuda::DeviceContext>& ctx,
                                        const KernelSource& src, const std::string& cubin,
                                        const std::string& lowered_name) {
  const auto& d = driver();
  auto k = std::make_shared<CudaKernel>();
  k->ctx = ctx;
  k->source = src;
  k->lowered_name = lowered_name.empty() ? src.entry : lowered_name;
  cuda::DeviceContext::Scope scope(*ctx);
  check(d.cuModuleLoadData(&k->module, cubin.data()), "cuModuleLoadData", src.name);
  check(d.cuModuleGetFunction(&k->function, k->module, k->lowered_name.c_str()),
        "cuModuleGetFunction(" + k->lowered_name + ")", src.name);
  check(d.cuFuncGetAttribute(&k->static_smem, cuda::kFuncSharedSizeBytes, k->function),
        "cuFuncGetAttribute(SHARED_SIZE_BYTES)", src.name);
  check(d.cuFuncGetAttribute(&k->max_threads, cuda::kFuncMaxThreadsPerBlock, k->function),
        "cuFuncGetAttribute(MAX_THREADS_PER_BLOCK)", src.name);
  int smem_limit = 0;
  check(d.cuFuncGetAttribute(&smem_limit, cuda::kFuncMaxDynamicSharedSizeBytes, k->function),
        "cuFuncGetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)", src.name);
  k->dynamic_smem_limit.store(smem_limit);
  // The driver's view of the loaded code, standing in for ptxas's report when a log has none
  // (resources_or_driver).
  check(d.cuFuncGetAttribute(&k->resources.registers, cuda::kFuncNumRegs, k->function),
        "cuFuncGetAttribute(NUM_REGS)", src.name);
  check(d.cuFuncGetAttribute(&k->resources.stack_frame_bytes, cuda::kFuncLocalSizeBytes, k->function),
        "cuFuncGetAttribute(LOCAL_SIZE_BYTES)", src.name);
  k->resources.smem_static_bytes = k->static_smem;
  if (d.cuFuncGetParamInfo) {
    size_t offset = 0, size = 0;
    if (d.cuFuncGetParamInfo(k->function, 0, &offset, &size) == cuda::CUDA_SUCCESS) k->param_size = size;
  }
  return k;
}

}  // namespace

CudaBackend::CudaBackend(const CudaBackendOptions& options) {
  std::string why;
  if (!cuda::cuda_available(&why)) throw BackendError("CUDA backend unavailable: " + why);
  if (!Nvrtc::available(&why)) throw BackendError("CUDA backend unavailable: " + why);
  ctx_ = cuda::DeviceContext::open(options.device);
  target_ = cuda::device_target(ctx_->device());
  compiler_version_ = "nvrtc-" + Nvrtc::get().version();
  driver_version_ = cuda::driver_version();
  if (options.disk_cache) {
    std::filesystem::path root = options.cache_dir;
    if (root.empty()) {
      try {
        root = default_cache_dir();
      } catch (const BackendError& e) {
        // No HOME and no cache variables (a bare container): run with the memory cache only.
        warn_once(g_disk_read_warning, std::string(e.what()) + " (disk cache off)");
      }
    }
    if (!root.empty()) {
      disk_cache_.emplace(root, "cubin");
      disk_cache_->remove_stale_temp_files();
    }
  }
}

CudaBackend::~CudaBackend() = default;

int CudaBackend::device() const { return ctx_->device(); }

std::string CudaBackend::describe() const {
  return target_.device_name + " (" + target_.arch + ", " + std::to_string(target_.sm_count) +
         " SMs), CUDA driver " + driver_version_ + ", NVRTC " + Nvrtc::get().version();
}

std::string CudaBackend::compiler_version() const { return compiler_version_; }

std::optional<DiskCache::Stats> CudaBackend::disk_cache_stats() const {
  if (!disk_cache_) return std::nullopt;
  return disk_cache_->stats();
}

std::string CudaBackend::disk_key(const KernelSource& src) const {
  return compile_cache_key(src, compiler_version_);
}

std::shared_ptr<const CompiledKernel> CudaBackend::get_kernel(const KernelSource& src) {
  if (src.platform != Platform::Cuda)
    throw BackendError("CUDA backend: " + src.name + " is not a CUDA kernel source");
  if (src.hash.empty())
    throw BackendError("CUDA backend: " + src.name + " has no content hash (KernelSource::finalize not called)");
  if (!cubin_runs_on(src.arch, target_.cc_major, target_.cc_minor))
    throw BackendError("CUDA backend: " + src.name + " is built for " + src.arch + ", which does not run on " +
                       target_.device_name + " (compute capability " + std::to_string(target_.cc_major) +
                       "." + std::to_string(target_.cc_minor) + ", arch " + target_.arch + ")");
  return memory_cache_.get_or_create(disk_key(src), [&] { return build(src); });
}

std::shared_ptr<const CompiledKernel> CudaBackend::load_from_disk(const KernelSource& src) {
  const std::string key = disk_key(src);
  std::optional<std::string> rec;
  try {
    rec = disk_cache_->load(key);
  } catch (const BackendError& e) {
    warn_once(g_disk_read_warning, std::string(e.what()) + " (compiling instead)");
    return nullptr;
  }
  if (!rec) return nullptr;
  try {
    size_t pos = 0;
    if (DiskCache::read_field(*rec, pos) != kRecordTag) throw BackendError("disk cache: unknown record tag");
    std::string lowered = DiskCache::read_field(*rec, pos);
    std::string cubin = DiskCache::read_field(*rec, pos);
    std::string log = DiskCache::read_field(*rec, pos);
    ResourceUsage res = resources_from_string(DiskCache::read_field(*rec, pos));
    auto k = load_module(ctx_, src, cubin, lowered);
    k->log = std::move(log);
    k->resources = resources_or_driver(res, k->resources);
    k->compile_ms = 0;
    k->from_disk_cache = true;
    return k;
  } catch (const BackendError&) {
    // The checksum held, so the record is what we wrote — but the driver refused it or it came
    // from another build of the format. Drop it and compile afresh.
    try {
      disk_cache_->remove(key);
    } catch (const BackendError&) {
    }
    return nullptr;
  }
}

std::shared_ptr<const CompiledKernel> CudaBackend::build(const KernelSource& src) {
  if (disk_cache_) {
    if (auto k = load_from_disk(src)) return k;
  }
  NvrtcResult r = Nvrtc::get().compile(src, /*want_cubin=*/true, /*want_ptx=*/false);
  if (r.cubin.empty()) throw BackendError("NVRTC produced no CUBIN for " + src.name);
  auto k = load_module(ctx_, src, r.cubin, r.lowered_name);
  k->log = r.log;
  k->resources = resources_or_driver(r.resources, k->resources);
  k->compile_ms = r.compile_ms;
  k->from_disk_cache = false;
  if (disk_cache_) {
    std::string rec;
    DiskCache::append_field(rec, kRecordTag);
    DiskCache::append_field(rec, k->lowered_name);
    DiskCache::append_field(rec, r.cubin);
    DiskCache::append_field(rec, r.log);
    DiskCache::append_field(rec, resources_to_string(r.resources));
    try {
      disk_cache_->store(disk_key(src), rec);
    } catch (const BackendError& e) {
      // The kernel works; only the next process pays the compile again. Say so once.
      warn_once(g_disk_write_warning, std::string(e.what()) + " (kernels will not persist across runs)");
    }
  }
  return k;
}

void CudaBackend::launch(const CompiledKernel& kernel, const LaunchGeometry& g, const void* args,
                         size_t args_size, void* stream) {
  const CudaKernel& k = as_cuda(kernel);
  const std::string& name = k.source.name;
  if (!args || args_size == 0) throw BackendError("CUDA launch: no kernel arguments [kernel " + name + "]");
  if (k.param_size != 0 && k.param_size != args_size)
    throw BackendError("CUDA launch: argument struct is " + std::to_string(args_size) +
                       " bytes but the kernel's parameter is " + std::to_string(k.param_size) +
                       " bytes (host/device params layout mismatch) [kernel " + name + "]");
  const unsigned threads = g.block[0] * g.block[1] * g.block[2];
  if (g.grid[0] == 0 || g.grid[1] == 0 || g.grid[2] == 0 || threads == 0)
    throw BackendError("CUDA launch: empty grid or block [kernel " + name + "]");
  if (static_cast<int>(threads) > k.max_threads)
    throw BackendError("CUDA launch: " + std::to_string(threads) + " threads per block, the kernel allows " +
                       std::to_string(k.max_threads) + " (registers) [kernel " + name + "]");
  if (static_cast<int64_t>(g.dynamic_smem) + k.static_smem > target_.smem_per_block)
    throw BackendError("CUDA launch: " + std::to_string(g.dynamic_smem) + " bytes dynamic + " +
                       std::to_string(k.static_smem) + " static shared memory exceed the device's " +
                       std::to_string(target_.smem_per_block) + " per block [kernel " + name + "]");
  const auto& d = driver();
  cuda::DeviceContext::Scope scope(*ctx_);
  if (static_cast<int>(g.dynamic_smem) > k.dynamic_smem_limit.load(std::memory_order_acquire)) {
    // Above 48 KB a kernel must opt in; raise the limit once per kernel, only ever upwards.
    std::lock_guard lock(k.smem_mu);
    if (static_cast<int>(g.dynamic_smem) > k.dynamic_smem_limit.load()) {
      check(d.cuFuncSetAttribute(k.function, cuda::kFuncMaxDynamicSharedSizeBytes, static_cast<int>(g.dynamic_smem)),
            "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES=" + std::to_string(g.dynamic_smem) + ")", name);
      k.dynamic_smem_limit.store(static_cast<int>(g.dynamic_smem), std::memory_order_release);
    }
  }
  void* params[] = {const_cast<void*>(args)};
  check(d.cuLaunchKernel(k.function, g.grid[0], g.grid[1], g.grid[2], g.block[0], g.block[1], g.block[2],
                         g.dynamic_smem, as_stream(stream), params, nullptr),
        "cuLaunchKernel", name);
}

void CudaBackend::synchronize(void* stream) {
  cuda::DeviceContext::Scope scope(*ctx_);
  if (stream)
    check(driver().cuStreamSynchronize(as_stream(stream)), "cuStreamSynchronize");
  else
    check(driver().cuCtxSynchronize(), "cuCtxSynchronize");
}

void* CudaBackend::allocate(size_t bytes) {
  if (bytes == 0) return nullptr;
  cuda::DeviceContext::Scope scope(*ctx_);
  cuda::CUdeviceptr p = 0;
  check(driver().cuMemAlloc(&p, bytes), "cuMemAlloc(" + std::to_string(bytes) + " bytes)");
  return reinterpret_cast<void*>(p);
}

void CudaBackend::release(void* ptr) noexcept {
  if (!ptr) return;
  try {
    cuda::DeviceContext::Scope scope(*ctx_);
    cuda::CUresult r = driver().cuMemFree(dptr(ptr));
    if (r != cuda::CUDA_SUCCESS)
      std::fprintf(stderr, "attnjit: warning: cuMemFree failed: %s\n", cuda::error_text(r).c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "attnjit: warning: cuMemFree: %s\n", e.what());
  }
}

void CudaBackend::copy_to_device(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  cuda::DeviceContext::Scope scope(*ctx_);
  check(driver().cuMemcpyHtoD(dptr(dst), src, bytes), "cuMemcpyHtoD(" + std::to_string(bytes) + " bytes)");
}

void CudaBackend::copy_to_host(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  cuda::DeviceContext::Scope scope(*ctx_);
  check(driver().cuMemcpyDtoH(dst, dptr(src), bytes), "cuMemcpyDtoH(" + std::to_string(bytes) + " bytes)");
}

void CudaBackend::fill_bytes(void* dst, unsigned char value, size_t bytes) {
  if (bytes == 0) return;
  cuda::DeviceContext::Scope scope(*ctx_);
  check(driver().cuMemsetD8(dptr(dst), value, bytes), "cuMemsetD8(" + std::to_string(bytes) + " bytes)");
}

std::vector<double> CudaBackend::time(const std::vector<Launch>& launches, int warmup, int reps, void* stream) {
  if (launches.empty()) throw BackendError("CUDA time: nothing to launch");
  if (reps < 1 || warmup < 0) throw BackendError("CUDA time: need reps >= 1 and warmup >= 0");
  const auto& d = driver();
  cuda::DeviceContext::Scope scope(*ctx_);
  auto run_all = [&] {
    for (const Launch& l : launches) {
      if (!l.kernel) throw BackendError("CUDA time: launch without a kernel");
      launch(*l.kernel, l.geometry, l.args.data(), l.args.size(), stream);
    }
  };
  // Events bracket every repetition: rep i is the time between event i and event i+1.
  struct Events {
    std::vector<cuda::CUevent> ev;
    ~Events() {
      for (auto e : ev)
        if (e) driver().cuEventDestroy(e);
    }
  } events;
  events.ev.assign(static_cast<size_t>(reps) + 1, nullptr);
  for (auto& e : events.ev) check(d.cuEventCreate(&e, cuda::kEventDefault), "cuEventCreate");
  for (int i = 0; i < warmup; ++i) run_all();
  check(d.cuEventRecord(events.ev[0], as_stream(stream)), "cuEventRecord");
  for (int i = 0; i < reps; ++i) {
    run_all();
    check(d.cuEventRecord(events.ev[i + 1], as_stream(stream)), "cuEventRecord");
  }
  check(d.cuEventSynchronize(events.ev[reps]), "cuEventSynchronize",
        launches.front().kernel ? launches.front().kernel->source.name : std::string());
  std::vector<double> ms(static_cast<size_t>(reps));
  for (int i = 0; i < reps; ++i) {
    float t = 0;
    check(d.cuEventElapsedTime(&t, events.ev[i], events.ev[i + 1]), "cuEventElapsedTime");
    ms[i] = t;
  }
  return ms;
}

std::unique_ptr<Backend> make_cuda_backend(const CudaBackendOptions& options) {
  return std::make_unique<CudaBackend>(options);
}

}  // namespace attnjit
