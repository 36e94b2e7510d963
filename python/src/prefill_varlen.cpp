// Runtime.prefill_varlen_into: varlen (packed) and paged-KV prefill from Python arrays, as
// flash-attn's flash_attn_varlen_func (q 3-D, cu_seqlens) and flash_attn_with_kvcache with a
// block table (q 4-D, cache_seqlens). Checks what the C++ API cannot see (shapes, dtypes,
// devices); the library checks the values (cu_seqlens order, pages in range) on the CPU.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include <algorithm>
#include <optional>

#include "prefill_args.h"
#include "py_runtime.h"

namespace attnjit::python {
namespace {

// The checks of an int32 vector argument.
void check_int_vector(const Arg& t, int64_t extent, const char* what, const Arg& ref, const Placement& where) {
  expect_ndim(t, 1, what);
  expect_device(t, where);
  expect_dtype(t, nb::dtype<int32_t>(), "int32");
  expect_extent(t, 0, extent, what, ref);
  expect_unit_last_stride(t);
}

}  // namespace

PrefillArgs prefill_varlen_args(const Placement& where, const VarlenTensors& t, std::optional<int64_t> max_seqlen_q,
                                std::optional<int64_t> max_seqlen_k, bool causal, std::optional<int64_t> window_left,
                                std::optional<int64_t> window_right, double scale, double softcap) {
  const Arg &q = t.q, &k = t.k, &v = t.v, &o = t.out;
  const bool varlen = t.cu_seqlens_q != nullptr, paged = t.block_table != nullptr;
  if (!varlen && !paged) throw nb::value_error("cu_seqlens_q / block_table: give at least one (else use prefill_into)");
  const char* q_shape = varlen ? "[total_q, heads_q, head_dim] (varlen)" : "[batch, seqlen_q, heads_q, head_dim]";
  const char* kv_shape = paged ? "[num_pages, page_size, heads_kv, head_dim] (paged)" : "[total_k, heads_kv, head_dim] (varlen)";
  expect_ndim(q, varlen ? 3 : 4, q_shape);
  expect_ndim(o, varlen ? 3 : 4, q_shape);
  expect_ndim(k, paged ? 4 : 3, kv_shape);
  expect_ndim(v, paged ? 4 : 3, kv_shape);
  for (const Arg* x : {&q, &k, &v, &o}) {
    expect_device(*x, where);
    expect_unit_last_stride(*x);
  }
  const DType dt = dtype_of(q);
  for (const Arg* x : {&k, &v, &o}) expect_same_dtype(*x, q);
  const size_t qh = varlen ? 1 : 2, kh = paged ? 2 : 1;  // the heads dimension
  const int64_t HQ = q.a.shape(qh), D = q.a.shape(qh + 1), HKV = k.a.shape(kh);
  for (size_t i = 0; i < q.a.ndim(); ++i) expect_extent(o, i, q.a.shape(i), "shape", q);
  for (size_t i = 0; i < k.a.ndim(); ++i) expect_extent(v, i, k.a.shape(i), "shape", k);
  expect_extent(k, kh + 1, D, "head_dim", q);
  for (const Arg* x : {&q, &k, &v}) expect_disjoint(o, *x);

  PrefillArgs a;
  PrefillProblem& p = a.problem;
  p.dtype = dt;
  p.head_dim = static_cast<int>(D);
  p.mask = mask_of(causal, window_left, window_right);
  p.heads_q = HQ;
  p.heads_kv = HKV;
  p.scale = scale;
  p.softcap = softcap;
  // [rows, heads, d] as a one-batch view; [b, s, h, d] as is.
  auto view3 = [](const Arg& x) {
    return TensorView{x.a.data(), 0, x.a.stride(0), x.a.stride(1)};
  };
  if (varlen) {
    const Arg* cu_q = t.cu_seqlens_q;
    if (cu_q->a.ndim() != 1 || cu_q->a.shape(0) < 1)
      throw nb::value_error("cu_seqlens_q: expected int32 [batch + 1] with batch + 1 >= 1");
    p.batch = cu_q->a.shape(0) - 1;
    check_int_vector(*cu_q, p.batch + 1, "[batch + 1]", q, where);
    if (!max_seqlen_q) throw nb::type_error("max_seqlen_q: required with cu_seqlens_q (an int)");
    p.varlen = true;
    p.total_q = q.a.shape(0);
    p.seqlen_q = *max_seqlen_q;
    a.q = view3(q);
    a.o = view3(o);
    a.cu_seqlens_q = static_cast<const int32_t*>(cu_q->a.data());
  } else {
    p.batch = q.a.shape(0);
    p.seqlen_q = q.a.shape(1);
    a.q = view4(q, false);
    a.o = view4(o, false);
  }
  if (paged) {
    if (t.cu_seqlens_k) throw nb::value_error("cu_seqlens_k: not with a paged cache (give cache_seqlens)");
    const Arg* table = t.block_table;
    expect_ndim(*table, 2, "[batch, max_pages]");
    expect_device(*table, where);
    expect_dtype(*table, nb::dtype<int32_t>(), "int32");
    expect_extent(*table, 0, p.batch, "batch", q);
    expect_unit_last_stride(*table);
    const Arg* used = t.cache_seqlens;
    if (!used) throw nb::value_error("cache_seqlens: required with a block_table (int32 [batch])");
    check_int_vector(*used, p.batch, "[batch]", q, where);
    p.page_size = static_cast<int>(k.a.shape(1));
    p.num_pages = k.a.shape(0);
    p.max_pages = table->a.shape(1);
    a.k = view4(k, false);
    a.v = view4(v, false);
    a.block_table = static_cast<const int32_t*>(table->a.data());
    a.block_table_stride = table->a.stride(0);
    a.seqused_k = static_cast<const int32_t*>(used->a.data());
    // The longest cache: given, or read from host memory (a GPU read would synchronize, so the
    // table's capacity stands in there).
    int64_t mk = p.max_pages * p.page_size;
    if (max_seqlen_k) {
      mk = *max_seqlen_k;
    } else if (where.platform == Platform::Cpu) {
      mk = 0;
      for (int64_t b = 0; b < p.batch; ++b) mk = std::max<int64_t>(mk, a.seqused_k[b]);
    }
    p.seqlen_k = mk;
  } else {
    if (t.cache_seqlens) throw nb::value_error("cache_seqlens: only with a block_table");
    const Arg* cu_k = t.cu_seqlens_k;
    if (!cu_k) throw nb::value_error("cu_seqlens_k: required for varlen K/V (int32 [batch + 1])");
    check_int_vector(*cu_k, p.batch + 1, "[batch + 1]", q, where);
    if (!max_seqlen_k) throw nb::type_error("max_seqlen_k: required with cu_seqlens_k (an int)");
    p.total_k = k.a.shape(0);
    p.seqlen_k = *max_seqlen_k;
    a.k = view3(k);
    a.v = view3(v);
    a.cu_seqlens_k = static_cast<const int32_t*>(cu_k->a.data());
  }
  if (const Arg* lse = t.lse) {
    if (varlen) {  // flash-attn's varlen layout [heads_q, total_q]
      expect_ndim(*lse, 2, "[heads_q, total_q]");
      expect_device(*lse, where);
      expect_dtype(*lse, nb::dtype<float>(), "float32");
      expect_extent(*lse, 0, HQ, "heads_q", q);
      expect_extent(*lse, 1, p.total_q, "total_q", q);
      expect_unit_last_stride(*lse);
      for (const Arg* x : {&q, &k, &v, &o}) expect_disjoint(*lse, *x);
      a.lse = {static_cast<float*>(const_cast<void*>(lse->a.data())), 0, static_cast<int64_t>(lse->a.stride(0))};
    } else {
      a.lse = lse_view(*lse, q, p.batch, HQ, p.seqlen_q, "seqlen_q", where, {&q, &k, &v, &o});
    }
  }
  return a;
}

namespace {

void prefill_varlen(PyRuntime& r, nb::handle q_obj, nb::handle k_obj, nb::handle v_obj, nb::handle o_obj,
                    nb::handle lse_obj, nb::handle cu_q_obj, nb::handle cu_k_obj, nb::handle used_obj,
                    nb::handle table_obj, std::optional<int64_t> max_seqlen_q, std::optional<int64_t> max_seqlen_k,
                    bool causal, std::optional<int64_t> window_left, std::optional<int64_t> window_right,
                    double scale, double softcap, uintptr_t stream) {
  const bool paged = !table_obj.is_none();
  const Arg q = to_arg("q", q_obj), k = to_arg(paged ? "k_cache" : "k", k_obj), v = to_arg(paged ? "v_cache" : "v", v_obj);
  const Arg o = to_arg("out", o_obj, true);
  // Optional arrays (None: absent), kept alive until the launch.
  const std::optional<Arg> lse = to_opt_arg("lse", lse_obj, true), cu_q = to_opt_arg("cu_seqlens_q", cu_q_obj),
                           cu_k = to_opt_arg("cu_seqlens_k", cu_k_obj),
                           used = to_opt_arg("cache_seqlens", used_obj), table = to_opt_arg("block_table", table_obj);
  const PrefillArgs a =
      prefill_varlen_args(r.where, {q, k, v, o, opt(lse), opt(cu_q), opt(cu_k), opt(used), opt(table)}, max_seqlen_q,
                          max_seqlen_k, causal, window_left, window_right, scale, softcap);
  nb::gil_scoped_release unlocked;
  r.rt->prefill(a, reinterpret_cast<void*>(stream));
}

}  // namespace

void bind_prefill_varlen(nb::class_<PyRuntime>& cls) {
  cls.def("prefill_varlen_into", &prefill_varlen, nb::arg("q").none(), nb::arg("k").none(), nb::arg("v").none(),
          nb::arg("out").none(), nb::arg("lse").none(), nb::kw_only(), nb::arg("cu_seqlens_q").none() = nb::none(),
          nb::arg("cu_seqlens_k").none() = nb::none(), nb::arg("cache_seqlens").none() = nb::none(),
          nb::arg("block_table").none() = nb::none(), nb::arg("max_seqlen_q").none() = nb::none(),
          nb::arg("max_seqlen_k").none() = nb::none(), nb::arg("causal") = false,
          nb::arg("window_left").none() = nb::none(), nb::arg("window_right").none() = nb::none(),
          nb::arg("scale") = 0.0, nb::arg("softcap") = 0.0, nb::arg("stream") = 0,
          "Varlen and / or paged-KV prefill into preallocated outputs (attnjit.attention_varlen,\n"
          "attnjit.attention with block_table).\n\n"
          "Varlen: q / out [total_q, hq, d] with cu_seqlens_q int32 [b + 1] and max_seqlen_q; lse\n"
          "float32 [hq, total_q]. K/V: packed [total_k, hkv, d] with cu_seqlens_k and max_seqlen_k,\n"
          "or paged [num_pages, page_size, hkv, d] with block_table int32 [b, max_pages] and\n"
          "cache_seqlens int32 [b]. Without cu_seqlens_q, q is [b, sq, hq, d] (lse [b, hq, sq]).\n"
          "Masks align per sequence (query i of n sits at key position len_k - n + i).");
}

}  // namespace attnjit::python
