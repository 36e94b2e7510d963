// The checks of a decode call and the DecodeArgs they build, shared by Runtime.decode_into
// (decode.cpp, Python arrays) and the torch ops library's decode kernel (ops_table.cpp).
#pragma once

#include <optional>
#include <string>

#include "tensor_arg.h"

namespace attnjit::python {

// The converted tensors of one call; null pointers are absent optional tensors (no block_table:
// a contiguous cache).
struct DecodeTensors {
  const Arg &q, &k, &v, &out;
  const Arg* cache_seqlens;
  const Arg* block_table;
  const Arg* lse;
  const Arg* k_scale;
  const Arg* v_scale;
  const Arg* alibi_slopes;
  const Arg* sinks;
};

// Checks shapes, dtypes, strides, devices and aliasing (TypeError / ValueError naming the
// argument) and builds the call's DecodeArgs; user mods are the caller's to add.
DecodeArgs decode_args(const Placement& where, const DecodeTensors& t, bool causal,
                       std::optional<int64_t> window_left, std::optional<int64_t> window_right, double scale,
                       std::optional<int64_t> max_seqlen_k, double softcap, const std::string& kv_dtype);

}  // namespace attnjit::python
