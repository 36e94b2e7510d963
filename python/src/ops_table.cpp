// The module's side of ops_abi.h: the function table the torch ops library calls through.
#include <cstdio>

#include "decode_args.h"
#include "ops_abi.h"
#include "prefill_args.h"
#include "py_runtime.h"

namespace attnjit::python {
namespace {

int fail(attnjit_ops_error* e, int kind, const char* what) {
  std::snprintf(e->message, sizeof(e->message), "%s", what);
  return kind;
}

// Runs `body`, turning the exceptions the bindings throw into the error kinds Python would see.
template <class F>
int guarded(attnjit_ops_error* e, F&& body) {
  try {
    body();
    return ATTNJIT_OPS_OK;
  } catch (const nb::builtin_exception& x) {
    const int kind = x.type() == nb::exception_type::type_error    ? ATTNJIT_OPS_TYPE_ERROR
                     : x.type() == nb::exception_type::value_error ? ATTNJIT_OPS_VALUE_ERROR
                                                                   : ATTNJIT_OPS_RUNTIME_ERROR;
    return fail(e, kind, x.what());
  } catch (const SpecError& x) {  // a ValueError in Python (module.cpp)
    return fail(e, ATTNJIT_OPS_VALUE_ERROR, x.what());
  } catch (const std::exception& x) {
    return fail(e, ATTNJIT_OPS_RUNTIME_ERROR, x.what());
  } catch (...) {
    return fail(e, ATTNJIT_OPS_RUNTIME_ERROR, "attnjit: unknown C++ exception");
  }
}

Arg arg(const char* name, const attnjit_ops_tensor& t) {
  Arg r{name, {}, {}};
  r.a.ptr = t.data;
  r.a.nd = static_cast<size_t>(t.ndim);
  r.a.shp = t.shape;
  r.a.str = t.strides;
  r.a.dt = {t.dtype_code, t.dtype_bits, 1};
  r.a.dev_type = t.device_type;
  r.a.dev_id = t.device_id;
  return r;
}

std::optional<Arg> opt_arg(const char* name, const attnjit_ops_tensor* t) {
  if (!t) return std::nullopt;
  return arg(name, *t);
}

int runtime(int32_t device_type, int32_t device_id, void** out, attnjit_ops_error* e) {
  return guarded(e, [&] {
    nb::gil_scoped_acquire locked;
    try {
      const bool cuda = device_type == nb::device::cuda::value || device_type == nb::device::cuda_managed::value;
      nb::object rt = nb::module_::import_("attnjit._runtime")
                          .attr("default_runtime")(cuda ? "cuda" : "cpu", cuda ? device_id : 0);
      *out = nb::cast<PyRuntime*>(rt);  // the default runtimes live until the interpreter exits
    } catch (nb::python_error& x) {
      throw std::runtime_error(x.what());  // its payload must be released while the GIL is held
    }
  });
}

std::optional<int64_t> maybe(uint8_t has, int64_t value) {
  return has ? std::optional<int64_t>(value) : std::nullopt;
}

int prefill(void* rt, const attnjit_ops_prefill* c, attnjit_ops_error* e) {
  return guarded(e, [&] {
    auto& r = *static_cast<PyRuntime*>(rt);
    const bool bhsd = parse_layout({c->layout, c->layout_len});
    const Arg q = arg("q", *c->q), k = arg("k", *c->k), v = arg("v", *c->v), o = arg("out", *c->out);
    const std::optional<Arg> lse = opt_arg("lse", c->lse), slopes = opt_arg("alibi_slopes", c->alibi_slopes),
                             sinks = opt_arg("sinks", c->sinks);
    const PrefillArgs a = prefill_args(r.where, {q, k, v, o, opt(lse), opt(slopes), opt(sinks)}, c->causal != 0,
                                       maybe(c->has_window_left, c->window_left),
                                       maybe(c->has_window_right, c->window_right), c->scale, bhsd, c->softcap);
    if (!prefill_is_empty(a)) r.rt->prefill(a, c->stream);
  });
}

int prefill_varlen(void* rt, const attnjit_ops_varlen* c, attnjit_ops_error* e) {
  return guarded(e, [&] {
    auto& r = *static_cast<PyRuntime*>(rt);
    const bool paged = c->block_table != nullptr;
    const Arg q = arg("q", *c->q), k = arg(paged ? "k_cache" : "k", *c->k), v = arg(paged ? "v_cache" : "v", *c->v),
              o = arg("out", *c->out);
    const std::optional<Arg> lse = opt_arg("lse", c->lse), cu_q = opt_arg("cu_seqlens_q", c->cu_seqlens_q),
                             cu_k = opt_arg("cu_seqlens_k", c->cu_seqlens_k),
                             used = opt_arg("cache_seqlens", c->cache_seqlens),
                             table = opt_arg("block_table", c->block_table);
    const PrefillArgs a = prefill_varlen_args(
        r.where, {q, k, v, o, opt(lse), opt(cu_q), opt(cu_k), opt(used), opt(table)},
        maybe(c->has_max_seqlen_q, c->max_seqlen_q), maybe(c->has_max_seqlen_k, c->max_seqlen_k), c->causal != 0,
        maybe(c->has_window_left, c->window_left), maybe(c->has_window_right, c->window_right), c->scale, c->softcap);
    r.rt->prefill(a, c->stream);
  });
}

int decode(void* rt, const attnjit_ops_decode* c, attnjit_ops_error* e) {
  return guarded(e, [&] {
    auto& r = *static_cast<PyRuntime*>(rt);
    const Arg q = arg("q", *c->q), k = arg("k_cache", *c->k_cache), v = arg("v_cache", *c->v_cache),
              o = arg("out", *c->out);
    const std::optional<Arg> lse = opt_arg("lse", c->lse), seqlens = opt_arg("cache_seqlens", c->cache_seqlens),
                             table = opt_arg("block_table", c->block_table), k_scale = opt_arg("k_scale", c->k_scale),
                             v_scale = opt_arg("v_scale", c->v_scale),
                             slopes = opt_arg("alibi_slopes", c->alibi_slopes), sinks = opt_arg("sinks", c->sinks);
    const DecodeArgs a = decode_args(
        r.where, {q, k, v, o, opt(seqlens), opt(table), opt(lse), opt(k_scale), opt(v_scale), opt(slopes), opt(sinks)},
        c->causal != 0, maybe(c->has_window_left, c->window_left), maybe(c->has_window_right, c->window_right),
        c->scale, maybe(c->has_max_seqlen_k, c->max_seqlen_k), c->softcap, std::string(c->kv_dtype, c->kv_dtype_len));
    r.rt->decode(a, c->stream);
  });
}

const attnjit_ops_table table = {ATTNJIT_OPS_ABI_VERSION, sizeof(attnjit_ops_table), runtime, prefill, prefill_varlen, decode};

}  // namespace

void bind_ops_table(nb::module_& m) {
  m.def("_ops_table", [] { return reinterpret_cast<uintptr_t>(&table); },
        "Address of the C function table (ops_abi.h) the torch ops library attnjit/_torch_ops.so calls\n"
        "through (attnjit.torch binds it at import).");
}

}  // namespace attnjit::python
