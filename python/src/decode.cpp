// Runtime.decode: Python arrays -> DecodeArgs -> Runtime::decode, GIL released.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

#include "decode_user_mods.h"
#include "decode_args.h"
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
  const Arg q = to_arg("q", q_obj), k = to_arg("k_cache", k_obj), v = to_arg("v_cache", v_obj);
  const Arg o = to_arg("out", o_obj, true);
  // Optional arrays (None: absent), kept alive until the launch.
  const std::optional<Arg> table = to_opt_arg("block_table", table_obj),
                           seqlens = to_opt_arg("cache_seqlens", seqlens_obj), lse = to_opt_arg("lse", lse_obj, true),
                           k_scale = to_opt_arg("k_scale", k_scale_obj), v_scale = to_opt_arg("v_scale", v_scale_obj);
  const ScoreVariantArgs variants(alibi_slopes, sinks);
  DecodeArgs a = decode_args(r.where, {q, k, v, o, opt(seqlens), opt(table), opt(lse), opt(k_scale), opt(v_scale),
                                       opt(variants.slopes), opt(variants.sinks)},
                             causal, window_left, window_right, scale, max_seqlen_k, softcap, kv_dtype);
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
