#include "runtime/block_mask_builder.h"

#include <algorithm>

#include "codegen/block_mask_source.h"
#include "codegen/prefill/arguments.h"
#include "codegen/prefill/user_arguments.h"
#include "codegen/user_variant.h"
#include "templates/prefill/params.h"

namespace attnjit {
namespace {

struct Storage {
  DeviceBuffer num, idx, full_num, full_idx;
};

}  // namespace

BuiltBlockMask build_block_mask_on(Backend& be, const PrefillProblem& problem, const AuxTensor (&aux)[kMaxAux],
                                   int tile, bool per_batch, bool per_head) {
  validate_block_sparse(tile);
  if (tile == 0) throw SpecError("block_sparse: the block-mask tile must be a power of two in 16..128, got 0");
  PrefillProblem p = problem;
  p.block_sparse = 0;
  validate_prefill_problem(p);
  if (p.batch < 1 || p.seqlen_q < 1) throw SpecError("batch/seqlen_q: an empty problem has no block mask");
  const ProblemSpec spec = prefill_spec(p);  // registers the mask_mod snippet
  BuiltBlockMask out;
  BlockMaskView& v = out.view;
  v.tile = tile;
  v.batch = per_batch ? p.batch : 1;
  v.heads = per_head ? p.heads_q : 1;
  v.q_tiles = (p.seqlen_q + tile - 1) / tile;
  v.k_tiles = (p.seqlen_k + tile - 1) / tile;
  const int64_t rows = v.batch * v.heads * v.q_tiles;
  auto st = std::make_shared<Storage>();
  const size_t list = static_cast<size_t>(rows * std::max<int64_t>(v.k_tiles, 1)) * sizeof(int32_t);
  st->num = DeviceBuffer(be, static_cast<size_t>(rows) * sizeof(int32_t));
  st->idx = DeviceBuffer(be, list);
  st->full_num = DeviceBuffer(be, static_cast<size_t>(rows) * sizeof(int32_t));
  st->full_idx = DeviceBuffer(be, list);
  be.fill_bytes(st->idx.get(), 0, list);  // unused list entries read as tile 0, never garbage
  be.fill_bytes(st->full_idx.get(), 0, list);

  PrefillArgs a;
  a.problem = p;
  for (int i = 0; i < kMaxAux; ++i) a.aux[i] = aux[i];
  BlockMaskBuildParams bp{};
  fill_user_params(a, be.target().platform, bp.user);
  bp.kv_num_blocks = static_cast<int*>(st->num.get());
  bp.kv_indices = static_cast<int*>(st->idx.get());
  bp.full_kv_num_blocks = static_cast<int*>(st->full_num.get());
  bp.full_kv_indices = static_cast<int*>(st->full_idx.get());
  bp.batch = v.batch;
  bp.heads = v.heads;
  bp.q_tiles = v.q_tiles;
  bp.k_tiles = v.k_tiles;
  bp.tile = tile;
  bp.seqlen_q = static_cast<int>(p.seqlen_q);
  bp.seqlen_k = static_cast<int>(p.seqlen_k);

  const KernelSource src = render_block_mask_builder(spec, be.target());
  std::shared_ptr<const CompiledKernel> k;
  try {
    k = be.get_kernel(src);
  } catch (const BackendError& e) {
    throw_if_snippet_error(spec, e.what());
    throw;
  }
  be.launch(*k, block_mask_builder_geometry(be.target(), rows), &bp, sizeof bp);
  be.synchronize();
  v.kv_num_blocks = static_cast<const int32_t*>(st->num.get());
  v.kv_indices = static_cast<const int32_t*>(st->idx.get());
  v.full_kv_num_blocks = static_cast<const int32_t*>(st->full_num.get());
  v.full_kv_indices = static_cast<const int32_t*>(st->full_idx.get());
  out.storage = st;
  return out;
}

}  // namespace attnjit
