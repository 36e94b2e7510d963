// CudaBackend: attnjit::Backend on one CUDA device — NVRTC compiles, the driver API (dlopen'ed,
// runtime/cuda_driver.h) loads and launches, CUDA events time. Compiled kernels are cached in
// memory (per backend: modules belong to its context) and on disk (CUBIN + lowered name +
// ptxas report, keyed by source hash + NVRTC version + arch), so a second process skips NVRTC.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "runtime/backend.h"
#include "runtime/disk_cache.h"
#include "runtime/kernel_cache.h"

namespace attnjit {

namespace cuda {
class DeviceContext;
}

struct CudaBackendOptions {
  int device = -1;  // ordinal; -1 = the device of the caller's current context, else 0
  bool disk_cache = true;
  // Cache root; empty = default_cache_dir() ($ATTNJIT_CACHE_DIR, $XDG_CACHE_HOME/attnjit,
  // ~/.cache/attnjit). CUBINs go to <root>/cubin/.
  std::filesystem::path cache_dir;
};

class CudaBackend final : public Backend {
 public:
  // Throws BackendError with the reason when there is no usable driver / device / NVRTC.
  explicit CudaBackend(const CudaBackendOptions& options = {});
  ~CudaBackend() override;

  const Target& target() const override { return target_; }
  std::string describe() const override;
  std::string compiler_version() const override;

  std::shared_ptr<const CompiledKernel> get_kernel(const KernelSource& src) override;
  void launch(const CompiledKernel& kernel, const LaunchGeometry& geometry, const void* args,
              size_t args_size, void* stream = nullptr) override;
  void synchronize(void* stream = nullptr) override;

  void* allocate(size_t bytes) override;
  void release(void* ptr) noexcept override;
  void copy_to_device(void* dst, const void* src, size_t bytes) override;
  void copy_to_host(void* dst, const void* src, size_t bytes) override;
  void fill_bytes(void* dst, unsigned char value, size_t bytes) override;

  std::vector<double> time(const std::vector<Launch>& launches, int warmup, int reps,
                           void* stream = nullptr) override;

  int device() const;
  KernelCache::Stats memory_cache_stats() const { return memory_cache_.stats(); }
  // nullopt when the disk cache is off.
  std::optional<DiskCache::Stats> disk_cache_stats() const;
  // The disk-cache key of a source on this backend: source hash, compiler version, arch.
  std::string disk_key(const KernelSource& src) const;

 private:
  std::shared_ptr<const CompiledKernel> build(const KernelSource& src);
  std::shared_ptr<const CompiledKernel> load_from_disk(const KernelSource& src);

  std::shared_ptr<cuda::DeviceContext> ctx_;
  Target target_;
  std::string compiler_version_;
  std::string driver_version_;
  KernelCache memory_cache_;
  std::optional<DiskCache> disk_cache_;
};

// Convenience for factories: a CudaBackend behind the Backend interface.
std::unique_ptr<Backend> make_cuda_backend(const CudaBackendOptions& options = {});

}  // namespace attnjit
