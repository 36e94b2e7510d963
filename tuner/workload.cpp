#include "tuner/workload.h"

#include <algorithm>
#include <numeric>
#include <string>

namespace attnjit::tuner {

namespace {

int64_t bucket_length(int64_t bucket, bool even) {
  if (even) return bucket;
  return bucket > 16 ? bucket - 1 : bucket;  // still in the bucket, not a tile multiple
}

int64_t heads_for(const ProblemSpec& spec, int64_t hidden) {
  int64_t h = std::max<int64_t>(1, hidden / spec.head_dim);
  if (h < spec.group) h = spec.group;
  return h - h % spec.group;  // a multiple of the group
}

}  // namespace

RunShape tuning_shape(const ProblemSpec& spec, Platform platform) {
  spec.validate();
  const bool gpu = platform == Platform::Cuda;
  RunShape s;
  s.heads_q = heads_for(spec, gpu ? 2048 : 256);
  s.heads_kv = s.heads_q / spec.group;
  if (spec.family == Family::Prefill) {
    if (spec.even && (spec.seqlen_q < kEvenAlignment || spec.seqlen_k < kEvenAlignment))
      throw SpecError("even: '" + spec.key() + "' has a length bucket below " +
                      std::to_string(kEvenAlignment) + ", so no real length can be even");
    s.seqlen_q = bucket_length(spec.seqlen_q, spec.even);
    s.seqlen_k = bucket_length(spec.seqlen_k, spec.even);
    const int64_t tokens = gpu ? 16384 : 2048;
    s.batch = std::max<int64_t>(1, tokens / s.seqlen_q);
    if (spec.varlen) {
      s.batch = std::max<int64_t>(6, s.batch);
      const auto lens = mixed_lengths(s.batch, s.seqlen_q);
      s.total_q = std::accumulate(lens.begin(), lens.end(), int64_t{0});
    }
  } else {
    // Decode: q tokens exact, every sequence exactly the bucket long. GPUs: a Llama-style
    // 4096-wide model (32 heads at hd 128) and 64k cached tokens in all (batch 16 at 4k, 2 at
    // 32k, 1 at 128k — memory-bound at every length, within a few GiB); CPUs: batch 2.
    s.heads_q = heads_for(spec, gpu ? 4096 : 256);
    s.heads_kv = s.heads_q / spec.group;
    s.seqlen_q = spec.seqlen_q;
    s.seqlen_k = spec.seqlen_k;
    s.batch = gpu ? std::max<int64_t>(1, 65536 / spec.seqlen_k) : 2;
  }
  return s;
}

std::vector<int64_t> reduced_seqlens(const ProblemSpec& spec, const RunShape& shape) {
  if (spec.family != Family::Decode) return {};
  // The longest, one that ends inside a page / tile (517), and one shorter than a 64-key
  // block, so bounds, empty splits and a partial last page all run.
  std::vector<int64_t> out(static_cast<size_t>(shape.batch), shape.seqlen_k);
  const int64_t others[] = {std::min<int64_t>(517, shape.seqlen_k), std::min<int64_t>(40, shape.seqlen_k)};
  for (size_t b = 1; b < out.size(); ++b) out[b] = others[(b - 1) % 2];
  return out;
}

std::vector<int64_t> mixed_lengths(int64_t batch, int64_t max_len) {
  std::vector<int64_t> out;
  const int64_t pattern[] = {max_len / 4 + 1, max_len * 3 / 4, 1, std::max<int64_t>(0, max_len / 2 - 1), 0};
  for (int64_t b = 0; b < batch; ++b) out.push_back(b == 0 ? max_len : std::min(max_len, pattern[(b - 1) % 5]));
  return out;
}

std::vector<int64_t> case_seqlens_q(const ProblemSpec& spec, const RunShape& shape) {
  if (spec.varlen) return mixed_lengths(shape.batch, shape.seqlen_q);
  return std::vector<int64_t>(static_cast<size_t>(shape.batch), shape.seqlen_q);
}

std::vector<int64_t> case_seqlens_k(const ProblemSpec& spec, const RunShape& shape,
                                    const std::vector<int64_t>& seqlens_q, bool reduced) {
  std::vector<int64_t> out(static_cast<size_t>(shape.batch), shape.seqlen_k);
  if (spec.varlen) {
    for (size_t b = 0; b < out.size(); ++b)
      out[b] = std::clamp<int64_t>(seqlens_q[b] + shape.seqlen_k - shape.seqlen_q, 0, shape.seqlen_k);
  } else if (spec.page_size != 0 && reduced) {
    const int64_t others[] = {shape.seqlen_k * 2 / 3, shape.seqlen_q / 2};
    for (size_t b = 1; b < out.size(); ++b) out[b] = std::min(shape.seqlen_k, others[(b - 1) % 2]);
  }
  return out;
}

RunShape reduced_shape(const ProblemSpec& spec) {
  spec.validate();
  RunShape s;
  s.batch = 2;
  s.heads_kv = 2;
  s.heads_q = 2 * spec.group;
  if (spec.family == Family::Prefill) {
    s.seqlen_q = spec.even ? 256 : 150;
    s.seqlen_k = spec.even ? 256 : 250;
    if (spec.varlen) {  // six sequences of mixed lengths, one empty
      s.batch = 6;
      const auto lens = mixed_lengths(s.batch, s.seqlen_q);
      s.total_q = std::accumulate(lens.begin(), lens.end(), int64_t{0});
    } else if (spec.page_size != 0) {
      s.batch = 3;  // ragged cache lengths (case_seqlens_k)
    }
  } else {
    // Three sequences (ragged lengths, reduced_seqlens) of up to 1000 keys: 32 blocks of 32,
    // so split counts up to 32 really split, while the float64 reference stays instant.
    s.batch = 3;
    s.seqlen_q = spec.seqlen_q;
    s.seqlen_k = 1000;
  }
  return s;
}

double visible_pairs(const ProblemSpec& spec, int64_t sq, int64_t sk) {
  const double full = static_cast<double>(sq) * static_cast<double>(sk);
  switch (spec.mask.kind) {
    case MaskKind::None: return full;
    case MaskKind::Causal: return full / 2;  // the bench's convention, not the exact count
    case MaskKind::SlidingWindow: {
      double n = 0;
      for (int64_t i = 0; i < sq; ++i) {
        const int64_t p = i + sk - sq;
        const int64_t lo = std::max<int64_t>(0, p - spec.mask.window_left);
        const int64_t hi = std::min<int64_t>(sk - 1, p + spec.mask.window_right);
        if (hi >= lo) n += static_cast<double>(hi - lo + 1);
      }
      return n;
    }
  }
  return full;
}

double prefill_flops(const ProblemSpec& spec, const RunShape& s) {
  if (spec.varlen || spec.page_size != 0) {  // per sequence
    const auto sq = case_seqlens_q(spec, s), sk = case_seqlens_k(spec, s, sq, false);
    double pairs = 0;
    for (size_t b = 0; b < sq.size(); ++b) pairs += visible_pairs(spec, sq[b], sk[b]);
    return 4.0 * static_cast<double>(s.heads_q) * spec.head_dim * pairs;
  }
  return 4.0 * static_cast<double>(s.batch) * static_cast<double>(s.heads_q) * spec.head_dim *
         visible_pairs(spec, s.seqlen_q, s.seqlen_k);
}

double decode_kv_bytes(const ProblemSpec& spec, const RunShape& s) {
  return 2.0 * static_cast<double>(s.batch) * static_cast<double>(s.heads_kv) *
         static_cast<double>(s.seqlen_k) * spec.head_dim * kv_dtype_bytes(spec.dtype, spec.kv_dtype);
}

}  // namespace attnjit::tuner
