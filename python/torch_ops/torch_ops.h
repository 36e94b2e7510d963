// The torch ops library's helpers: the module's function table (ops_abi.h), tensors as that
// table reads them, the default runtime and stream of a tensor, errors raised as torch raises
// them. Compiled against torch's headers only; attnjit's own code is reached through the table.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <tuple>
#include <torch/library.h>

#include "ops_abi.h"

namespace attnjit_torch {

// The table attnjit.torch bound at import (RuntimeError if it has not).
const attnjit_ops_table& table();

// DLPack's view of `t`, valid while `t` lives.
attnjit_ops_tensor view(const at::Tensor& t);

// The tensor an optional one holds, or null.
inline const at::Tensor* ptr(const std::optional<at::Tensor>& t) { return t ? &*t : nullptr; }

// An optional tensor's view, or null; valid while the tensor and this object live.
class OptView {
 public:
  explicit OptView(const at::Tensor* t) {
    if (t) {
      v_ = view(*t);
      p_ = &v_;
    }
  }
  explicit OptView(const std::optional<at::Tensor>& t) : OptView(ptr(t)) {}
  OptView(const OptView&) = delete;
  OptView& operator=(const OptView&) = delete;
  const attnjit_ops_tensor* get() const { return p_; }

 private:
  attnjit_ops_tensor v_{};
  const attnjit_ops_tensor* p_ = nullptr;
};

// The default runtime of `t`'s device (attnjit.default_runtime), looked up once per device.
void* runtime_for(const at::Tensor& t);

// torch's current stream on `t`'s device (CUDA), else null.
void* stream_for(const at::Tensor& t);

// Raises a failed table call as c10's TypeError / ValueError / Error (Python: TypeError,
// ValueError, RuntimeError), the kinds the Python kernels raise.
inline void check(int rc, const attnjit_ops_error& e) {
  if (rc == ATTNJIT_OPS_OK) return;
  TORCH_CHECK_TYPE(rc != ATTNJIT_OPS_TYPE_ERROR, e.message);
  TORCH_CHECK_VALUE(rc != ATTNJIT_OPS_VALUE_ERROR, e.message);
  TORCH_CHECK(false, e.message);
}

// The ops' outputs as their fake implementations (attnjit/torch.py) give them: `out` like q,
// contiguous; a float32 `lse` of `lse_shape`.
std::tuple<at::Tensor, at::Tensor> outputs(const at::Tensor& q, at::IntArrayRef lse_shape);

// Register each op's kernel on the CPU and CUDA dispatch keys (names: attnjit_torch_ops_names).
void register_attention(torch::Library& cpu, torch::Library& cuda);
void register_decode(torch::Library& cpu, torch::Library& cuda);
void register_varlen(torch::Library& cpu, torch::Library& cuda);

}  // namespace attnjit_torch
