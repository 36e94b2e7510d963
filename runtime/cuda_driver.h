// The CUDA driver API, opened at run time with dlopen("libcuda.so.1") — never linked — so every
// binary starts on machines without an NVIDIA driver and reports why the GPU path is off.
//
// The few driver types and enums used here are declared below (values from cuda.h, stable
// across CUDA 11..13), so the build needs no CUDA headers. The opaque handle structs are
// declared at global scope under the driver's own names, so a CUstream / CUcontext from code
// that includes cuda.h is the same type as ours.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "codegen/target.h"

struct CUctx_st;
struct CUmod_st;
struct CUfunc_st;
struct CUstream_st;
struct CUevent_st;

namespace attnjit::cuda {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = CUctx_st*;
using CUmodule = CUmod_st*;
using CUfunction = CUfunc_st*;
using CUstream = CUstream_st*;
using CUevent = CUevent_st*;

inline constexpr CUresult CUDA_SUCCESS = 0;

enum DeviceAttribute : int {
  kMaxThreadsPerBlock = 1,
  kMultiprocessorCount = 16,
  kL2CacheSize = 38,
  kComputeCapabilityMajor = 75,
  kComputeCapabilityMinor = 76,
  kMaxSharedMemoryPerMultiprocessor = 81,
  kMaxRegistersPerMultiprocessor = 82,
  kMaxSharedMemoryPerBlockOptin = 97,
};

enum FunctionAttribute : int {
  kFuncMaxThreadsPerBlock = 0,
  kFuncSharedSizeBytes = 1,
  kFuncLocalSizeBytes = 3,
  kFuncNumRegs = 4,
  kFuncMaxDynamicSharedSizeBytes = 8,
};

inline constexpr unsigned kEventDefault = 0x0;
inline constexpr unsigned kStreamNonBlocking = 0x1;

// Shared memory a kernel may use without opting in (cuFuncSetAttribute) on every arch.
inline constexpr unsigned kDefaultDynamicSmemLimit = 48 * 1024;

// The driver entry points attnjit uses, resolved once per process.
struct DriverApi {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDriverGetVersion)(int*);
  CUresult (*cuGetErrorName)(CUresult, const char**);
  CUresult (*cuGetErrorString)(CUresult, const char**);
  CUresult (*cuDeviceGetCount)(int*);
  CUresult (*cuDeviceGet)(CUdevice*, int);
  CUresult (*cuDeviceGetName)(char*, int, CUdevice);
  CUresult (*cuDeviceGetAttribute)(int*, int, CUdevice);
  CUresult (*cuDeviceTotalMem)(size_t*, CUdevice);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext*, CUdevice);
  CUresult (*cuDevicePrimaryCtxRelease)(CUdevice);
  CUresult (*cuCtxGetCurrent)(CUcontext*);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuCtxGetDevice)(CUdevice*);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuModuleLoadData)(CUmodule*, const void*);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction*, CUmodule, const char*);
  CUresult (*cuFuncSetAttribute)(CUfunction, int, int);
  CUresult (*cuFuncGetAttribute)(int*, int, CUfunction);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                             unsigned, CUstream, void**, void**);
  CUresult (*cuMemAlloc)(CUdeviceptr*, size_t);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void*, size_t);
  CUresult (*cuMemcpyDtoH)(void*, CUdeviceptr, size_t);
  CUresult (*cuMemsetD8)(CUdeviceptr, unsigned char, size_t);
  CUresult (*cuStreamCreate)(CUstream*, unsigned);
  CUresult (*cuStreamDestroy)(CUstream);
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuEventCreate)(CUevent*, unsigned);
  CUresult (*cuEventDestroy)(CUevent);
  CUresult (*cuEventRecord)(CUevent, CUstream);
  CUresult (*cuEventSynchronize)(CUevent);
  CUresult (*cuEventElapsedTime)(float*, CUevent, CUevent);
  // Optional (driver >= 12.4; nullptr when absent): lets launch() check the argument size
  // against the kernel's real parameter.
  CUresult (*cuFuncGetParamInfo)(CUfunction, size_t, size_t*, size_t*);
  // Optional (driver >= 12.0; nullptr when absent): tensor maps for TMA (the sm90 template).
  // Installed as codegen's tensor-map encoder (codegen/prefill/sm90_tensor_maps.h) on load.
  CUresult (*cuTensorMapEncodeTiled)(void*, int, uint32_t, void*, const uint64_t*, const uint64_t*,
                                     const uint32_t*, const uint32_t*, int, int, int, int);
  // Optional: the context that owns a device pointer (the tensor-map encoder makes it current).
  CUresult (*cuPointerGetAttribute)(void*, int, CUdeviceptr);
};

// The process-wide table, with cuInit(0) done. Throws BackendError with the reason (no
// libcuda.so.1, a missing symbol, cuInit failing) when the driver is unusable.
const DriverApi& driver();

// Whether a usable driver with at least one device is present; `why` gets the reason when not,
// e.g. "libcuda.so.1 not found (no NVIDIA driver): <dlerror text>". ATTNJIT_DISABLE_CUDA=1 in
// the environment forces false. Never throws.
bool cuda_available(std::string* why = nullptr);

// "CUDA_ERROR_OUT_OF_MEMORY (out of memory)", with the driver's own names when it is loaded.
std::string error_text(CUresult r);

// Throws BackendError "<call> failed: <error_text> [kernel <kernel>]" unless r == CUDA_SUCCESS.
void check(CUresult r, std::string_view call, std::string_view kernel = {});

// The NVRTC arch we generate for a compute capability: 9.0 -> "sm_90a"; otherwise the highest
// arch of our table with the same major and a minor <= the device's (binary compatible), e.g.
// 8.7 -> "sm_86". Throws BackendError naming the supported archs when there is none.
std::string arch_for_compute_capability(int major, int minor);

// CUDA version of the driver, e.g. "13.0" (cuDriverGetVersion).
std::string driver_version();

int device_count();

// The Target of device `ordinal`, from the built-in arch table with the device's real name,
// SM count, shared memory (per block opt-in, per SM), registers and thread limit filled in.
Target device_target(int ordinal);

// A CUDA context a backend works in: the device's primary context (what the CUDA runtime and
// PyTorch use; retained here, released on destruction), unless the caller has a context of
// its own current on the requested device when the backend is created — then that one. Shared
// by the backend and every kernel loaded into it, so modules are unloaded before the context
// goes away.
class DeviceContext {
 public:
  // device < 0: the device of the current context if any, else device 0.
  static std::shared_ptr<DeviceContext> open(int device);
  ~DeviceContext();
  DeviceContext(const DeviceContext&) = delete;
  DeviceContext& operator=(const DeviceContext&) = delete;

  CUcontext context() const { return ctx_; }
  int device() const { return device_; }

  // Makes the context current on this thread for the guard's lifetime and restores the
  // previous one after (threads start with no current context).
  class Scope {
   public:
    explicit Scope(const DeviceContext& c);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    CUcontext prev_ = nullptr;
    bool switched_ = false;
  };

 private:
  DeviceContext() = default;
  CUcontext ctx_ = nullptr;
  int device_ = 0;
  bool retained_primary_ = false;
};

}  // namespace attnjit::cuda

namespace attnjit {
// The device queries tests, the CLI and factories use, also under the library's namespace.
using cuda::cuda_available;
using cuda::device_count;
using cuda::device_target;
using cuda::driver_version;
}  // namespace attnjit
