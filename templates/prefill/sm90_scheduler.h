// Tile order of the persistent sm90 prefill kernel (templates/prefill/sm90.cuh): a grid of about
// one block per SM walks the (query tile, batch * head) space with a stride of gridDim.x.
//
// The order is FlashAttention-3's: the (batch, head) pairs are cut into L2 sections of `swizzle`
// consecutive pairs (consecutive query heads share a GQA KV head; a section's K and V fit in
// L2), and inside a section query tiles go longest first for causal masks (the bottom tiles see
// the most keys, so the short ones fill the tail) — a longest-processing-time-first order.
//
// Include-free and plain C++ (host and device): the host sizes the sections and the scheduler
// unit test walks exactly the kernel's order.
#pragma once

#ifndef ATTNJIT_SCHED_HD
#if defined(__CUDACC_RTC__) || defined(__CUDACC__) || defined(__forceinline__)
#define ATTNJIT_SCHED_HD __device__ __forceinline__
#else
#define ATTNJIT_SCHED_HD inline
#endif
#endif

namespace attnjit {

// Built by the host (build_arguments); part of the kernel's parameters.
struct Sm90TileSched {
  int num_m;    // query tiles per (batch, head)
  int num_bh;   // batch * heads_q; pair index bh = batch * heads_q + head
  int swizzle;  // pairs per L2 section, 1..num_bh
  int total;    // num_m * num_bh
};

// Tile `i` (0 <= i < total) as its query tile and (batch, head) pair.
ATTNJIT_SCHED_HD void sm90_tile_at(const Sm90TileSched& s, int i, bool longest_first, int& m_block,
                                   int& bh) {
  const int per_section = s.swizzle * s.num_m;
  const int section = i / per_section, j = i - section * per_section;
  const int first = section * s.swizzle;
  const int width = s.num_bh - first < s.swizzle ? s.num_bh - first : s.swizzle;  // last may be short
  const int mi = j / width;
  bh = first + (j - mi * width);
  m_block = longest_first ? s.num_m - 1 - mi : mi;
}

// Pairs per section: as many as keep K and V of the section within `l2_bytes`, a whole number of
// GQA groups (so a KV head is never split across sections), at least one group, at most all.
inline Sm90TileSched make_sm90_tile_sched(int num_m, int batch, int heads_q, int group,
                                          long long kv_bytes_per_head, long long l2_bytes) {
  Sm90TileSched s;
  s.num_m = num_m;
  s.num_bh = batch * heads_q;
  s.total = num_m * s.num_bh;
  const long long kv_heads = kv_bytes_per_head > 0 ? l2_bytes / kv_bytes_per_head : s.num_bh;
  long long pairs = (kv_heads < 1 ? 1 : kv_heads) * group;
  if (pairs > s.num_bh) pairs = s.num_bh;
  s.swizzle = pairs < 1 ? 1 : static_cast<int>(pairs);
  return s;
}

}  // namespace attnjit
