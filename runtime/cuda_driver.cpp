#include "runtime/cuda_driver.h"

#include <dlfcn.h>

#include <cstdlib>
#include <initializer_list>
#include <mutex>

#include "codegen/prefill/sm90_tensor_maps.h"
#include "runtime/backend.h"

namespace attnjit::cuda {
namespace {

struct Loaded {
  DriverApi api{};
  std::string error;  // empty when the driver is usable
};

// Resolves the first of `names` that the library exports (the _v2 names first: the unsuffixed
// ones are the legacy ABI kept for old binaries).
template <class Fn>
bool resolve(void* lib, Fn& fn, std::initializer_list<const char*> names, std::string& error) {
  for (const char* n : names) {
    if (void* p = ::dlsym(lib, n)) {
      fn = reinterpret_cast<Fn>(p);
      return true;
    }
  }
  error = std::string("libcuda.so.1 has no symbol ") + *names.begin() + " (driver too old?)";
  return false;
}

const Loaded& loaded();

// cuTensorMapEncodeTiled answers CUDA_ERROR_INVALID_CONTEXT (201) on a thread with no current
// context, and attnjit keeps none current between its calls (DeviceContext::Scope restores the
// caller's): encode inside the context that owns the tensor's memory, then restore.
int encode_tiled_in_owner_context(void* map, int dtype, uint32_t rank, void* address, const uint64_t* dims,
                                  const uint64_t* strides, const uint32_t* box, const uint32_t* elem,
                                  int interleave, int swizzle, int l2, int oob) {
  const DriverApi& d = loaded().api;
  auto encode = [&] {
    return d.cuTensorMapEncodeTiled(map, dtype, rank, address, dims, strides, box, elem, interleave, swizzle,
                                    l2, oob);
  };
  CUcontext current = nullptr;
  if (d.cuCtxGetCurrent(&current) == CUDA_SUCCESS && current != nullptr) return encode();
  constexpr int kPointerAttributeContext = 1;  // CU_POINTER_ATTRIBUTE_CONTEXT
  CUcontext owner = nullptr;
  if (!d.cuPointerGetAttribute ||
      d.cuPointerGetAttribute(&owner, kPointerAttributeContext, reinterpret_cast<CUdeviceptr>(address)) !=
          CUDA_SUCCESS ||
      owner == nullptr)
    return encode();  // not device memory of a live context: the driver's own error names it
  if (d.cuCtxSetCurrent(owner) != CUDA_SUCCESS) return encode();
  const int rc = encode();
  d.cuCtxSetCurrent(nullptr);
  return rc;
}

Loaded load_driver() {
  Loaded l;
  ::dlerror();
  void* lib = ::dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* e = ::dlerror();
    l.error = std::string("libcuda.so.1 not found (no NVIDIA driver): ") + (e ? e : "dlopen failed");
    return l;
  }
  // Never dlclose: kernels and contexts may outlive every attnjit object until process exit.
  DriverApi& a = l.api;
  std::string& err = l.error;
  bool ok = resolve(lib, a.cuInit, {"cuInit"}, err) &&
            resolve(lib, a.cuDriverGetVersion, {"cuDriverGetVersion"}, err) &&
            resolve(lib, a.cuGetErrorName, {"cuGetErrorName"}, err) &&
            resolve(lib, a.cuGetErrorString, {"cuGetErrorString"}, err) &&
            resolve(lib, a.cuDeviceGetCount, {"cuDeviceGetCount"}, err) &&
            resolve(lib, a.cuDeviceGet, {"cuDeviceGet"}, err) &&
            resolve(lib, a.cuDeviceGetName, {"cuDeviceGetName"}, err) &&
            resolve(lib, a.cuDeviceGetAttribute, {"cuDeviceGetAttribute"}, err) &&
            resolve(lib, a.cuDeviceTotalMem, {"cuDeviceTotalMem_v2"}, err) &&
            resolve(lib, a.cuDevicePrimaryCtxRetain, {"cuDevicePrimaryCtxRetain"}, err) &&
            resolve(lib, a.cuDevicePrimaryCtxRelease, {"cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease"}, err) &&
            resolve(lib, a.cuCtxGetCurrent, {"cuCtxGetCurrent"}, err) &&
            resolve(lib, a.cuCtxSetCurrent, {"cuCtxSetCurrent"}, err) &&
            resolve(lib, a.cuCtxGetDevice, {"cuCtxGetDevice"}, err) &&
            resolve(lib, a.cuCtxSynchronize, {"cuCtxSynchronize"}, err) &&
            resolve(lib, a.cuModuleLoadData, {"cuModuleLoadData"}, err) &&
            resolve(lib, a.cuModuleUnload, {"cuModuleUnload"}, err) &&
            resolve(lib, a.cuModuleGetFunction, {"cuModuleGetFunction"}, err) &&
            resolve(lib, a.cuFuncSetAttribute, {"cuFuncSetAttribute"}, err) &&
            resolve(lib, a.cuFuncGetAttribute, {"cuFuncGetAttribute"}, err) &&
            resolve(lib, a.cuLaunchKernel, {"cuLaunchKernel"}, err) &&
            resolve(lib, a.cuMemAlloc, {"cuMemAlloc_v2"}, err) &&
            resolve(lib, a.cuMemFree, {"cuMemFree_v2"}, err) &&
            resolve(lib, a.cuMemcpyHtoD, {"cuMemcpyHtoD_v2"}, err) &&
            resolve(lib, a.cuMemcpyDtoH, {"cuMemcpyDtoH_v2"}, err) &&
            resolve(lib, a.cuMemsetD8, {"cuMemsetD8_v2"}, err) &&
            resolve(lib, a.cuStreamCreate, {"cuStreamCreate"}, err) &&
            resolve(lib, a.cuStreamDestroy, {"cuStreamDestroy_v2", "cuStreamDestroy"}, err) &&
            resolve(lib, a.cuStreamSynchronize, {"cuStreamSynchronize"}, err) &&
            resolve(lib, a.cuEventCreate, {"cuEventCreate"}, err) &&
            resolve(lib, a.cuEventDestroy, {"cuEventDestroy_v2", "cuEventDestroy"}, err) &&
            resolve(lib, a.cuEventRecord, {"cuEventRecord"}, err) &&
            resolve(lib, a.cuEventSynchronize, {"cuEventSynchronize"}, err) &&
            resolve(lib, a.cuEventElapsedTime, {"cuEventElapsedTime_v2", "cuEventElapsedTime"}, err);
  if (!ok) return l;
  a.cuFuncGetParamInfo = reinterpret_cast<decltype(a.cuFuncGetParamInfo)>(::dlsym(lib, "cuFuncGetParamInfo"));
  a.cuTensorMapEncodeTiled =
      reinterpret_cast<decltype(a.cuTensorMapEncodeTiled)>(::dlsym(lib, "cuTensorMapEncodeTiled"));
  a.cuPointerGetAttribute =
      reinterpret_cast<decltype(a.cuPointerGetAttribute)>(::dlsym(lib, "cuPointerGetAttribute"));
  if (a.cuTensorMapEncodeTiled) set_tensor_map_encoder(&encode_tiled_in_owner_context);
  CUresult r = a.cuInit(0);
  if (r != CUDA_SUCCESS) {
    const char* name = nullptr;
    const char* text = nullptr;
    a.cuGetErrorName(r, &name);
    a.cuGetErrorString(r, &text);
    l.error = "cuInit failed: " + std::string(name ? name : "CUDA error " + std::to_string(r)) +
              " (" + (text ? text : "no description") + ")";
  }
  return l;
}

const Loaded& loaded() {
  // Never destroyed: kernels and contexts held by other statics are released during exit,
  // after function-local statics constructed later than them would already be gone.
  static const Loaded* l = new Loaded(load_driver());
  return *l;
}

bool cuda_disabled_by_env() {
  const char* v = std::getenv("ATTNJIT_DISABLE_CUDA");
  return v && *v && std::string_view(v) != "0";
}

}  // namespace

