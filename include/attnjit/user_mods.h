// User variants of a prefill or decode call (FlexAttention's score_mod / mask_mod; BlockMask:
// prefill only):
//
//   a.problem.mask_mod = "return aux<int>(0)[q_idx] == aux<int>(0)[kv_idx];";  // document mask
//   a.aux[0] = {doc_ids, attnjit::AuxType::I32, seqlen};
//   attnjit::BlockMask bm = attnjit::build_block_mask(*rt, a.problem, a.aux, 128);  // optional
//   a.problem.block_sparse = 128;  a.block_mask = bm.view();
//   rt->prefill(a);
//
// Snippets are C++ function bodies (see codegen/snippet.h for the exact signatures); they are
// code and run with the caller's rights. The aux tensors and block-mask arrays live in the
// backend's memory (device memory on GPUs).
#pragma once

#include <cstdint>

namespace attnjit {

enum class AuxType { I32, F32 };
inline constexpr int kMaxAux = 4;

// One tensor a snippet reads as aux<int>(i) / aux<float>(i); `size` elements.
struct AuxTensor {
  const void* data = nullptr;
  AuxType type = AuxType::I32;
  int64_t size = 0;
};

// A block mask at tile x tile granularity (FlexAttention's BlockMask, kv_* = partial tiles,
// full_kv_* = fully visible tiles): int32 arrays
//   kv_num_blocks, full_kv_num_blocks  [batch, heads, q_tiles]
//   kv_indices, full_kv_indices        [batch, heads, q_tiles, k_tiles]
// with batch = 1 or the call's batch and heads = 1 or heads_q (1 broadcasts);
// q_tiles = ceil(seqlen_q / tile), k_tiles = ceil(seqlen_k / tile).
struct BlockMaskView {
  int tile = 0;  // 0 = none
  int64_t batch = 1, heads = 1, q_tiles = 0, k_tiles = 0;
  const int32_t* kv_num_blocks = nullptr;
  const int32_t* kv_indices = nullptr;
  const int32_t* full_kv_num_blocks = nullptr;
  const int32_t* full_kv_indices = nullptr;
};

}  // namespace attnjit
