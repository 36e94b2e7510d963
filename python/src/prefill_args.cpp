#include "prefill_args.h"

#include <string>

#include "py_runtime.h"
#include "score_variants.h"

namespace attnjit::python {

bool parse_layout(std::string_view layout) {
  if (layout != "bshd" && layout != "bhsd")
    throw nb::value_error(("layout: unknown value '" + std::string(layout) + "' (allowed: bshd, bhsd)").c_str());
  return layout == "bhsd";
}

PrefillArgs prefill_args(const Placement& where, const PrefillTensors& t, bool causal,
                         std::optional<int64_t> window_left, std::optional<int64_t> window_right, double scale,
                         bool bhsd, double softcap) {
  const Arg &q = t.q, &k = t.k, &v = t.v, &o = t.out;
  const char* shape4 = bhsd ? "[batch, heads, seqlen, head_dim] (layout bhsd)" : "[batch, seqlen, heads, head_dim] (layout bshd)";
  const size_t S = bhsd ? 2 : 1, H = bhsd ? 1 : 2;
  for (const Arg* a : {&q, &k, &v, &o}) {
    expect_ndim(*a, 4, shape4);
    expect_device(*a, where);
    expect_unit_last_stride(*a);
  }
  const DType dt = dtype_of(q);
  for (const Arg* a : {&k, &v, &o}) expect_same_dtype(*a, q);
  const int64_t B = q.a.shape(0), SQ = q.a.shape(S), HQ = q.a.shape(H), D = q.a.shape(3);
  const int64_t SK = k.a.shape(S), HKV = k.a.shape(H);
  for (const Arg* a : {&k, &v, &o}) {
    expect_extent(*a, 0, B, "batch", q);
    expect_extent(*a, 3, D, "head_dim", q);
  }
  expect_extent(v, S, SK, "seqlen", k);
  expect_extent(v, H, HKV, "heads", k);
  expect_extent(o, S, SQ, "seqlen", q);
  expect_extent(o, H, HQ, "heads", q);
  for (const Arg* a : {&q, &k, &v}) expect_disjoint(o, *a);

  PrefillArgs a;
  a.problem.dtype = dt;
  a.problem.head_dim = static_cast<int>(D);
  a.problem.mask = mask_of(causal, window_left, window_right);
  a.problem.batch = B;
  a.problem.heads_q = HQ;
  a.problem.heads_kv = HKV;
  a.problem.seqlen_q = SQ;
  a.problem.seqlen_k = SK;
  a.problem.scale = scale;
  a.problem.softcap = softcap;
  a.q = view4(q, bhsd);
  a.k = view4(k, bhsd);
  a.v = view4(v, bhsd);
  a.o = view4(o, bhsd);
  if (t.lse) a.lse = lse_view(*t.lse, q, B, HQ, SQ, "seqlen_q", where, {&q, &k, &v, &o});
  score_variant_args(t.alibi_slopes, t.sinks, q, B, HQ, where, a);
  return a;
}

}  // namespace attnjit::python
