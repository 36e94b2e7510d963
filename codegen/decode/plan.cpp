#include "codegen/decode/plan.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace attnjit {
namespace {

// Registers per thread of a decode kernel, a little above what NVRTC 13 / ptxas report for
// sm_90a (`attnjit compile`): scalar 48 / 64 / 122 / 224 at 1 / 2 / 4 / 8 rows (56 at head
// dim 256, 1 row); tensor cores 96 / 166 / 248 at head dims 64 / 128 / 256 (block_n 16; 172 at
// 32). A fixed 192 made the scalar kernel's residency 2 CTAs per SM where it is 6 (shared
// memory), so its split counts filled a third of the GPU's slots.
int gpu_regs_per_thread(bool tensor_cores, int block_m, int head_dim, int block_n) {
  const int r = tensor_cores ? head_dim + 40 + block_n : 32 + 24 * block_m;
  return std::min(255, (r + 7) / 8 * 8);
}
constexpr int kGpuMaxWarpsPerSm = 64;
constexpr int kGpuMaxCtasPerSm = 32;
constexpr int64_t kDefaultSmemPerSm = 228 * 1024;
constexpr int kMaxSplitsPerCombine = 128;  // = kDecodeMaxSplits (sm80.cuh kMaxSplits)
// A CPU split should stream at least this many keys, or the combine costs more than it gains.
constexpr int64_t kCpuMinKeysPerSplit = 512;
// Work items per thread the CPU rule aims for when sequences x head groups are too few: the pool
// hands items out dynamically, so a thread slowed by another process (cores shared) takes fewer
// and the launch does not wait on it; with one item per thread it would.
constexpr int64_t kCpuItemsPerThread = 4;

}  // namespace

int decode_mma_block_n(int head_dim, int64_t kv_bytes) { return kv_bytes == 1 && head_dim <= 128 ? 32 : 16; }

int64_t decode_rows(const ProblemSpec& spec) { return int64_t(spec.group) * spec.seqlen_q; }

int64_t decode_row_chunks(const ProblemSpec& spec, const TileConfig& cfg) {
  if (cfg.block_m < 1) throw SpecError("block_m: must be >= 1, got " + std::to_string(cfg.block_m));
  return (decode_rows(spec) + cfg.block_m - 1) / cfg.block_m;
}

int64_t decode_cpu_heads_per_item(const ProblemSpec& spec, const TileConfig& cfg) {
  const int64_t per_head = std::max<int64_t>(1, int64_t(cfg.block_m) * spec.head_dim);
  return std::clamp<int64_t>(8192 / per_head, 1, 64);
}

int64_t decode_kv_blocks(const TileConfig& cfg, int64_t max_seqlen_k) {
  if (cfg.block_n < 1) throw SpecError("block_n: must be >= 1, got " + std::to_string(cfg.block_n));
  return std::max<int64_t>(1, (max_seqlen_k + cfg.block_n - 1) / cfg.block_n);
}

double decode_split_cost(const DecodeSplitCostInput& in, int64_t splits) {
  const int64_t ctas = in.units * splits;
  const int64_t waves = (ctas + in.slots - 1) / in.slots;
  // The busiest slot's CTAs stream their keys one after another; each CTA also pays the
  // pipeline's fill and, split, the write of its partials.
  const int64_t keys = (in.blocks + splits - 1) / splits * in.block_n;
  const double per_cta = double(keys * in.key_bytes) + kDecodeCtaFixedBytes +
                         (splits > 1 ? double(in.partial_bytes) : 0.0);
  // The last CTA of a slot reads every split's partials from L2 before the launch ends.
  const double combine = splits > 1 ? kDecodeCombineCost * double(splits * in.partial_bytes) : 0.0;
  return double(waves) * per_cta + combine;
}

