// The user-variant part of the launch parameters: aux tensors and the block mask
// (attnjit/user_mods.h), checked and copied into PrefillParams::user (decode: the aux tensors
// into DecodeModParams::user, codegen/decode/arguments.cpp).
#pragma once

#include "attnjit/tensors.h"
#include "templates/prefill/params.h"

namespace attnjit {

// Throws SpecError naming the field ("aux[1].data", "block_mask.q_tiles", ...). A block mask
// is required exactly when problem.block_sparse != 0, at that tile. On the CPU (host memory)
// the block mask's counts and indices are checked too; GPU memory is not read.
void fill_user_params(const PrefillArgs& a, Platform platform, UserModParams& out);

// The aux tensors alone (prefill and decode): zeroes `out`, then checks each AuxTensor (SpecError
// naming "aux[i].size", "aux[i].data", "aux[i].type") and copies it in.
void fill_aux_params(const AuxTensor (&aux)[kMaxAux], UserModParams& out);

}  // namespace attnjit
