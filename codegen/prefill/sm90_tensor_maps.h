// Host side of the sm90 prefill template's tensor maps (templates/prefill/sm90.cuh).
//
// The seam between codegen and the driver: codegen must not depend on runtime, but a
// CUtensorMap can only be encoded by the driver's cuTensorMapEncodeTiled. So codegen holds a
// process-wide encoder with exactly that function's signature (plain C types; the enums are
// ints); the runtime installs the real one when it loads the driver (runtime/cuda_driver.cpp),
// and the emulator tests install the emulator's encoder. With none installed, build_arguments
// reports that the template cannot run, with the reason.
#pragma once

#include <cstdint>
#include <vector>

#include "attnjit/tensors.h"
#include "templates/prefill/params.h"
#include "templates/prefill/sm90_scheduler.h"

namespace attnjit {

using TensorMapEncodeTiledFn = int (*)(void* tensor_map, int dtype, uint32_t rank, void* address,
                                       const uint64_t* dims, const uint64_t* strides_bytes,
                                       const uint32_t* box, const uint32_t* element_strides,
                                       int interleave, int swizzle, int l2_promotion, int oob_fill);

// Install / read the encoder (nullptr: none; thread-safe).
void set_tensor_map_encoder(TensorMapEncodeTiledFn fn);
TensorMapEncodeTiledFn tensor_map_encoder();

// The kernel's parameter struct as the host builds it: four 128-byte maps (Q, K, V loads; O
// store), PrefillParams, then the persistent tile order — the layout of PrefillSm90Params in the
// template.
struct alignas(64) PrefillSm90HostParams {
  alignas(64) unsigned char tq[128], tk[128], tv[128], to[128];
  PrefillParams p;
  Sm90TileSched sched;
};

// Encodes the four 4-D maps (d, row, head, batch) for `p` with 128-byte swizzled boxes of 64
// columns: Q boxes of block_m rows, K and V of block_n rows, O of 64 rows (sched is left zero).
// Varlen (p.cu_seqlens_q set): q / o span p.total_q packed rows and k / v `total_k`, one batch.
// Paged K/V (p.page_size > 0): k / v are (d, row in page, head, page) over `num_pages` pages, with
// boxes of min(page_size, block_n) rows.
// Throws SpecError naming the tensor when there is no encoder or the driver refuses a map
// (strides not multiples of 16 bytes, unaligned base, ...).
PrefillSm90HostParams make_prefill_sm90_params(const PrefillParams& p, DType dtype, int head_dim,
                                               int block_m, int block_n, int64_t total_k = 0,
                                               int64_t num_pages = 0);

}  // namespace attnjit
