#include "codegen/decode/plan.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace attnjit {
namespace {

// CTAs of the decode kernel an SM holds at once with the default configs (registers bound them:
// ~200 registers x 128 threads), used to size a "wave".
constexpr int kGpuCtasPerSm = 2;
// SM count assumed for a target that does not carry one (a key-only Target::cuda()).
constexpr int kDefaultSmCount = 132;
// A CPU split should stream at least this many keys, or the combine costs more than it gains.
constexpr int64_t kCpuMinKeysPerSplit = 512;

}  // namespace

int64_t decode_rows(const ProblemSpec& spec) { return int64_t(spec.group) * spec.seqlen_q; }

int64_t decode_row_chunks(const ProblemSpec& spec, const TileConfig& cfg) {
  if (cfg.block_m < 1) throw SpecError("block_m: must be >= 1, got " + std::to_string(cfg.block_m));
  return (decode_rows(spec) + cfg.block_m - 1) / cfg.block_m;
}

int64_t decode_kv_blocks(const TileConfig& cfg, int64_t max_seqlen_k) {
  if (cfg.block_n < 1) throw SpecError("block_n: must be >= 1, got " + std::to_string(cfg.block_n));
  return std::max<int64_t>(1, (max_seqlen_k + cfg.block_n - 1) / cfg.block_n);
}

int decode_num_splits(const ProblemSpec& spec, const TileConfig& cfg, const Target& target,
                      const RunShape& shape) {
  if (shape.batch < 0 || shape.heads_kv < 1 || shape.seqlen_k < 0)
    throw SpecError("shape: batch >= 0, heads_kv >= 1 and seqlen_k >= 0 required");
  if (cfg.splits < 0) throw SpecError("splits: must be >= 0, got " + std::to_string(cfg.splits));
  const int64_t blocks = decode_kv_blocks(cfg, shape.seqlen_k);
  const int64_t cap = std::min<int64_t>(blocks, kDecodeMaxSplits);
  if (cfg.splits > 0) return static_cast<int>(std::min<int64_t>(cfg.splits, cap));

  const int64_t units = std::max<int64_t>(1, shape.batch * shape.heads_kv * decode_row_chunks(spec, cfg));
  if (target.platform == Platform::Cpu) {
    const int64_t threads = cfg.threads > 0 ? cfg.threads : std::max(1, target.sm_count);
    if (units >= threads) return 1;
    const int64_t by_len = std::max<int64_t>(1, shape.seqlen_k / kCpuMinKeysPerSplit);
    return static_cast<int>(std::clamp<int64_t>((threads + units - 1) / units, 1, std::min(cap, by_len)));
  }
  // GPU: FlashAttention-2's num_splits_heuristic over "slots" of kGpuCtasPerSm CTAs per SM.
  const int64_t slots = int64_t(target.sm_count > 0 ? target.sm_count : kDefaultSmCount) * kGpuCtasPerSm;
  if (units * 10 >= slots * 8) return 1;  // already >= 80% of a full wave
  const int64_t max_splits = std::min<int64_t>(cap, (slots + units - 1) / units * 2);
  auto efficiency = [&](int64_t s) {
    const double waves = double(units * s) / double(slots);
    return waves / std::ceil(waves);
  };
  double best = 0;
  for (int64_t s = 1; s <= max_splits; ++s) best = std::max(best, efficiency(s));
  for (int64_t s = 1; s <= max_splits; ++s)
    if (efficiency(s) >= 0.85 * best) return static_cast<int>(s);
  return 1;
}

DecodeWorkspace decode_workspace(const ProblemSpec& spec, const TileConfig& cfg,
                                 const RunShape& shape, int num_splits) {
  if (num_splits < 1 || num_splits > kDecodeMaxSplits)
    throw SpecError("num_splits: must be in 1.." + std::to_string(kDecodeMaxSplits) + ", got " +
                    std::to_string(num_splits));
  DecodeWorkspace w;
  if (num_splits == 1) return w;
  const int64_t slots = shape.batch * shape.heads_kv * decode_row_chunks(spec, cfg);
  const int64_t rows = int64_t(num_splits) * cfg.block_m;
  w.partial_o_bytes = slots * rows * spec.head_dim * 4;
  w.partial_lse_bytes = slots * rows * 4;
  w.counter_bytes = slots * 4;
  return w;
}

}  // namespace attnjit
