#include "codegen/prefill/user_arguments.h"

#include <string>

namespace attnjit {
namespace {

std::string str(int64_t v) { return std::to_string(v); }

void check_counts(const char* name, const int32_t* counts, const int32_t* idx, int64_t rows, int64_t k_tiles) {
  for (int64_t r = 0; r < rows; ++r) {
    if (counts[r] < 0 || counts[r] > k_tiles)
      throw SpecError(std::string("block_mask.") + name + "_num_blocks: entry " + str(r) + " is " +
                      str(counts[r]) + ", must be in 0.." + str(k_tiles));
    for (int32_t i = 0; i < counts[r]; ++i)
      if (idx[r * k_tiles + i] < 0 || idx[r * k_tiles + i] >= k_tiles)
        throw SpecError(std::string("block_mask.") + name + "_indices: row " + str(r) + " entry " +
                        str(i) + " is " + str(idx[r * k_tiles + i]) + ", must be in 0.." + str(k_tiles - 1));
  }
}

}  // namespace

void fill_aux_params(const AuxTensor (&aux)[kMaxAux], UserModParams& out) {
  out = UserModParams{};
  for (int i = 0; i < kMaxAux; ++i) {
    const AuxTensor& t = aux[i];
    const std::string f = "aux[" + std::to_string(i) + "]";
    if (t.size < 0) throw SpecError(f + ".size: must be >= 0, got " + str(t.size));
    if (t.size > 0 && !t.data) throw SpecError(f + ".data: null pointer for " + str(t.size) + " elements");
    if (t.type != AuxType::I32 && t.type != AuxType::F32) throw SpecError(f + ".type: must be i32 or f32");
    if (reinterpret_cast<uintptr_t>(t.data) % 4 != 0) throw SpecError(f + ".data: not aligned to 4 bytes");
    out.aux[i] = t.data;
    out.aux_size[i] = t.size;
  }
}

void fill_user_params(const PrefillArgs& a, Platform platform, UserModParams& out) {
  const PrefillProblem& p = a.problem;
  fill_aux_params(a.aux, out);
  const BlockMaskView& m = a.block_mask;
  if (p.block_sparse == 0) {
    if (m.tile != 0)
      throw SpecError("block_mask: given, but problem.block_sparse is 0 (set it to the mask's tile " +
                      std::to_string(m.tile) + ")");
    return;
  }
  if (m.tile != p.block_sparse)
    throw SpecError("block_mask.tile: must equal problem.block_sparse " + std::to_string(p.block_sparse) +
                    ", got " + std::to_string(m.tile));
  const int64_t t = m.tile;
  const int64_t q_tiles = (p.seqlen_q + t - 1) / t, k_tiles = (p.seqlen_k + t - 1) / t;
  if (m.q_tiles != q_tiles)
    throw SpecError("block_mask.q_tiles: must be ceil(seqlen_q / tile) = " + str(q_tiles) + ", got " + str(m.q_tiles));
  if (m.k_tiles != k_tiles)
    throw SpecError("block_mask.k_tiles: must be ceil(seqlen_k / tile) = " + str(k_tiles) + ", got " + str(m.k_tiles));
  if (m.batch != 1 && m.batch != p.batch)
    throw SpecError("block_mask.batch: must be 1 or batch " + str(p.batch) + ", got " + str(m.batch));
  if (m.heads != 1 && m.heads != p.heads_q)
    throw SpecError("block_mask.heads: must be 1 or heads_q " + str(p.heads_q) + ", got " + str(m.heads));
  const bool empty = p.batch == 0 || p.seqlen_q == 0;
  if (!empty && (!m.kv_num_blocks || !m.kv_indices || !m.full_kv_num_blocks || !m.full_kv_indices))
    throw SpecError("block_mask: kv_num_blocks, kv_indices, full_kv_num_blocks and full_kv_indices are all required");
  if (platform == Platform::Cpu && !empty && k_tiles > 0) {
    const int64_t rows = m.batch * m.heads * q_tiles;
    check_counts("kv", m.kv_num_blocks, m.kv_indices, rows, k_tiles);
    check_counts("full_kv", m.full_kv_num_blocks, m.full_kv_indices, rows, k_tiles);
  }
  out.kv_num_blocks = m.kv_num_blocks;
  out.kv_indices = m.kv_indices;
  out.full_kv_num_blocks = m.full_kv_num_blocks;
  out.full_kv_indices = m.full_kv_indices;
  out.bm_head_stride = m.heads == 1 ? 0 : q_tiles;
  out.bm_batch_stride = m.batch == 1 ? 0 : m.heads * q_tiles;
  out.bm_k_tiles = static_cast<int>(k_tiles);
  out.bm_tile = m.tile;
}

}  // namespace attnjit
