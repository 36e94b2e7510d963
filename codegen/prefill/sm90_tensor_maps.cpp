// Tensor maps of the sm90 prefill template: see sm90_tensor_maps.h for the encoder seam.
#include "codegen/prefill/sm90_tensor_maps.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>

#include "attnjit/types.h"
#include "codegen/kernel_template.h"
#include "codegen/prefill/sm90_tensor_map_cache.h"

namespace attnjit {
namespace {

std::atomic<TensorMapEncodeTiledFn> g_encoder{nullptr};

// CUtensorMapDataType / CUtensorMapSwizzle / CUtensorMapL2promotion values (cuda.h).
constexpr int kDtypeF16 = 6, kDtypeBf16 = 9, kSwizzle128B = 3, kL2Promotion128B = 2;

void encode(unsigned char* map, const char* name, TensorMapEncodeTiledFn enc, int dtype,
            const void* data, int head_dim, int rows, int heads, int batch, long long row_stride,
            long long head_stride, long long batch_stride, uint32_t box_rows) {
  // A zero length (no keys) is legal for the kernel, which then loads nothing; the driver
  // wants every dimension >= 1.
  const uint64_t dims[4] = {static_cast<uint64_t>(head_dim), static_cast<uint64_t>(rows > 0 ? rows : 1),
                            static_cast<uint64_t>(heads), static_cast<uint64_t>(batch)};
  // Byte strides of dimensions 1..3 (the driver wants multiples of 16 below 2^40). A dimension
  // of extent 1 is never stepped (its coordinate stays 0; rows past a one-row tensor are out of
  // bounds and zero-filled), so the caller may give it any stride — PyTorch does for size-1
  // dimensions, and the sm80 path accepts it — but TMA would refuse one that is not a multiple of
  // 16 bytes: such a dimension takes the dense stride (the span of the dimensions below) instead.
  // Strides TMA takes as they are stay as they are (the maps verified on a GPU are unchanged).
  long long s[3] = {row_stride, head_stride, batch_stride};
  const long long extent[3] = {rows, heads, batch};
  long long span = head_dim;  // elements spanned by the dimensions below
  for (int i = 0; i < 3; ++i) {
    const bool describable = s[i] >= 0 && (s[i] * 2) % 16 == 0 && s[i] * 2 < (1ll << 40);
    if (extent[i] <= 1 && !describable) s[i] = span;
    span = s[i] * std::max(extent[i], 1ll);
  }
  const uint64_t strides[3] = {static_cast<uint64_t>(s[0]) * 2, static_cast<uint64_t>(s[1]) * 2,
                               static_cast<uint64_t>(s[2]) * 2};
  const uint32_t box[4] = {64, box_rows, 1, 1}, elem[4] = {1, 1, 1, 1};
  // Everything the map depends on (the swizzle, promotion and fill are constants here).
  const TensorMapKey key = {reinterpret_cast<uint64_t>(enc), static_cast<uint64_t>(dtype),
                            reinterpret_cast<uint64_t>(data), dims[0], dims[1], dims[2], dims[3],
                            strides[0], strides[1], strides[2], box[0], box[1], box[2], box[3]};
  TensorMapBytes bytes;
  if (tensor_map_cache().find(key, bytes)) {
    std::memcpy(map, bytes.data(), bytes.size());
    return;
  }
  const int rc = enc(map, dtype, 4, const_cast<void*>(data), dims, strides, box, elem, 0,
                     kSwizzle128B, kL2Promotion128B, 0);
  if (rc != 0)
    throw LaunchRefused(std::string(name) + ": cuTensorMapEncodeTiled refused the tensor (CUDA error " +
                    std::to_string(rc) +
                    (rc == 1 ? ": invalid value; TMA needs a 16-byte aligned base and strides that are multiples of 16 bytes)"
                     : rc == 201 ? ": invalid context; no CUDA context owns the tensor's memory)"
                                 : ")"));
  std::memcpy(bytes.data(), map, bytes.size());
  tensor_map_cache().insert(key, bytes);
}

}  // namespace

void set_tensor_map_encoder(TensorMapEncodeTiledFn fn) { g_encoder.store(fn); }
TensorMapEncodeTiledFn tensor_map_encoder() { return g_encoder.load(); }

PrefillSm90HostParams make_prefill_sm90_params(const PrefillParams& p, DType dtype, int head_dim,
                                               int block_m, int block_n, int64_t total_k, int64_t num_pages) {
  const TensorMapEncodeTiledFn enc = tensor_map_encoder();
  if (enc == nullptr)
    throw LaunchRefused(
        "template sm90: cuTensorMapEncodeTiled is unavailable (no CUDA driver with tensor maps loaded)");
  if (dtype != DType::F16 && dtype != DType::BF16) throw SpecError("dtype: sm90 takes f16 or bf16");
  const int dt = dtype == DType::BF16 ? kDtypeBf16 : kDtypeF16;
  PrefillSm90HostParams h;
  std::memset(&h, 0, sizeof h);
  // Varlen: the packed rows as one batch (the kernel adds each sequence's first row; rows past the
  // last sequence read zeros).
  const bool varlen = p.cu_seqlens_q != nullptr, paged = p.page_size > 0;
  if (varlen && !paged && (p.cu_seqlens_k == nullptr || total_k < 0 || total_k > INT32_MAX))
    throw SpecError("varlen: sm90 takes packed q and packed k / v (cu_seqlens_k, total_k " + std::to_string(total_k) +
                    ") or paged k / v");
  if (paged && (num_pages < 1 || num_pages > INT32_MAX))
    throw SpecError("paged: num_pages must be in 1..2^31-1, got " + std::to_string(num_pages));
  const int rows_q = varlen ? p.total_q : p.seqlen_q;
  const int rows_k = paged ? p.page_size : varlen ? static_cast<int>(total_k) : p.seqlen_k;
  const int batch = varlen ? 1 : p.batch, batch_k = paged ? static_cast<int>(num_pages) : batch;
  const uint32_t box_k = static_cast<uint32_t>(paged ? std::min(p.page_size, block_n) : block_n);
  encode(h.tq, "q", enc, dt, p.q, head_dim, rows_q, p.heads_q, batch, p.q_row_stride,
         p.q_head_stride, p.q_batch_stride, static_cast<uint32_t>(block_m));
  encode(h.tk, "k", enc, dt, p.k, head_dim, rows_k, p.heads_kv, batch_k, p.k_row_stride,
         p.k_head_stride, p.k_batch_stride, box_k);
  encode(h.tv, "v", enc, dt, p.v, head_dim, rows_k, p.heads_kv, batch_k, p.v_row_stride,
         p.v_head_stride, p.v_batch_stride, box_k);
  encode(h.to, "o", enc, dt, p.o, head_dim, rows_q, p.heads_q, batch, p.o_row_stride,
         p.o_head_stride, p.o_batch_stride, 64);
  h.p = p;
  return h;
}

}  // namespace attnjit
