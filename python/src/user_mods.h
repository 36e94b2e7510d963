// Python side of the user variants (attnjit/user_mods.h): aux tensors, the BlockMask class and
// Runtime.build_block_mask.
#pragma once

#include <vector>

#include "py_runtime.h"

namespace attnjit::python {

struct PyBlockMask {
  BlockMask bm;
};

// aux: a sequence of at most kMaxAux 1-D contiguous int32 / float32 arrays on the runtime's
// device; `keep` holds the converted arrays until the launch.
void fill_aux(nb::handle aux, const Placement& where, AuxTensor (&out)[kMaxAux], std::vector<Arg>& keep);

void bind_user_mods(nb::module_& m, nb::class_<PyRuntime>& cls);

}  // namespace attnjit::python
