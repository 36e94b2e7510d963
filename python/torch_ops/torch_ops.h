// The torch ops library's helpers: the module's function table (ops_abi.h), tensors as that
// table reads them, the default runtime and stream of a tensor, errors raised as torch raises
// them. Compiled against torch's headers only; attnjit's own code is reached through the table.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/library.h>

#include "ops_abi.h"

namespace attnjit_torch {

// The table attnjit.torch bound at import (RuntimeError if it has not).
const attnjit_ops_table& table();

// DLPack's view of `t`, valid while `t` lives.
attnjit_ops_tensor view(const at::Tensor& t);

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

// Registers the op kernels on the CPU and CUDA dispatch keys.
void register_attention(torch::Library& cpu, torch::Library& cuda);

}  // namespace attnjit_torch
