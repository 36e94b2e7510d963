// Tensors from Python (anything with __dlpack__ or the buffer protocol) checked and turned into
// the library's views. Every failure names the Python argument: TypeError for a wrong kind of
// object or dtype, ValueError for a wrong shape, stride, device or an output that aliases an
// input. The checks here are only those the C++ API cannot make itself (it sees pointers and
// strides, not shapes or devices); everything else is left to it.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <cstdint>
#include <initializer_list>
#include <string>

#include "attnjit/attnjit.h"

namespace attnjit::python {

namespace nb = nanobind;
using Array = nb::ndarray<nb::ro>;  // read-only view of any DLPack / buffer-protocol object

// A converted argument plus the name it had in the Python call.
struct Arg {
  std::string name;
  Array a;
};

// Converts `obj` (TypeError naming `name` when it is not an array); `writable` refuses
// read-only arrays (outputs).
Arg to_arg(const char* name, nb::handle obj, bool writable = false);

// The library dtype of an f16 / bf16 / f32 array (TypeError otherwise).
DType dtype_of(const Arg& t);
// TypeError unless `t` has exactly this DLPack dtype ("int32", "float32").
void expect_dtype(const Arg& t, nb::dlpack::dtype want, const char* want_name);
// TypeError unless `t` has the dtype of `ref` (q: every tensor of a call shares it).
void expect_same_dtype(const Arg& t, const Arg& ref);
// ValueError unless t.ndim() == n; `what` describes the expected shape.
void expect_ndim(const Arg& t, size_t n, const char* what);
// ValueError unless dimension `dim` has extent `want` (`what` names it, e.g. "head_dim").
void expect_extent(const Arg& t, size_t dim, int64_t want, const char* what, const Arg& ref);
// ValueError unless the last dimension is contiguous (stride 1) — the kernels' one requirement.
void expect_unit_last_stride(const Arg& t);

// Where the tensors must live: the runtime's platform (and CUDA ordinal, -1 = any).
struct Placement {
  Platform platform;
  int device = -1;
};
// ValueError naming the argument when `t` is not in memory the runtime's backend can read.
void expect_device(const Arg& t, const Placement& where);

// [b, s, h, d] view of a 4-D array; `bhsd` swaps the two middle dimensions.
TensorView view4(const Arg& t, bool bhsd);

// ValueError when the memory `out` spans overlaps the memory `in` spans (byte ranges).
void expect_disjoint(const Arg& out, const Arg& in);

// The optional LSE output: float32 [batch, heads, rows] (`rows_name`: "seqlen_q" / "q_tokens"),
// contiguous rows, on the runtime's device, apart from every tensor in `others`. `q` is what
// the extents are compared with in messages.
LseView lse_view(const Arg& lse, const Arg& q, int64_t batch, int64_t heads, int64_t rows, const char* rows_name,
                 const Placement& where, std::initializer_list<const Arg*> others);

std::string dtype_name(nb::dlpack::dtype d);

}  // namespace attnjit::python
