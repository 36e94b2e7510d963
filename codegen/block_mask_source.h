// The small generated kernel that builds a block mask from a problem's mask and mask_mod
// (templates/prefill/block_mask.h), for a CUDA target (NVRTC) or the CPU (clang JIT).
#pragma once

#include "attnjit/launch.h"
#include "attnjit/problem_spec.h"
#include "codegen/kernel_source.h"
#include "codegen/target.h"

namespace attnjit {

// Throws SpecError for a decode spec or an unknown snippet.
KernelSource render_block_mask_builder(const ProblemSpec& spec, const Target& target);
// One work item (CPU) / thread (GPU) per mask row.
LaunchGeometry block_mask_builder_geometry(const Target& target, long long rows);

}  // namespace attnjit
