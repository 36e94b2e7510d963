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
#include <optional>
#include <string>

#include "attnjit/attnjit.h"

namespace attnjit::python {

namespace nb = nanobind;
using Array = nb::ndarray<nb::ro>;  // read-only view of any DLPack / buffer-protocol object

// What the checks read of an array: a DLPack tensor's fields, the names as nb::ndarray's. Plain
// data (no Python object), so the torch ops library's tensors (ops_abi.h) take the same checks
// without the GIL.
struct ArrayView {
  const void* ptr = nullptr;
  size_t nd = 0;
  const int64_t* shp = nullptr;
  const int64_t* str = nullptr;
  nb::dlpack::dtype dt{};
  int32_t dev_type = nb::device::cpu::value, dev_id = 0;

  static ArrayView of(const Array& a) {
    return {a.data(), a.ndim(), a.shape_ptr(), a.stride_ptr(), a.dtype(), a.device_type(), a.device_id()};
  }
  size_t ndim() const { return nd; }
  size_t shape(size_t i) const { return static_cast<size_t>(shp[i]); }
  int64_t stride(size_t i) const { return str[i]; }
  const void* data() const { return ptr; }
  nb::dlpack::dtype dtype() const { return dt; }
  size_t itemsize() const { return (dt.bits * dt.lanes + 7) / 8; }
  int32_t device_type() const { return dev_type; }
  int32_t device_id() const { return dev_id; }
};

// A converted argument plus the name it had in the call.
struct Arg {
  std::string name;
  ArrayView a;
  Array keep;  // the Python array `a` reads (empty for the torch ops library's tensors)
};

// The argument an optional one holds, or null.
inline const Arg* opt(const std::optional<Arg>& a) { return a ? &*a : nullptr; }

// Converts `obj` (TypeError naming `name` when it is not an array); `writable` refuses
// read-only arrays (outputs).
Arg to_arg(const char* name, nb::handle obj, bool writable = false);

// to_arg, or nullopt for None.
std::optional<Arg> to_opt_arg(const char* name, nb::handle obj, bool writable = false);

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
