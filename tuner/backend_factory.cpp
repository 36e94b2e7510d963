#include "tuner/backend_factory.h"

#include <string>

#include "runtime/cuda_backend.h"
#ifdef ATTNJIT_WITH_LLVM
#include "runtime/cpu/cpu_backend.h"
#endif

namespace attnjit::tuner {

std::unique_ptr<Backend> make_backend(Platform platform) {
  if (platform == Platform::Cuda) return make_cuda_backend();
#ifdef ATTNJIT_WITH_LLVM
  return make_cpu_backend();
#else
  throw BackendError("cpu backend: this attnjit was built without LLVM (ATTNJIT_WITH_LLVM=OFF)");
#endif
}

std::unique_ptr<Backend> make_backend(std::string_view name) {
  if (name == "auto") {
    try {
      return make_backend(Platform::Cuda);
    } catch (const BackendError& cuda_error) {
      try {
        return make_backend(Platform::Cpu);
      } catch (const BackendError& cpu_error) {
        throw BackendError(std::string("no backend: ") + cuda_error.what() + "; " + cpu_error.what());
      }
    }
  }
  if (name != "gpu" && name != "cuda" && name != "cpu")
    throw SpecError("backend: unknown value '" + std::string(name) + "' (allowed: gpu, cuda, cpu, auto)");
  return make_backend(parse_platform(name));
}

}  // namespace attnjit::tuner