const DriverApi& driver() {
  const Loaded& l = loaded();
  if (!l.error.empty()) throw BackendError(l.error);
  return l.api;
}

bool cuda_available(std::string* why) {
  auto fail = [&](std::string reason) {
    if (why) *why = std::move(reason);
    return false;
  };
  if (cuda_disabled_by_env()) return fail("CUDA disabled by ATTNJIT_DISABLE_CUDA");
  const Loaded& l = loaded();
  if (!l.error.empty()) return fail(l.error);
  int n = 0;
  CUresult r = l.api.cuDeviceGetCount(&n);
  if (r != CUDA_SUCCESS) return fail("cuDeviceGetCount failed: " + error_text(r));
  if (n == 0) return fail("no CUDA device (driver loaded, 0 devices visible)");
  return true;
}

std::string error_text(CUresult r) {
  const Loaded& l = loaded();
  const char* name = nullptr;
  const char* text = nullptr;
  if (l.api.cuGetErrorName) l.api.cuGetErrorName(r, &name);
  if (l.api.cuGetErrorString) l.api.cuGetErrorString(r, &text);
  std::string out = name ? name : "CUDA error " + std::to_string(r);
  out += " (";
  out += text ? text : "no description";
  out += ")";
  return out;
}

void check(CUresult r, std::string_view call, std::string_view kernel) {
  if (r == CUDA_SUCCESS) return;
  std::string msg(call);
  msg += " failed: " + error_text(r);
  if (!kernel.empty()) {
    msg += " [kernel ";
    msg += kernel;
    msg += "]";
  }
  throw BackendError(msg);
}

