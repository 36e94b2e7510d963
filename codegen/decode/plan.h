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
// Keys per warp per stage of the tensor-core kernel by default: 16, or 32 with an fp8 cache
// (head dim <= 128; 256 has no registers for it), so its half-size K/V rows keep 16-bit K/V's
// bytes in flight per stage and the per-step work (softmax, addresses) is spread over twice
// the keys.
int decode_mma_block_n(int head_dim, int64_t kv_bytes);
// ceil(rows / block_m).
int64_t decode_row_chunks(const ProblemSpec& spec, const TileConfig& cfg);
// KV blocks of block_n keys in the longest sequence (at least 1).
int64_t decode_kv_blocks(const TileConfig& cfg, int64_t max_seqlen_k);

// CPU decode: KV heads one work item handles together (templates/decode_cpu.h reads whole K/V
// rows across them, in address order): as many as keep its query and output rows near 64 KiB.
int64_t decode_cpu_heads_per_item(const ProblemSpec& spec, const TileConfig& cfg);

// The GPU decode plan for one run shape: which kernel, how many warps a CTA has, how many
// CTAs an SM holds, and how many KV splits — the one decision both default_config (kernel,
// warps) and the launch (splits) take from. Pure: the inputs are numbers, so it is unit-tested
// over the serving grid (batch 1..64, group 1..8, 4k..128k, 132 SMs).
struct DecodeGpuPlanInput {
  int64_t batch = 1, heads_kv = 1, group = 1, q_tokens = 1;
  int64_t seqlen_k = 0;   // the longest sequence
  int head_dim = 128;
  int kv_bytes = 2;       // bytes per K/V element (1: fp8)
  int sm_count = 0;       // 0: kDecodeDefaultSmCount
  int64_t smem_per_sm = 0;     // 0: 228 KiB (sm_90)
  // Fixed by the caller (the tuner's config) when > 0; else chosen here.
  int block_m = 0, block_n = 0, warps = 0, stages = 0, splits = 0;
};
struct DecodeGpuPlan {
  bool tensor_cores = false;  // block_m 16: templates/decode/mma_sm80.cuh
  int block_m = 1, block_n = 16, warps = 4, stages = 4;
  int ctas_per_sm = 1;        // resident CTAs per SM (shared memory, warps, registers)
  int splits = 1;
  int64_t ctas = 0;           // grid size: batch * heads_kv * row_chunks * splits
  double waves = 0;           // ctas / (sm_count * ctas_per_sm)
};
inline constexpr int kDecodeDefaultSmCount = 132;
// block_m of the tensor-core kernel (templates/decode/mma_sm80.cuh); the scalar kernel takes 1-8.
inline constexpr int kDecodeMmaRows = 16;
// Splits stop at this many keys each, and at kDecodeMaxSplits.
inline constexpr int64_t kDecodeMinKeysPerSplit = 256;

