#include "attnjit/block_mask.h"

#include <algorithm>

#include "attnjit/runtime.h"
#include "runtime/block_mask_builder.h"

namespace attnjit {

BlockMask build_block_mask(Runtime& rt, const PrefillProblem& problem, const AuxTensor (&aux)[kMaxAux],
                           int tile, bool per_batch, bool per_head) {
  BuiltBlockMask b = build_block_mask_on(rt.backend(), problem, aux, tile, per_batch, per_head);
  BlockMask out;
  out.view = b.view;
  out.storage = std::move(b.storage);
  return out;
}

BlockMask::Host BlockMask::to_host(Runtime& rt) const {
  Host h;
  const size_t rows = static_cast<size_t>(view.batch * view.heads * view.q_tiles);
  const size_t list = rows * static_cast<size_t>(std::max<int64_t>(view.k_tiles, 1));
  h.kv_num_blocks.resize(rows);
  h.full_kv_num_blocks.resize(rows);
  h.kv_indices.resize(list);
  h.full_kv_indices.resize(list);
  Backend& be = rt.backend();
  be.copy_to_host(h.kv_num_blocks.data(), view.kv_num_blocks, rows * 4);
  be.copy_to_host(h.full_kv_num_blocks.data(), view.full_kv_num_blocks, rows * 4);
  be.copy_to_host(h.kv_indices.data(), view.kv_indices, list * 4);
  be.copy_to_host(h.full_kv_indices.data(), view.full_kv_indices, list * 4);
  return h;
}

}  // namespace attnjit
