#include "decode_user_mods.h"

#include <nanobind/stl/string.h>

#include "user_mods.h"

namespace attnjit::python {

void apply_decode_user_mods(nb::handle mods, const Placement& where, DecodeArgs& a, std::vector<Arg>& keep) {
  if (mods.is_none()) return;
  if (!nb::isinstance<PyDecodeUserMods>(mods))
    throw nb::type_error(("user_mods: expected a DecodeUserMods or None, got " +
                          std::string(nb::type_name(mods.type()).c_str())).c_str());
  const PyDecodeUserMods& m = nb::cast<const PyDecodeUserMods&>(mods);
  a.problem.score_mod = m.score_mod;
  a.problem.mask_mod = m.mask_mod;
  fill_aux(m.aux, where, a.aux, keep);
}

void bind_decode_user_mods(nb::module_& m) {
  nb::class_<PyDecodeUserMods>(m, "DecodeUserMods",
                               "User snippets of a decode call (Runtime.decode_into's user_mods): score_mod, "
                               "mask_mod (C++ function bodies, as for prefill) and the aux arrays they read.")
      .def(
          "__init__",
          [](PyDecodeUserMods* self, const std::string& score_mod, const std::string& mask_mod, nb::object aux) {
            new (self) PyDecodeUserMods{score_mod, mask_mod, aux};
          },
          nb::arg("score_mod") = "", nb::arg("mask_mod") = "", nb::arg("aux").none() = nb::none())
      .def_ro("score_mod", &PyDecodeUserMods::score_mod)
      .def_ro("mask_mod", &PyDecodeUserMods::mask_mod);
}

}  // namespace attnjit::python
