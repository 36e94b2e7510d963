// Decode planning shared by the decode templates (GPU and CPU) and the runtime API: how query
// rows are chunked, how many KV splits a call uses, and how much split workspace that needs.
//
// A decode problem has rows = group * q_tokens query rows per (sequence, KV head). A CTA (GPU)
// or work item (CPU) handles block_m of them ("a row chunk") against one split of the KV range.
#pragma once

#include <cstdint>

#include "codegen/kernel_template.h"

namespace attnjit {

// Largest split count the combine supports (templates/decode/sm80.cuh kMaxSplits).
inline constexpr int kDecodeMaxSplits = 128;

// Query rows per (sequence, KV head): group * q_tokens.
int64_t decode_rows(const ProblemSpec& spec);
// ceil(rows / block_m).
int64_t decode_row_chunks(const ProblemSpec& spec, const TileConfig& cfg);
// KV blocks of block_n keys in the longest sequence (at least 1).
int64_t decode_kv_blocks(const TileConfig& cfg, int64_t max_seqlen_k);

// The number of KV splits a call runs with. cfg.splits > 0 is taken as asked (capped at the KV
// block count and kDecodeMaxSplits). cfg.splits == 0 applies the rule: GPUs — enough CTAs for
// about two resident waves over the SMs (FlashAttention-2's wave-efficiency heuristic);
// CPUs — enough work items for every worker thread. Never more splits than KV blocks.
int decode_num_splits(const ProblemSpec& spec, const TileConfig& cfg, const Target& target,
                      const RunShape& shape);

// Split workspace of one call (all zero when splits == 1): partial O and LSE in fp32 and one
// int counter per (sequence, KV head, row chunk). The counters must be 0 before the first call
// that uses them; the kernel leaves them at 0.
struct DecodeWorkspace {
  int64_t partial_o_bytes = 0;
  int64_t partial_lse_bytes = 0;
  int64_t counter_bytes = 0;
};
DecodeWorkspace decode_workspace(const ProblemSpec& spec, const TileConfig& cfg,
                                 const RunShape& shape, int num_splits);

}  // namespace attnjit
