// The extension module attnjit._attnjit. The Python package (python/attnjit/) wraps it; users
// import attnjit, not this module.
#include <nanobind/nanobind.h>

#include "attnjit/attnjit.h"
#include "py_runtime.h"

namespace nb = nanobind;

namespace attnjit::python {
void bind_problem(nb::module_& m);
void bind_tune(nb::module_& m);
void bind_ops_table(nb::module_& m);
}  // namespace attnjit::python

NB_MODULE(_attnjit, m) {
  m.doc() = "attnjit's C++ library, bound with nanobind (use the attnjit package, not this module).";
  // SpecError is a ValueError and BackendError a RuntimeError, so callers that catch the
  // built-in kinds keep working (DatabaseError: tune.cpp, beside the tuner).
  nb::exception<attnjit::SpecError>(m, "SpecError", PyExc_ValueError);
  nb::exception<attnjit::BackendError>(m, "BackendError", PyExc_RuntimeError);
  m.attr("version") = ATTNJIT_VERSION;  // a plain name: stubgen leaves dunder attributes out
  // The default runtimes (attnjit/_runtime.py) live until the interpreter exits, on purpose:
  // nanobind would report them, and the functions they reference, as leaks at shutdown.
  nb::set_leak_warnings(false);
  attnjit::python::bind_problem(m);
  attnjit::python::bind_runtime(m);
  attnjit::python::bind_tune(m);
  attnjit::python::bind_ops_table(m);
}