DecodeGpuPlan decode_gpu_plan(const DecodeGpuPlanInput& in) {
  if (in.batch < 1 || in.heads_kv < 1 || in.group < 1 || in.q_tokens < 1 || in.seqlen_k < 0)
    throw SpecError("shape: batch, heads_kv, group and q_tokens >= 1 and seqlen_k >= 0 required");
  DecodeGpuPlan p;
  const int64_t rows = in.group * in.q_tokens;
  const bool mma_dim = in.head_dim == 64 || in.head_dim == 128 || in.head_dim == 256;
  // Kernel: tensor cores from 8 rows (8 rows of scalar FMAs and shuffles per key are
  // instruction-bound), and always for an fp8 cache (its operands are converted in registers).
  p.tensor_cores = in.block_m > 0 ? in.block_m == kDecodeMmaRows : mma_dim && (rows >= 8 || in.kv_bytes == 1);
  if (p.tensor_cores) {
    p.block_m = kDecodeMmaRows;
    p.block_n = in.block_n > 0 ? in.block_n : decode_mma_block_n(in.head_dim, in.kv_bytes);
    p.warps = in.warps > 0 ? in.warps : (in.head_dim == 256 ? 2 : 4);
    p.stages = in.stages > 0 ? in.stages : 3;
  } else {
    int bm = 1;
    while (bm < rows && bm < 8) bm *= 2;
    p.block_m = in.block_m > 0 ? in.block_m : bm;
    p.warps = in.warps > 0 ? in.warps : 4;
    p.block_n = in.block_n > 0 ? in.block_n : std::min(64, p.warps * (32 / (in.head_dim / 8)) * 2);
    p.stages = in.stages > 0 ? in.stages : 4;
  }
  // Residency: shared memory (rings, or the merge buffer), warps, registers.
  const int64_t kvb = in.kv_bytes;
  const int64_t ring = p.tensor_cores
                           ? p.warps * 2LL * p.stages * p.block_n * in.head_dim * kvb
                           : 2LL * p.stages * p.block_n * in.head_dim * kvb;
  const int64_t smem = std::max(ring, int64_t(p.warps) * p.block_m * in.head_dim * 4) +
                       (2LL * p.warps * p.block_m + int64_t(p.block_m) * kDecodeMaxSplits + 1) * 4;
  const int64_t per_sm = in.smem_per_sm > 0 ? in.smem_per_sm : kDefaultSmemPerSm;
  // sm_80 / sm_90 reserve 1 KiB of shared memory per resident CTA.
  const int by_smem = static_cast<int>(std::max<int64_t>(1, per_sm / (smem + 1024)));
  const int by_warps = kGpuMaxWarpsPerSm / p.warps;
  const int by_regs = 65536 / (p.warps * 32 * gpu_regs_per_thread(p.tensor_cores, p.block_m, in.head_dim, p.block_n));
  p.ctas_per_sm = std::max(1, std::min({by_smem, by_warps, by_regs, kGpuMaxCtasPerSm}));
  // Splits: the count with the least modelled time (decode_split_cost), ties to fewer splits;
  // never a split shorter than kDecodeMinKeysPerSplit keys, nor more than the combine takes.
  const int64_t units = in.batch * in.heads_kv * ((rows + p.block_m - 1) / p.block_m);
  const int64_t slots = int64_t(in.sm_count > 0 ? in.sm_count : kDecodeDefaultSmCount) * p.ctas_per_sm;
  // The kernels deal a split whole blocks: block_n keys (tensor cores: per warp, dealt to the
  // warps round-robin, so block_n is also the split granule there).
  const int64_t blocks = std::max<int64_t>(1, (in.seqlen_k + p.block_n - 1) / p.block_n);
  const int64_t cap = std::min<int64_t>({kMaxSplitsPerCombine, blocks,
                                         std::max<int64_t>(1, in.seqlen_k / kDecodeMinKeysPerSplit)});
  DecodeSplitCostInput cin;
  cin.units = units;
  cin.slots = slots;
  cin.blocks = blocks;
  cin.block_n = p.block_n;
  cin.key_bytes = 2LL * in.head_dim * in.kv_bytes;
  cin.partial_bytes = std::min<int64_t>(rows, p.block_m) * in.head_dim * 4;
  int64_t splits = 1;
  if (in.splits > 0) {
    splits = std::min<int64_t>(in.splits, std::min<int64_t>(kMaxSplitsPerCombine, blocks));
  } else if (units < slots) {  // a wave or more without splits: split nothing, combine nothing
    // At most one wave: all CTAs start together and stream equal shares, so none waits on a
    // tail; more waves only add pipeline fills and partials (and a wave's last, partly empty
    // round: the old two-wave rule ran batch 8 x 32k GQA 8 in 2.06 waves, 0.79x the ceiling).
    const int64_t most = std::min<int64_t>(cap, std::max<int64_t>(1, slots / units));
    double best = decode_split_cost(cin, 1);
    for (int64_t s = 2; s <= most; ++s) {
      const double c = decode_split_cost(cin, s);
      if (c < best * (1.0 - 1e-9)) {
        best = c;
        splits = s;
      }
    }
  }
  p.splits = static_cast<int>(splits);
  p.ctas = units * splits;
  p.waves = double(p.ctas) / double(slots);
  return p;
}