std::string arch_for_compute_capability(int major, int minor) {
  if (major == 9 && minor == 0) return "sm_90a";  // the wgmma / setmaxnreg features need "a"
  std::string best;
  int best_minor = -1;
  for (const std::string& arch : Target::cuda_archs()) {
    const Target t = Target::cuda(arch);
    // "a" archs run only on exactly their own compute capability.
    const bool arch_specific = !arch.empty() && arch.back() == 'a';
    if (t.cc_major != major || t.cc_minor > minor) continue;
    if (arch_specific && t.cc_minor != minor) continue;
    if (t.cc_minor > best_minor) {
      best = arch;
      best_minor = t.cc_minor;
    }
  }
  if (best.empty()) {
    std::string list;
    for (const std::string& a : Target::cuda_archs()) list += (list.empty() ? "" : ", ") + a;
    throw BackendError("device compute capability " + std::to_string(major) + "." +
                       std::to_string(minor) + " is not supported (kernels are generated for " +
                       list + ")");
  }
  return best;
}

std::string driver_version() {
  int v = 0;
  check(driver().cuDriverGetVersion(&v), "cuDriverGetVersion");
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

int device_count() {
  int n = 0;
  check(driver().cuDeviceGetCount(&n), "cuDeviceGetCount");
  return n;
}

Target device_target(int ordinal) {
  const DriverApi& d = driver();
  CUdevice dev = 0;
  check(d.cuDeviceGet(&dev, ordinal), "cuDeviceGet(" + std::to_string(ordinal) + ")");
  auto attr = [&](DeviceAttribute a, const char* what) {
    int v = 0;
    check(d.cuDeviceGetAttribute(&v, a, dev), std::string("cuDeviceGetAttribute(") + what + ")");
    return v;
  };
  const int major = attr(kComputeCapabilityMajor, "COMPUTE_CAPABILITY_MAJOR");
  const int minor = attr(kComputeCapabilityMinor, "COMPUTE_CAPABILITY_MINOR");
  Target t = Target::cuda(arch_for_compute_capability(major, minor));
  char name[256] = {};
  check(d.cuDeviceGetName(name, sizeof name - 1, dev), "cuDeviceGetName");
  t.device_name = name;
  // The device's own numbers, not the arch table's: the tuner and can_implement see real limits.
  t.cc_major = major;
  t.cc_minor = minor;
  t.sm_count = attr(kMultiprocessorCount, "MULTIPROCESSOR_COUNT");
  t.smem_per_block = attr(kMaxSharedMemoryPerBlockOptin, "MAX_SHARED_MEMORY_PER_BLOCK_OPTIN");
  t.smem_per_sm = attr(kMaxSharedMemoryPerMultiprocessor, "MAX_SHARED_MEMORY_PER_MULTIPROCESSOR");
  t.regs_per_sm = attr(kMaxRegistersPerMultiprocessor, "MAX_REGISTERS_PER_MULTIPROCESSOR");
  t.max_threads_per_block = attr(kMaxThreadsPerBlock, "MAX_THREADS_PER_BLOCK");
  return t;
}

std::shared_ptr<DeviceContext> DeviceContext::open(int device) {
  const DriverApi& d = driver();
  std::shared_ptr<DeviceContext> c(new DeviceContext());
  CUcontext current = nullptr;
  check(d.cuCtxGetCurrent(&current), "cuCtxGetCurrent");
  CUdevice current_dev = -1;
  if (current) check(d.cuCtxGetDevice(&current_dev), "cuCtxGetDevice");
  const int n = device_count();
  const int want = device >= 0 ? device : (current ? current_dev : 0);
  if (want >= n)
    throw BackendError("CUDA device " + std::to_string(want) + " requested but " +
                       std::to_string(n) + " device(s) visible");
  c->device_ = want;
  CUdevice dev = 0;
  check(d.cuDeviceGet(&dev, want), "cuDeviceGet(" + std::to_string(want) + ")");
  CUcontext primary = nullptr;
  check(d.cuDevicePrimaryCtxRetain(&primary, dev), "cuDevicePrimaryCtxRetain");
  if (current && current_dev == want && current != primary) {
    // The application made its own context on this device and works in it: use that one, so
    // our allocations and launches interoperate with its streams and memory.
    d.cuDevicePrimaryCtxRelease(dev);
    c->ctx_ = current;
    return c;
  }
  // The primary context (what the CUDA runtime and PyTorch use), held by our own reference so
  // it outlives every module loaded into it.
  c->ctx_ = primary;
  c->retained_primary_ = true;
  return c;
}

DeviceContext::~DeviceContext() {
  if (!retained_primary_) return;
  const DriverApi& d = loaded().api;
  CUdevice dev = 0;
  if (d.cuDeviceGet(&dev, device_) == CUDA_SUCCESS) d.cuDevicePrimaryCtxRelease(dev);
}

DeviceContext::Scope::Scope(const DeviceContext& c) {
  const DriverApi& d = loaded().api;  // a DeviceContext exists only if the driver loaded
  check(d.cuCtxGetCurrent(&prev_), "cuCtxGetCurrent");
  if (prev_ != c.context()) {
    check(d.cuCtxSetCurrent(c.context()), "cuCtxSetCurrent");
    switched_ = true;
  }
}

DeviceContext::Scope::~Scope() {
  if (switched_) loaded().api.cuCtxSetCurrent(prev_);
}

}  // namespace attnjit::cuda
