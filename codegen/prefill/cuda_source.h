// The source text of the CUDA prefill templates (prefill_sm80, prefill_sm90): a prelude of
// constants and a `using Traits`, a static_assert tying the kernel to the host's launch
// geometry, and the explicit instantiation NVRTC compiles. The templates differ only in the
// fields of CudaPrefillKernel.
#pragma once

#include <cstdint>
#include <string>

#include "codegen/kernel_template.h"

namespace attnjit {

struct CudaPrefillKernel {
  const char* generator;  // the generator version (a change re-keys every cached kernel)
  const char* root;       // the template the prelude includes (its #include closure is embedded)
  const char* kernel;     // the __global__ template, e.g. "attnjit::prefill_sm80_kernel"
  const char* params;     // its parameter declaration
  std::string (*traits)(const ProblemSpec&, const TileConfig&);  // the Traits it is instantiated with
  int64_t (*smem_bytes)(const ProblemSpec&, const TileConfig&);  // dynamic shared memory per block
  int (*threads)(const TileConfig&);                             // threads per block
};

// Throws SpecError, named after `t`, when t.can_implement refuses the config.
KernelSource render_cuda_prefill(const KernelTemplate& t, const CudaPrefillKernel& k, const ProblemSpec& spec,
                                 const TileConfig& cfg, const Target& target);

}  // namespace attnjit
