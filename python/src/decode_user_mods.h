// Python side of decode's user score_mod / mask_mod (attnjit/user_mods.h): a DecodeUserMods
// object (the snippets and the aux arrays of one call) that Runtime.decode_into takes as
// `user_mods`, applied to the call's DecodeArgs with prefill's aux checks (fill_aux).
#pragma once

#include <string>
#include <vector>

#include "py_runtime.h"

namespace attnjit::python {

struct PyDecodeUserMods {
  std::string score_mod, mask_mod;  // snippet bodies ("" = none)
  nb::object aux;                   // None or a sequence of at most kMaxAux 1-D int32 / float32 arrays
};

// `mods`: a DecodeUserMods or None. `keep` holds the converted aux arrays until the launch.
void apply_decode_user_mods(nb::handle mods, const Placement& where, DecodeArgs& a, std::vector<Arg>& keep);

void bind_decode_user_mods(nb::module_& m);

}  // namespace attnjit::python