int decode_num_splits(const ProblemSpec& spec, const TileConfig& cfg, const Target& target,
                      const RunShape& shape) {
  if (shape.batch < 0 || shape.heads_kv < 1 || shape.seqlen_k < 0)
    throw SpecError("shape: batch >= 0, heads_kv >= 1 and seqlen_k >= 0 required");
  if (cfg.splits < 0) throw SpecError("splits: must be >= 0, got " + std::to_string(cfg.splits));
  const int64_t blocks = decode_kv_blocks(cfg, shape.seqlen_k);
  const int64_t cap = std::min<int64_t>(blocks, kDecodeMaxSplits);
  if (cfg.splits > 0) return static_cast<int>(std::min<int64_t>(cfg.splits, cap));

  if (target.platform == Platform::Cpu) {
    // A CPU work item holds a group of KV heads: split the length when groups are too few.
    const int64_t per = decode_cpu_heads_per_item(spec, cfg);
    const int64_t items = std::max<int64_t>(1, shape.batch * ((shape.heads_kv + per - 1) / per) *
                                                   decode_row_chunks(spec, cfg));
    const int64_t threads = cfg.threads > 0 ? cfg.threads : std::max(1, target.sm_count);
    const int64_t want = kCpuItemsPerThread * threads;
    if (items >= want) return 1;
    const int64_t by_len = std::max<int64_t>(1, shape.seqlen_k / kCpuMinKeysPerSplit);
    return static_cast<int>(std::clamp<int64_t>((want + items - 1) / items, 1, std::min(cap, by_len)));
  }
  // GPU: the plan for this config and run shape (its kernel and CTA shape are the config's).
  DecodeGpuPlanInput in = decode_gpu_plan_input(spec, cfg, target);
  in.batch = std::max<int64_t>(1, shape.batch);
  in.heads_kv = shape.heads_kv;
  in.seqlen_k = shape.seqlen_k;
  return static_cast<int>(std::min<int64_t>(decode_gpu_plan(in).splits, cap));
}

DecodeGpuPlanInput decode_gpu_plan_input(const ProblemSpec& spec, const TileConfig& cfg, const Target& target) {
  DecodeGpuPlanInput in;
  in.group = spec.group;
  in.q_tokens = spec.seqlen_q;
  in.head_dim = spec.head_dim;
  in.kv_bytes = kv_dtype_bytes(spec.dtype, spec.kv_dtype);
  in.sm_count = target.sm_count;
  in.smem_per_sm = target.smem_per_sm;
  in.block_m = cfg.block_m;
  in.block_n = cfg.block_n;
  in.warps = cfg.warps;
  in.stages = cfg.stages;
  return in;
}

int decode_combine_group(const ProblemSpec& spec, const TileConfig& cfg, const Target& target, int num_splits) {
  // The tensor-core kernel only (templates/decode/sm80.cuh finish_cta).
  if (target.platform == Platform::Cpu || cfg.block_m != kDecodeMmaRows || num_splits < kDecodeTreeMinSplits) return 0;
  // The combine's outputs (real rows x head_dim / 4 float4s) over the CTA's threads.
  const int64_t rows = std::min<int64_t>(decode_rows(spec), std::max(1, cfg.block_m));
  const int64_t items = rows * (spec.head_dim / 4);
  const int64_t threads = int64_t(std::max(1, cfg.warps)) * 32;
  const int64_t loads = items >= threads ? (items + threads - 1) / threads * num_splits
                                         : (num_splits + threads / items - 1) / (threads / items);
  if (loads <= kDecodeFlatCombineMaxLoads) return 0;
  int group = 1;
  while (group * group < num_splits) ++group;
  return group;
}

DecodeWorkspace decode_workspace(const ProblemSpec& spec, const TileConfig& cfg,
                                 const RunShape& shape, int num_splits, int combine_group) {
  if (num_splits < 1 || num_splits > kDecodeMaxSplits)
    throw SpecError("num_splits: must be in 1.." + std::to_string(kDecodeMaxSplits) + ", got " +
                    std::to_string(num_splits));
  if (combine_group < 0) throw SpecError("combine_group: must be >= 0, got " + std::to_string(combine_group));
  DecodeWorkspace w;
  if (num_splits == 1) return w;
  // The scalar kernel combines in one level whatever it is given.
  const int64_t groups = combine_group > 0 && combine_group < num_splits && cfg.block_m == kDecodeMmaRows
                             ? (num_splits + combine_group - 1) / combine_group
                             : 0;
  w.combine_group = groups > 0 ? combine_group : 0;
  const int64_t slots = shape.batch * shape.heads_kv * decode_row_chunks(spec, cfg);
  const int64_t rows = (num_splits + groups) * cfg.block_m;
  w.partial_o_bytes = slots * rows * spec.head_dim * 4;
  w.partial_lse_bytes = slots * rows * 4;
  w.counter_bytes = slots * (1 + groups) * 4;
  return w;
}

}  // namespace attnjit
