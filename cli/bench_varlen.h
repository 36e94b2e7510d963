// `attnjit bench --seqlens L1,L2,...`: one varlen (packed) prefill call over sequences of the
// given lengths against the same tokens as separate equal-length calls (one dense call per
// sequence), per dtype / head dim / mask; with --page-size, K/V come from a paged cache through a
// shuffled block table. Reports both rates and their ratio (varlen / separate).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "attnjit/runtime.h"
#include "runtime/backend.h"

namespace attnjit::cli {

// From cli/bench.cpp: a mask as the key spells it (none, causal, sw<left>-<right>), and a device
// buffer of N(0,1) values of a dtype.
MaskSpec parse_mask(const std::string& s);
DeviceBuffer random_buffer(Backend& be, DType dt, size_t elems, uint64_t seed);

struct VarlenBenchArgs {
  std::vector<std::string> dtypes, masks;
  std::vector<int> head_dims;
  std::vector<int64_t> seqlens;
  int64_t hidden = 2048, heads_kv = 0;
  int page_size = 0;
  int warmup = 5, reps = 20;
  bool json = false;
};

// Throws UsageError on bad lengths / page size.
void bench_varlen(Runtime& rt, const VarlenBenchArgs& a);

}  // namespace attnjit::cli
