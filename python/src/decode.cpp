// Runtime.decode: Python arrays -> DecodeArgs -> Runtime::decode, GIL released.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <algorithm>

#include "decode_user_mods.h"
#include "kv_fp8.h"
#include "py_runtime.h"
#include "score_variants.h"

namespace attnjit::python {
namespace {

void decode(PyRuntime& r, nb::handle q_obj, nb::handle k_obj, nb::handle v_obj, nb::handle seqlens_obj,
            nb::handle o_obj, nb::handle lse_obj, nb::handle table_obj, bool causal,
            std::optional<int64_t> window_left, std::optional<int64_t> window_right, double scale,
            std::optional<int64_t> max_seqlen_k, uintptr_t stream, double softcap, nb::handle k_scale_obj,
            nb::handle v_scale_obj, const std::string& kv_dtype, nb::handle alibi_slopes, nb::handle sinks,
            nb::handle user_mods) {
  const bool paged = !table_obj.is_none();
  const char* cache_shape = paged ? "[num_pages, page_size, heads_kv, head_dim] (paged)"
                                  : "[batch, capacity, heads_kv, head_dim]";
  const Arg q = to_arg("q", q_obj), k = to_arg("k_cache", k_obj), v = to_arg("v_cache", v_obj);
  const Arg o = to_arg("out", o_obj, true);
  expect_ndim(q, 4, "[batch, q_tokens, heads_q, head_dim]");
  expect_ndim(o, 4, "[batch, q_tokens, heads_q, head_dim]");
  expect_ndim(k, 4, cache_shape);
  expect_ndim(v, 4, cache_shape);
  for (const Arg* t : {&q, &k, &v, &o}) {
    expect_device(*t, r.where);
    expect_unit_last_stride(*t);
  }
  const DType dt = dtype_of(q);
  const KvDType kv = kv_dtype_of(k, kv_dtype);
  if (kv == KvDType::Same) expect_same_dtype(k, q);
  expect_same_dtype(v, kv == KvDType::Same ? q : k);  // fp8: V in K's format
  expect_same_dtype(o, q);
  const int64_t B = q.a.shape(0), T = q.a.shape(1), HQ = q.a.shape(2), D = q.a.shape(3);
  const int64_t HKV = k.a.shape(2);
  for (const Arg* t : {&k, &v}) expect_extent(*t, 3, D, "head_dim", q);
  expect_extent(v, 0, k.a.shape(0), paged ? "num_pages" : "batch", k);
  expect_extent(v, 1, k.a.shape(1), paged ? "page_size" : "capacity", k);
  expect_extent(v, 2, HKV, "heads_kv", k);
  if (!paged) expect_extent(k, 0, B, "batch", q);
  for (size_t i = 0; i < 4; ++i) expect_extent(o, i, q.a.shape(i), "shape", q);
  for (const Arg* t : {&q, &k, &v}) expect_disjoint(o, *t);

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

  std::optional<Arg> table, seqlens, lse;
  const KvScales scales = kv_scales(a, k, k_scale_obj, v_scale_obj, r.where);
  if (paged) {
    table = to_arg("block_table", table_obj);
    expect_ndim(*table, 2, "[batch, max_pages_per_sequence]");
    expect_device(*table, r.where);
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
  if (!seqlens_obj.is_none()) {
    seqlens = to_arg("cache_seqlens", seqlens_obj);
    expect_ndim(*seqlens, 1, "[batch]");
    expect_device(*seqlens, r.where);
    expect_dtype(*seqlens, nb::dtype<int32_t>(), "int32");
    expect_extent(*seqlens, 0, B, "batch", q);
    expect_unit_last_stride(*seqlens);
    a.seqlens_k = static_cast<const int32_t*>(seqlens->a.data());
  }
  if (max_seqlen_k) {
    p.max_seqlen_k = *max_seqlen_k;
  } else if (a.seqlens_k && r.where.platform == Platform::Cpu) {
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
  if (!lse_obj.is_none()) {
    lse = to_arg("lse", lse_obj, true);
    a.lse = lse_view(*lse, q, B, HQ, T, "q_tokens", r.where, {&q, &k, &v, &o});
  }
  const ScoreVariantArgs variants(alibi_slopes, sinks);  // kept alive until the launch
  score_variant_args(opt(variants.slopes), opt(variants.sinks), q, B, HQ, r.where, a);
  for (const std::optional<Arg>* s : std::initializer_list<const std::optional<Arg>*>{
           &scales.k, &scales.v, &variants.slopes, &variants.sinks}) {
    if (!*s) continue;
    expect_disjoint(o, **s);  // outputs written over a scale / slope would change what later heads read
    if (lse) expect_disjoint(*lse, **s);
  }
  std::vector<Arg> aux;
  apply_decode_user_mods(user_mods, r.where, a, aux);  // decode_user_mods.h
  nb::gil_scoped_release unlocked;
  r.rt->decode(a, reinterpret_cast<void*>(stream));
}

}  // namespace

void bind_decode(nb::class_<PyRuntime>& cls) {
  cls.def("decode_into", &decode, nb::arg("q").none(), nb::arg("k_cache").none(), nb::arg("v_cache").none(), nb::arg("cache_seqlens").none(),
          nb::arg("out").none(), nb::arg("lse").none(), nb::kw_only(), nb::arg("block_table").none() = nb::none(),
          nb::arg("causal") = false, nb::arg("window_left").none() = nb::none(),
          nb::arg("window_right").none() = nb::none(), nb::arg("scale") = 0.0,
          nb::arg("max_seqlen_k").none() = nb::none(), nb::arg("stream") = 0, nb::arg("softcap") = 0.0,
          nb::arg("k_scale").none() = nb::none(), nb::arg("v_scale").none() = nb::none(), nb::arg("kv_dtype") = "",
          nb::arg("alibi_slopes").none() = nb::none(), nb::arg("sinks").none() = nb::none(),
          nb::arg("user_mods").none() = nb::none(),
          "Decode attention into preallocated outputs (the building block of attnjit.decode).\n\n"
          "q [b, t, hq, d] (t = 1..16 query tokens per sequence); k_cache / v_cache contiguous\n"
          "[b, capacity, hkv, d], or paged [num_pages, page_size, hkv, d] with block_table int32\n"
          "[b, max_pages]; cache_seqlens int32 [b] (None = every sequence is full). out like q;\n"
          "lse float32 [b, hq, t] or None. max_seqlen_k: the longest sequence (default: read from\n"
          "cache_seqlens on the CPU, the capacity on a GPU, where reading it would synchronize).\n"
          "softcap c > 0: scores s -> c * tanh(s / c) (0 = off). alibi_slopes: float32 [hq] or\n"
          "[b, hq], bias -slope * |L - t + i - j| on the scaled scores of query token i (L keys);\n"
          "sinks: float32 [hq], one logit per head in the softmax denominator (LSE includes it).\n"
          "fp8 KV cache: k_cache / v_cache float8_e4m3fn or float8_e5m2, or uint8 codes with kv_dtype\n"
          "'e4m3' / 'e5m2'; k_scale / v_scale float32 arrays, one per tensor (() or (1,)) or per KV head\n"
          "((hkv,)), both the same way, on q's device: K = code * k_scale (likewise V).\n"
          "user_mods: a DecodeUserMods (score_mod / mask_mod snippets and their aux arrays) or None.");
}

}  // namespace attnjit::python