// The split count: with fewer (sequence, KV head, row chunk) units than resident CTA slots
// (SMs x CTAs per SM), the count of least decode_split_cost among those that keep the grid
// within one wave (units * splits <= slots); else 1. The cost is in units of the bytes one slot
// streams at its share of the memory bandwidth (the kernels are memory-bound at the default CTA
// shapes): ceil(units * s / slots) waves of CTAs, each streaming ceil(blocks / s) blocks of keys
// plus a fixed cost, then the last CTA of each slot reading all s partials. Measured on the H200
// at f309fac, the old rule (two waves, rounded up) ran batch 8 x 32k GQA 8 in 17 splits = 2.06
// waves (0.79x the copy ceiling) and batch-1 GQA 8 in 128 splits (63 us at 32k where its K/V
// takes 16 us at the ceiling; 0.60x at 128k) — most of the excess, by reading the code, the
// combine's 256 dependent L2 round trips per thread (templates/decode/sm80.cuh combine_splits).
struct DecodeSplitCostInput {
  int64_t units = 1;          // sequences x KV heads x row chunks
  int64_t slots = 1;          // SMs x resident CTAs per SM
  int64_t blocks = 1;         // KV blocks of block_n keys in the longest sequence
  int64_t block_n = 16;
  int64_t key_bytes = 512;    // K + V bytes of one key (2 * head_dim * bytes per element)
  int64_t partial_bytes = 0;  // fp32 partial O bytes of one CTA (real rows x head_dim x 4)
};
// Pipeline fill and epilogue of one CTA, as bytes it could have streamed (~1 us at a slot's share).
inline constexpr double kDecodeCtaFixedBytes = 16 * 1024;
// The combine's cost per partial byte, relative to a streamed K/V byte (one CTA reading L2 with
// 8 loads in flight per thread, about 6x a slot's share of DRAM bandwidth). It prices the
// one-level combine; where decode_combine_group picks two levels it overestimates the tail, so
// the rule may stop at fewer splits there than a model of two levels would (batch-1 GQA 8 takes
// the most one wave allows either way). Not recalibrated: that needs a GPU.
inline constexpr double kDecodeCombineCost = 0.15;
double decode_split_cost(const DecodeSplitCostInput& in, int64_t splits);

DecodeGpuPlan decode_gpu_plan(const DecodeGpuPlanInput& in);
// The plan's inputs that a problem, a config and a target fix (the run shape's are left at 1 / 0).
DecodeGpuPlanInput decode_gpu_plan_input(const ProblemSpec& spec, const TileConfig& cfg, const Target& target);

// The number of KV splits a call runs with. cfg.splits > 0 is taken as asked (capped at the KV
// block count and kDecodeMaxSplits). cfg.splits == 0 applies the rule: GPUs — decode_gpu_plan's
// (the least decode_split_cost, bounded by kDecodeMinKeysPerSplit);
// CPUs — enough work items for every worker thread. Never more splits than KV blocks.
int decode_num_splits(const ProblemSpec& spec, const TileConfig& cfg, const Target& target,
                      const RunShape& shape);

// The GPU kernels' two-level combine (templates/decode/sm80.cuh finish_cta): splits per
// first-level group, or 0 for one level. The combine runs in one CTA at the launch's tail, so
// its cost is the L2 round trips of its busiest thread; one level costs about num_splits x
// (outputs per thread) 16-byte loads there, two levels about (group + groups) x that plus one
// more fence and atomic. Two levels from kDecodeTreeMinSplits splits when one level would issue
// more than kDecodeFlatCombineMaxLoads loads per thread (batch-1 GQA 8: 66 splits of 8 rows x
// 128 on 128 threads, 132 loads); then group = ceil(sqrt(num_splits)). The tensor-core kernel
// (block_m 16) only: the scalar kernel and CPUs always get 0.
inline constexpr int kDecodeTreeMinSplits = 16;
inline constexpr int kDecodeFlatCombineMaxLoads = 32;
int decode_combine_group(const ProblemSpec& spec, const TileConfig& cfg, const Target& target, int num_splits);

// Split workspace of one call (all zero when splits == 1): partial O and LSE in fp32 for every
// split and, with a two-level combine (combine_group > 0), every group; one int counter per
// (sequence, KV head, row chunk) and, with two levels, one per group (templates/decode/params.h
// has the layout). The counters must be 0 before the first call that uses them; the kernel
// leaves them at 0.
struct DecodeWorkspace {
  int64_t partial_o_bytes = 0;
  int64_t partial_lse_bytes = 0;
  int64_t counter_bytes = 0;
  int combine_group = 0;  // what the layout assumes (DecodeParams::combine_group; 0 below block_m 16)
};
DecodeWorkspace decode_workspace(const ProblemSpec& spec, const TileConfig& cfg,
                                 const RunShape& shape, int num_splits, int combine_group = 0);

}  // namespace attnjit
