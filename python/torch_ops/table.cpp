// Binding the module's function table, and what every kernel asks of it.
#include <array>
#include <atomic>
#include <cstdio>

#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#if ATTNJIT_TORCH_STREAM == 2
#include <c10/cuda/CUDAStream.h>
#endif

#include "torch_ops.h"

namespace attnjit_torch {
namespace {

std::atomic<const attnjit_ops_table*> bound{nullptr};

// One slot per device: the CPU, then CUDA ordinals.
constexpr size_t kMaxCuda = 64;
std::array<std::atomic<void*>, 1 + kMaxCuda> runtimes{};

uint8_t dlpack_code(c10::ScalarType s) {
  switch (s) {
    case c10::ScalarType::Float: case c10::ScalarType::Double: case c10::ScalarType::Half: return 2;
    case c10::ScalarType::BFloat16: return 4;
    case c10::ScalarType::Byte: case c10::ScalarType::UInt16: case c10::ScalarType::UInt32:
    case c10::ScalarType::UInt64: return 1;
    case c10::ScalarType::Char: case c10::ScalarType::Short: case c10::ScalarType::Int:
    case c10::ScalarType::Long: return 0;
    case c10::ScalarType::Bool: return 6;
    case c10::ScalarType::Float8_e4m3fn: return 10;
    case c10::ScalarType::Float8_e5m2: return 12;
    case c10::ScalarType::ComplexHalf: case c10::ScalarType::ComplexFloat: case c10::ScalarType::ComplexDouble:
      return 5;
    default: return 3;  // DLPack's opaque handle: no dtype the module accepts
  }
}

}  // namespace

const attnjit_ops_table& table() {
  const attnjit_ops_table* t = bound.load(std::memory_order_acquire);
  TORCH_CHECK(t, "attnjit: the torch ops library is not bound to the attnjit module (import attnjit.torch)");
  return *t;
}

attnjit_ops_tensor view(const at::Tensor& t) {
  attnjit_ops_tensor v;
  v.data = t.data_ptr();
  v.shape = t.sizes().data();
  v.strides = t.strides().data();
  v.ndim = static_cast<int32_t>(t.dim());
  const bool cuda = t.is_cuda();
  v.device_type = cuda ? 2 : t.is_cpu() ? 1 : 0;
  v.device_id = cuda ? t.get_device() : 0;
  v.dtype_code = dlpack_code(t.scalar_type());
  v.dtype_bits = static_cast<uint8_t>(t.element_size() * 8);
  return v;
}

void* runtime_for(const at::Tensor& t) {
  const bool cuda = t.is_cuda();
  const int index = cuda ? t.get_device() : -1;
  TORCH_CHECK_VALUE(index < static_cast<int>(kMaxCuda), "attnjit: CUDA device ", index, " is beyond the ",
                    kMaxCuda, " the torch ops keep runtimes for");
  std::atomic<void*>& slot = runtimes[static_cast<size_t>(index + 1)];
  void* rt = slot.load(std::memory_order_acquire);
  if (!rt) {  // first call on this device: attnjit.default_runtime (Python, under the GIL)
    attnjit_ops_error e;
    check(table().runtime(cuda ? 2 : 1, cuda ? index : 0, &rt, &e), e);
    slot.store(rt, std::memory_order_release);
  }
  return rt;
}

std::tuple<at::Tensor, at::Tensor> outputs(const at::Tensor& q, at::IntArrayRef lse_shape) {
  return {at::empty_like(q, {}, at::MemoryFormat::Contiguous), at::empty(lse_shape, q.options().dtype(at::kFloat))};
}

void* stream_for(const at::Tensor& t) {
  if (!t.is_cuda()) return nullptr;
#if ATTNJIT_TORCH_STREAM == 1
  // Through c10's device-guard registry (filled by torch's CUDA library): no CUDA headers here.
  const c10::impl::DeviceGuardImplInterface* g = c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA);
  return g->getStreamNativeHandle(g->getStream(t.device()));
#elif ATTNJIT_TORCH_STREAM == 2
  return c10::cuda::getCurrentCUDAStream(t.device().index()).stream();
#else
  TORCH_CHECK(false, "attnjit: the torch ops library was built without a way to get torch's CUDA stream (this "
              "torch has no Stream native handles; build where libc10_cuda and cuda_runtime_api.h are found, or "
              "run with ATTNJIT_TORCH_OPS=0)");
  return nullptr;
#endif
}

}  // namespace attnjit_torch

// Called by attnjit.torch (ctypes) right after loading this library: checks the table's ABI and
// registers the kernels (once), so a library built for another module or torch registers nothing.
extern "C" __attribute__((visibility("default"))) int attnjit_torch_ops_bind(const attnjit_ops_table* t,
                                                                            char* error, size_t error_len) {
  using namespace attnjit_torch;
  if (!t || t->abi_version != ATTNJIT_OPS_ABI_VERSION || t->size != sizeof(attnjit_ops_table)) {
    std::snprintf(error, error_len, "function table ABI %u (%u bytes), this library expects %u (%zu bytes)",
                  t ? t->abi_version : 0u, t ? t->size : 0u, ATTNJIT_OPS_ABI_VERSION, sizeof(attnjit_ops_table));
    return 1;
  }
  try {
    if (!bound.exchange(t)) {
      // Live until the process exits, as TORCH_LIBRARY_IMPL's registrations do.
      auto* cpu = new torch::Library(torch::Library::IMPL, "attnjit", c10::DispatchKey::CPU, __FILE__, __LINE__);
      auto* cuda = new torch::Library(torch::Library::IMPL, "attnjit", c10::DispatchKey::CUDA, __FILE__, __LINE__);
      register_attention(*cpu, *cuda);
      register_decode(*cpu, *cuda);
      register_varlen(*cpu, *cuda);
    }
    return 0;
  } catch (const std::exception& e) {
    bound.store(nullptr);
    std::snprintf(error, error_len, "%s", e.what());
    return 1;
  }
}

// The torch version this library was compiled against: attnjit.torch loads it only into that one.
extern "C" __attribute__((visibility("default"))) const char* attnjit_torch_ops_torch_version() {
  return ATTNJIT_TORCH_VERSION;
}

// The ops whose kernels attnjit_torch_ops_bind registers, comma-separated.
extern "C" __attribute__((visibility("default"))) const char* attnjit_torch_ops_names() {
  return "attention,attention_varlen,attention_paged,decode";
}
