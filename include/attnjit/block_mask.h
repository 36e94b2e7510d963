// Building a block mask (attnjit/user_mods.h) from a problem's mask and mask_mod, once per
// shape, with the Runtime's backend: a small generated kernel (NVRTC on GPUs, the clang JIT on
// the CPU) evaluates every (query, key) pair of each (batch, head, query tile) row.
//
//   attnjit::BlockMask bm = attnjit::build_block_mask(*rt, a.problem, a.aux, 128);
//   a.problem.block_sparse = 128;  a.block_mask = bm.view;
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "attnjit/tensors.h"

namespace attnjit {

class Runtime;

// A block mask in the backend's memory (owned: the view is valid while the BlockMask lives).
struct BlockMask {
  BlockMaskView view;
  std::shared_ptr<void> storage;

  // The four arrays copied to the host, in BlockMaskView's layout.
  struct Host {
    std::vector<int32_t> kv_num_blocks, kv_indices, full_kv_num_blocks, full_kv_indices;
  };
  Host to_host(Runtime& rt) const;
};

// problem: its mask, mask_mod, batch, heads_q and lengths (block_sparse is ignored); aux: the
// tensors its mask_mod reads. per_batch / per_head: one mask row set per batch entry / query
// head (else the mask_mod is evaluated at b = 0 / h = 0 and broadcast). tile: 16..128, a power
// of two. Throws SpecError for bad input (or a mask_mod that does not compile: SnippetError),
// BackendError on device failures.
BlockMask build_block_mask(Runtime& rt, const PrefillProblem& problem, const AuxTensor (&aux)[kMaxAux],
                           int tile, bool per_batch = false, bool per_head = false);

}  // namespace attnjit
