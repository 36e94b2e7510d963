// attnjit.Runtime as Python sees it: the library's Runtime plus where its tensors must live.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "attnjit/attnjit.h"
#include "tensor_arg.h"

namespace attnjit::python {

struct PyRuntime {
  // backend: "auto" | "cpu" | "cuda"; db: a tuning database used as config provider;
  // cache_dir: kernel disk cache; device: CUDA ordinal (-1 = current / 0).
  PyRuntime(const std::string& backend, std::optional<std::string> db, std::optional<std::string> cache_dir,
            int device);

  std::unique_ptr<Runtime> rt;
  Placement where;
  std::optional<std::string> db_path;
};

// The mask of a call: causal and / or window (left, right) widths (ValueError for a causal
// window that looks ahead).
MaskSpec mask_of(bool causal, std::optional<int64_t> left, std::optional<int64_t> right);

void bind_runtime(nb::module_& m);
void bind_prefill(nb::class_<PyRuntime>& cls);
void bind_decode(nb::class_<PyRuntime>& cls);
void bind_prefill_varlen(nb::class_<PyRuntime>& cls);

}  // namespace attnjit::python
