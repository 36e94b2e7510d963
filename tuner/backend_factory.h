// Opening a backend by platform, for the tuner, its worker process and the CLI.
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "runtime/backend.h"

namespace attnjit::tuner {

// Cuda: the first CUDA device (BackendError with the reason when there is none).
// Cpu: the host CPU through clang + LLVM ORC (BackendError when built without LLVM).
std::unique_ptr<Backend> make_backend(Platform platform);

// "gpu" | "cuda" | "cpu" | "auto"; auto = a CUDA device when one is usable, else the CPU.
// Throws SpecError for an unknown name, BackendError when nothing can be opened.
std::unique_ptr<Backend> make_backend(std::string_view name);

}  // namespace attnjit::tuner
