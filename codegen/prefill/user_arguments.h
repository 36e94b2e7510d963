// The user-variant part of the prefill launch parameters: aux tensors and the block mask
// (attnjit/user_mods.h), checked and copied into PrefillParams::user.
#pragma once

#include "attnjit/tensors.h"
#include "templates/prefill/params.h"

namespace attnjit {

// Throws SpecError naming the field ("aux[1].data", "block_mask.q_tiles", ...). A block mask
// is required exactly when problem.block_sparse != 0, at that tile. On the CPU (host memory)
// the block mask's counts and indices are checked too; GPU memory is not read.
void fill_user_params(const PrefillArgs& a, Platform platform, UserModParams& out);

}  // namespace attnjit
