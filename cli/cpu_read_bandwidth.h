// The host's memory read bandwidth, measured in the same run as a CPU benchmark so each point
// can be given as a fraction of it (`attnjit bench-decode --backend cpu`).
#pragma once

#include <cstddef>

namespace attnjit::cli {

struct ReadBandwidth {
  double gbps = 0;      // best of the repetitions, 1e9 bytes/s
  double median = 0;    // median of the repetitions
  // Bytes / (process CPU time / threads), best repetition: what the threads read while they ran,
  // immune to time-slicing on a shared machine (wall time is not).
  double cpu_gbps = 0;
};

// CPU time of the whole process (all its threads) in seconds.
double process_cpu_seconds();

// Sums a `bytes` buffer (much larger than the last-level cache) from `threads` threads, each its
// own contiguous share, in each of a few read patterns (1 or 2 interleaved streams, with and
// without software prefetch; see cpu_read_bandwidth.cpp), `reps` timed passes per pattern, and
// reports the fastest pattern: the most the machine reads, not what one access pattern gets.
ReadBandwidth measure_read_bandwidth(int threads, size_t bytes = size_t(1) << 30, int reps = 5);

// Bytes that push K and V out of the caches before a timed run: twice the last-level cache the
// host reports (sysconf), at least 256 MiB. (A fixed 256 MiB left an 8k-32k point of 64-256 MiB
// partly in the 300 MiB L3 of an Emerald Rapids VM: bf16 GQA 4 at 8k read "1.2x" the DRAM
// probe.)
size_t eviction_bytes();

// Reads `bytes` (far more than the last-level cache) so the next timed run reads K and V from
// memory, as a decode step does when the whole model's cache is far larger than the caches; the
// caches are left holding clean lines.
void evict_caches(size_t bytes = eviction_bytes());

}  // namespace attnjit::cli
