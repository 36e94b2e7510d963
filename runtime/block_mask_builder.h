// Builds a block mask on a backend (the generated kernel of codegen/block_mask_source.h): what
// attnjit::build_block_mask (api/) and the tuner's problem cases call.
#pragma once

#include <memory>

#include "attnjit/tensors.h"
#include "runtime/backend.h"

namespace attnjit {

struct BuiltBlockMask {
  BlockMaskView view;
  std::shared_ptr<void> storage;  // the backend buffers behind the view
};

// See include/attnjit/block_mask.h for the arguments. Throws SpecError / SnippetError / BackendError.
BuiltBlockMask build_block_mask_on(Backend& be, const PrefillProblem& problem, const AuxTensor (&aux)[kMaxAux],
                                   int tile, bool per_batch, bool per_head);

}  // namespace attnjit
