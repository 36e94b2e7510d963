#include "decode_args.h"

#include <algorithm>

#include "kv_fp8.h"
#include "py_runtime.h"
#include "score_variants.h"

namespace attnjit::python {

DecodeArgs decode_args(const Placement& where, const DecodeTensors& t, bool causal,
                       std::optional<int64_t> window_left, std::optional<int64_t> window_right, double scale,
                       std::optional<int64_t> max_seqlen_k, double softcap, const std::string& kv_dtype) {
  const Arg &q = t.q, &k = t.k, &v = t.v, &o = t.out;
  const bool paged = t.block_table != nullptr;
  const char* cache_shape = paged ? "[num_pages, page_size, heads_kv, head_dim] (paged)"
                                  : "[batch, capacity, heads_kv, head_dim]";
  expect_ndim(q, 4, "[batch, q_tokens, heads_q, head_dim]");
  expect_ndim(o, 4, "[batch, q_tokens, heads_q, head_dim]");
  expect_ndim(k, 4, cache_shape);
  expect_ndim(v, 4, cache_shape);
  for (const Arg* x : {&q, &k, &v, &o}) {
    expect_device(*x, where);
    expect_unit_last_stride(*x);
  }
  const DType dt = dtype_of(q);
  const KvDType kv = kv_dtype_of(k, kv_dtype);
  if (kv == KvDType::Same) expect_same_dtype(k, q);
  expect_same_dtype(v, kv == KvDType::Same ? q : k);  // fp8: V in K's format
  expect_same_dtype(o, q);
  const int64_t B = q.a.shape(0), T = q.a.shape(1), HQ = q.a.shape(2), D = q.a.shape(3);
  const int64_t HKV = k.a.shape(2);
  for (const Arg* x : {&k, &v}) expect_extent(*x, 3, D, "head_dim", q);
  expect_extent(v, 0, k.a.shape(0), paged ? "num_pages" : "batch", k);
  expect_extent(v, 1, k.a.shape(1), paged ? "page_size" : "capacity", k);
  expect_extent(v, 2, HKV, "heads_kv", k);
  if (!paged) expect_extent(k, 0, B, "batch", q);
  for (size_t i = 0; i < 4; ++i) expect_extent(o, i, q.a.shape(i), "shape", q);
  for (const Arg* x : {&q, &k, &v}) expect_disjoint(o, *x);

  DecodeArgs a;
  DecodeProblem& p = a.problem;
  p.dtype = dt;
  p.head_dim = static_cast<int>(D);
  p.mask = mask_of(causal, window_left, window_right);
  p.batch = B;
  p.heads_q = HQ;
  p.heads_kv = HKV;
  p.q_tokens = T;
  p.scale = scale;
  p.softcap = softcap;
  p.kv_dtype = kv;
  a.q = view4(q, false);
  a.o = view4(o, false);
  a.k = view4(k, false);
  a.v = view4(v, false);

  kv_scales(a, k, t.k_scale, t.v_scale, where);
  if (paged) {
    const Arg* table = t.block_table;
    expect_ndim(*table, 2, "[batch, max_pages_per_sequence]");
    expect_device(*table, where);
    expect_dtype(*table, nb::dtype<int32_t>(), "int32");
    expect_extent(*table, 0, B, "batch", q);
    expect_unit_last_stride(*table);
    p.page_size = static_cast<int>(k.a.shape(1));
    p.num_pages = k.a.shape(0);
    p.kv_capacity = table->a.shape(1) * p.page_size;
    a.block_table = static_cast<const int32_t*>(table->a.data());
    a.block_table_stride = table->a.stride(0);
  } else {
    p.kv_capacity = k.a.shape(1);
  }
  if (const Arg* seqlens = t.cache_seqlens) {
    expect_ndim(*seqlens, 1, "[batch]");
    expect_device(*seqlens, where);
    expect_dtype(*seqlens, nb::dtype<int32_t>(), "int32");
    expect_extent(*seqlens, 0, B, "batch", q);
    expect_unit_last_stride(*seqlens);
    a.seqlens_k = static_cast<const int32_t*>(seqlens->a.data());
  }
  if (max_seqlen_k) {
    p.max_seqlen_k = *max_seqlen_k;
  } else if (a.seqlens_k && where.platform == Platform::Cpu) {
    // Host memory: the longest sequence picks the bucket and split count. (On a GPU reading
    // the lengths would synchronize, so the capacity stands in unless max_seqlen_k is given.)
    int64_t mx = 0;
    for (int64_t b = 0; b < B; ++b) mx = std::max<int64_t>(mx, a.seqlens_k[b]);
    p.max_seqlen_k = std::min(mx, p.kv_capacity);  // an out-of-range length is the library's error
    for (int64_t b = 0; b < B; ++b)
      if (a.seqlens_k[b] > p.kv_capacity)
        throw nb::value_error(("cache_seqlens[" + std::to_string(b) + "]: " + std::to_string(a.seqlens_k[b]) +
                               " exceeds the cache's capacity " + std::to_string(p.kv_capacity)).c_str());
  } else {
    p.max_seqlen_k = p.kv_capacity;
  }
  if (t.lse) a.lse = lse_view(*t.lse, q, B, HQ, T, "q_tokens", where, {&q, &k, &v, &o});
  score_variant_args(t.alibi_slopes, t.sinks, q, B, HQ, where, a);
  for (const Arg* s : {t.k_scale, t.v_scale, t.alibi_slopes, t.sinks}) {
    if (!s) continue;
    expect_disjoint(o, *s);  // outputs written over a scale / slope would change what later heads read
    if (t.lse) expect_disjoint(*t.lse, *s);
  }
  return a;
}

}  // namespace attnjit::python
