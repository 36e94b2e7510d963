#include "user_mods.h"

#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>

namespace attnjit::python {

void fill_aux(nb::handle aux, const Placement& where, AuxTensor (&out)[kMaxAux], std::vector<Arg>& keep) {
  if (aux.is_none()) return;
  const nb::sequence seq = nb::borrow<nb::sequence>(aux);
  const size_t n = nb::len(seq);
  if (n > static_cast<size_t>(kMaxAux))
    throw nb::value_error(("aux: at most " + std::to_string(kMaxAux) + " tensors, got " + std::to_string(n)).c_str());
  keep.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string name = "aux[" + std::to_string(i) + "]";
    keep.push_back(to_arg(name.c_str(), seq[i]));
    const Arg& t = keep.back();
    expect_ndim(t, 1, "[n] (one dimension)");
    expect_device(t, where);
    expect_unit_last_stride(t);
    const bool i32 = t.a.dtype() == nb::dtype<int32_t>(), f32 = t.a.dtype() == nb::dtype<float>();
    if (!i32 && !f32)
      throw nb::type_error((name + ": expected int32 or float32, got " + dtype_name(t.a.dtype())).c_str());
    out[i] = {t.a.data(), i32 ? AuxType::I32 : AuxType::F32, static_cast<int64_t>(t.a.shape(0))};
  }
}

namespace {

PyBlockMask build(PyRuntime& r, int64_t batch, int64_t heads_q, int64_t seqlen_q, int64_t seqlen_k, bool causal,
                  std::optional<int64_t> window_left, std::optional<int64_t> window_right, const std::string& mask_mod,
                  nb::handle aux, int tile, bool per_batch, bool per_head) {
  PrefillProblem p;
  p.dtype = r.where.platform == Platform::Cpu ? DType::F32 : DType::BF16;  // not used by the builder
  p.head_dim = 64;
  p.mask = mask_of(causal, window_left, window_right);
  p.batch = batch;
  p.heads_q = p.heads_kv = heads_q;
  p.seqlen_q = seqlen_q;
  p.seqlen_k = seqlen_k;
  p.mask_mod = mask_mod;
  AuxTensor a[kMaxAux];
  std::vector<Arg> keep;
  fill_aux(aux, r.where, a, keep);
  nb::gil_scoped_release unlocked;
  return PyBlockMask{build_block_mask(*r.rt, p, a, tile, per_batch, per_head)};
}

}  // namespace

void bind_user_mods(nb::module_& m, nb::class_<PyRuntime>& cls) {
  nb::class_<PyBlockMask>(m, "BlockMask",
                          "A block mask in the runtime's memory (FlexAttention's BlockMask): per query tile, "
                          "the partly and the fully visible key tiles. Made by Runtime.build_block_mask.")
      .def_prop_ro("tile", [](const PyBlockMask& b) { return b.bm.view.tile; })
      .def_prop_ro("q_tiles", [](const PyBlockMask& b) { return b.bm.view.q_tiles; })
      .def_prop_ro("k_tiles", [](const PyBlockMask& b) { return b.bm.view.k_tiles; })
      .def_prop_ro("batch", [](const PyBlockMask& b) { return b.bm.view.batch; })
      .def_prop_ro("heads", [](const PyBlockMask& b) { return b.bm.view.heads; });
  cls.def("build_block_mask", &build, nb::arg("batch"), nb::arg("heads_q"), nb::arg("seqlen_q"), nb::arg("seqlen_k"),
          nb::kw_only(), nb::arg("causal") = false, nb::arg("window_left").none() = nb::none(),
          nb::arg("window_right").none() = nb::none(), nb::arg("mask_mod") = "", nb::arg("aux").none() = nb::none(),
          nb::arg("tile") = 128, nb::arg("per_batch") = false, nb::arg("per_head") = false,
          "Builds the block mask of a mask and mask_mod snippet once per shape on this runtime's backend.");
}

}  // namespace attnjit::python
