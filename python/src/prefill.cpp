// Runtime.prefill: Python arrays -> PrefillArgs -> Runtime::prefill, GIL released.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include "prefill_args.h"
#include "py_runtime.h"
#include "score_variants.h"
#include "user_mods.h"

namespace attnjit::python {
namespace {

void prefill(PyRuntime& r, nb::handle q_obj, nb::handle k_obj, nb::handle v_obj, nb::handle o_obj,
             nb::handle lse_obj, bool causal, std::optional<int64_t> window_left,
             std::optional<int64_t> window_right, double scale, const std::string& layout, uintptr_t stream,
             double softcap, nb::handle alibi_slopes, nb::handle sinks,
             const std::string& score_mod, const std::string& mask_mod, nb::handle aux, std::optional<PyBlockMask*> block_mask) {
  const bool bhsd = parse_layout(layout);
  const Arg q = to_arg("q", q_obj), k = to_arg("k", k_obj), v = to_arg("v", v_obj);
  const Arg o = to_arg("out", o_obj, true);
  const std::optional<Arg> lse = to_opt_arg("lse", lse_obj, true);  // kept alive until the launch, as below
  const ScoreVariantArgs variants(alibi_slopes, sinks);
  PrefillArgs a = prefill_args(r.where, {q, k, v, o, opt(lse), opt(variants.slopes), opt(variants.sinks)}, causal,
                               window_left, window_right, scale, bhsd, softcap);
  // User variants (attnjit/user_mods.h): snippet texts, aux tensors, block mask.
  a.problem.score_mod = score_mod;
  a.problem.mask_mod = mask_mod;
  std::vector<Arg> aux_args;
  fill_aux(aux, r.where, a.aux, aux_args);
  if (block_mask && *block_mask) {
    a.block_mask = (*block_mask)->bm.view;
    a.problem.block_sparse = a.block_mask.tile;
  }
  if (prefill_is_empty(a)) return;
  nb::gil_scoped_release unlocked;
  r.rt->prefill(a, reinterpret_cast<void*>(stream));
}

}  // namespace

void bind_prefill(nb::class_<PyRuntime>& cls) {
  cls.def("prefill_into", &prefill, nb::arg("q").none(), nb::arg("k").none(), nb::arg("v").none(), nb::arg("out").none(), nb::arg("lse").none(),
          nb::kw_only(), nb::arg("causal") = false, nb::arg("window_left").none() = nb::none(),
          nb::arg("window_right").none() = nb::none(), nb::arg("scale") = 0.0, nb::arg("layout") = "bshd",
          nb::arg("stream") = 0, nb::arg("softcap") = 0.0, nb::arg("alibi_slopes").none() = nb::none(),
          nb::arg("sinks").none() = nb::none(), nb::arg("score_mod") = "", nb::arg("mask_mod") = "",
          nb::arg("aux").none() = nb::none(), nb::arg("block_mask").none() = nb::none(),
          "Prefill attention into preallocated outputs (the building block of attnjit.attention).\n\n"
          "q [b, sq, hq, d], k / v [b, sk, hkv, d] (layout \"bshd\"; \"bhsd\" swaps seq and heads),\n"
          "any strides with a contiguous head_dim; out like q; lse float32 [b, hq, sq] or None.\n"
          "Masks are bottom-right aligned: query i sits at key position i + sk - sq. A window\n"
          "(left, right) lets it see keys in [pos - left, pos + right]. scale 0 = 1/sqrt(d).\n"
          "stream: the CUstream to enqueue on (CUDA; 0 = default stream).\n"
          "softcap c > 0: scores s -> c * tanh(s / c) (0 = off). alibi_slopes: float32 [hq] or\n"
          "[b, hq], bias -slope * |i + sk - sq - j| on the scaled scores. sinks: float32 [hq], one\n"
          "logit per head in the softmax denominator (LSE includes it).");
}

}  // namespace attnjit::python
