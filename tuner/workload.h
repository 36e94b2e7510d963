// The concrete shapes the tuner runs for a problem key, and how work is counted.
//
// A key holds length buckets; tuning needs real sizes. For a prefill key with buckets (Q, K):
//   lengths  — even keys: exactly Q and K (multiples of 128); others: Q-1 and K-1, so the
//              lengths sit in the same buckets but are not tile multiples (bounds checks run).
//   GPU      — the FlashAttention benchmark grid (bench/ANCHORS): 16k tokens in total
//              (batch = max(1, 16384 / Q)), hidden 2048 (heads_q = 2048 / head_dim), so a tuned
//              kernel's TFLOP/s compares with the anchors directly and every SM is busy.
//   CPU      — 2k tokens, hidden 256 (heads_q = max(1, 256 / head_dim)), i.e. a few GFLOP per
//              call: long enough to time with a steady clock, short enough to tune in seconds.
//   heads_kv = heads_q / group (heads_q is raised to the group size if smaller).
// Decode keys (q tokens Q, bucket K, page size P from the key): Q query tokens per sequence,
// every sequence exactly K keys (decode kernels have no tile-multiple fast path, and the bucket
// is the length a tuned config serves best), the key's page layout. GPU: heads_q = 4096 /
// head_dim (a Llama-style model), batch = max(1, 65536 / K) (64k cached tokens: every length
// stays memory-bound and fits a few GiB); CPU: heads_q as above, batch 2.
//
// The reduced shape is the correctness gate's: same spec, small lengths that cut the largest
// tile (128) in half and wrap a 2-stage pipeline — 256 x 256 for even keys, 150 x 250 otherwise
// (so, under a causal mask, the first rows of a non-even problem see keys from two tiles) —
// batch 2, two KV heads. Decode: three sequences, two KV heads, Q query tokens, ragged KV
// lengths 1000 / 517 / 40 (reduced_seqlens), paged like the key (pages dealt out shuffled).
#pragma once

#include <vector>

#include "codegen/kernel_template.h"
#include "codegen/problem_spec.h"

namespace attnjit::tuner {

// Throws SpecError if the key cannot be run (e.g. "_even" with a bucket below 128).
RunShape tuning_shape(const ProblemSpec& spec, Platform platform);
RunShape reduced_shape(const ProblemSpec& spec);
// Per-sequence KV lengths of the reduced problem: ragged for decode, empty (all seqlen_k) for prefill.
std::vector<int64_t> reduced_seqlens(const ProblemSpec& spec, const RunShape& shape);

// Varlen prefill (_varlen keys): the tuner's mixed query lengths for `batch` sequences of at most
// max_len — the first max_len, then max_len/4+1, 3/4, 1 token, max_len/2-1 and an empty one,
// cycling (tuning_shape / reduced_shape set total_q to their sum; at least 6 sequences).
std::vector<int64_t> mixed_lengths(int64_t batch, int64_t max_len);
// Per-sequence query lengths of a prefill case: mixed for varlen keys, else all seqlen_q.
std::vector<int64_t> case_seqlens_q(const ProblemSpec& spec, const RunShape& shape);
// Per-sequence KV lengths of a prefill case. Varlen: each sequence's query count plus
// seqlen_k - seqlen_q (clamped to 0..seqlen_k), so the longest has seqlen_k keys. Paged dense
// queries: all seqlen_k, or for the gate (`reduced`) ragged — seqlen_k, 2/3 of it, and half the
// query count (rows with no visible key under a causal mask).
std::vector<int64_t> case_seqlens_k(const ProblemSpec& spec, const RunShape& shape,
                                    const std::vector<int64_t>& seqlens_q, bool reduced);

// Query-key pairs a kernel must compute under the mask (what FLOPs are counted over), for one
// (batch, head): Sq·Sk for none, about half for causal (exact count of visible pairs otherwise).
double visible_pairs(const ProblemSpec& spec, int64_t seqlen_q, int64_t seqlen_k);
// Prefill: 4·B·H·D·(visible pairs) — the bench's convention (4·B·H·S·S·D, halved for causal).
double prefill_flops(const ProblemSpec& spec, const RunShape& shape);
// Decode: bytes of K and V read.
double decode_kv_bytes(const ProblemSpec& spec, const RunShape& shape);

}  // namespace attnjit::tuner
