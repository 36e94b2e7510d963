// Backend: one place kernels are compiled, loaded, launched and timed — a CUDA device (NVRTC +
// driver API) or the host CPU (clang + LLVM ORC). The API facade, the tuner and the tests use
// only this interface, so every path runs on either.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "attnjit/types.h"  // BackendError
#include "codegen/kernel_source.h"
#include "codegen/target.h"

namespace attnjit {

// What the compiler reported about one kernel (GPU: ptxas -v; CPU: zeros).
struct ResourceUsage {
  int registers = 0;
  int spill_store_bytes = 0;
  int spill_load_bytes = 0;
  int smem_static_bytes = 0;
  int stack_frame_bytes = 0;
  int const_bytes = 0;
};


// A compiled and loaded kernel. Backends subclass it to hold their handles.
struct CompiledKernel {
  KernelSource source;
  ResourceUsage resources;
  std::string log;               // compiler log (warnings, ptxas -v)
  double compile_ms = 0;         // wall time of the compile; 0 when loaded from the disk cache
  bool from_disk_cache = false;
  virtual ~CompiledKernel() = default;
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual const Target& target() const = 0;
  // Human-readable identity for provenance: "NVIDIA H100 80GB HBM3, driver 580.., NVRTC 13.0"
  // or "icelake-client, LLVM 14.0.6".
  virtual std::string describe() const = 0;
  // Compiler identity that goes into cache keys and database provenance ("nvrtc-13.0", "llvm-14.0.6").
  virtual std::string compiler_version() const = 0;

  // Compiles (or takes from the memory / disk cache) and loads. Thread-safe: concurrent callers
  // with the same source compile it once. Throws BackendError with the compiler log on failure.
  virtual std::shared_ptr<const CompiledKernel> get_kernel(const KernelSource& src) = 0;

  // Launches with one argument: the params struct (PrefillParams, DecodeParams, ...) passed by
  // value, `args_size` bytes at `args`. `stream` is a CUstream (nullptr = default) on GPUs and
  // ignored on CPUs, which run synchronously.
  virtual void launch(const CompiledKernel& kernel, const LaunchGeometry& geometry,
                      const void* args, size_t args_size, void* stream = nullptr) = 0;
  virtual void synchronize(void* stream = nullptr) = 0;

  // Memory in the backend's address space (device memory on GPUs, host memory on CPUs).
  virtual void* allocate(size_t bytes) = 0;
  virtual void release(void* ptr) noexcept = 0;
  virtual void copy_to_device(void* dst, const void* src, size_t bytes) = 0;
  virtual void copy_to_host(void* dst, const void* src, size_t bytes) = 0;
  virtual void fill_bytes(void* dst, unsigned char value, size_t bytes) = 0;

  // Times `launches` (each a kernel + geometry + args) run back to back `reps` times after
  // `warmup` unmeasured repetitions; returns one time per repetition in milliseconds
  // (CUDA events on GPUs, a steady clock on CPUs).
  struct Launch {
    const CompiledKernel* kernel;
    LaunchGeometry geometry;
    std::vector<unsigned char> args;
  };
  virtual std::vector<double> time(const std::vector<Launch>& launches, int warmup, int reps,
                                   void* stream = nullptr) = 0;
};

// RAII device buffer from a backend.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(Backend& b, size_t bytes) : backend_(&b), bytes_(bytes), ptr_(bytes ? b.allocate(bytes) : nullptr) {}
  DeviceBuffer(DeviceBuffer&& o) noexcept { *this = std::move(o); }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      backend_ = o.backend_; bytes_ = o.bytes_; ptr_ = o.ptr_;
      o.ptr_ = nullptr; o.bytes_ = 0;
    }
    return *this;
  }
  ~DeviceBuffer() { reset(); }
  void reset() noexcept { if (ptr_) backend_->release(ptr_); ptr_ = nullptr; bytes_ = 0; }
  void* get() const { return ptr_; }
  size_t size() const { return bytes_; }

 private:
  Backend* backend_ = nullptr;
  size_t bytes_ = 0;
  void* ptr_ = nullptr;
};

}  // namespace attnjit
