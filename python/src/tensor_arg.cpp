#include "tensor_arg.h"

#include <algorithm>

namespace attnjit::python {
namespace {

constexpr uint8_t kInt = static_cast<uint8_t>(nb::dlpack::dtype_code::Int);
constexpr uint8_t kFloat = static_cast<uint8_t>(nb::dlpack::dtype_code::Float);
constexpr uint8_t kBfloat = static_cast<uint8_t>(nb::dlpack::dtype_code::Bfloat);

std::string shape_str(const ArrayView& a) {
  std::string s = "(";
  for (size_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

std::string device_str(int type, int id) {
  switch (type) {
    case nb::device::cpu::value: return "cpu";
    case nb::device::cuda::value: return "cuda:" + std::to_string(id);
    case nb::device::cuda_host::value: return "cuda_host";
    case nb::device::cuda_managed::value: return "cuda_managed:" + std::to_string(id);
    default: return "DLPack device type " + std::to_string(type);
  }
}

// [lowest, highest + 1) byte addresses the array's elements occupy.
std::pair<uintptr_t, uintptr_t> byte_range(const ArrayView& a) {
  const auto base = reinterpret_cast<uintptr_t>(a.data());
  const int64_t elem = a.itemsize();
  int64_t lo = 0, hi = 0;
  for (size_t i = 0; i < a.ndim(); ++i) {
    if (a.shape(i) == 0) return {base, base};  // empty: touches nothing
    const int64_t span = (static_cast<int64_t>(a.shape(i)) - 1) * a.stride(i);
    (span < 0 ? lo : hi) += span;
  }
  return {base + lo * elem, base + hi * elem + elem};
}

}  // namespace

std::string dtype_name(nb::dlpack::dtype d) {
  if (d.bits == 8 && d.lanes == 1 && (d.code == 10 || d.code == 12))  // DLPack's fp8 codes
    return d.code == 10 ? "float8_e4m3fn" : "float8_e5m2";
  std::string base = d.code == kInt ? "int" : d.code == kFloat ? "float" : d.code == kBfloat ? "bfloat" : "uint";
  if (d.code > kBfloat) base = "dtype code " + std::to_string(d.code) + " bits ";
  return base + std::to_string(d.bits) + (d.lanes != 1 ? "x" + std::to_string(d.lanes) : "");
}

Arg to_arg(const char* name, nb::handle obj, bool writable) {
  Arg r{name, {}, {}};
  if (obj.is_none()) throw nb::type_error((std::string(name) + ": expected an array, got None").c_str());
  // One import per argument: a DLPack capsule (what the torch ops pass) can be consumed once.
  bool ok;
  if (writable) {
    nb::ndarray<> w;
    ok = nb::try_cast(obj, w);
    if (ok) r.keep = Array(w);
    else if (nb::try_cast(obj, r.keep)) throw nb::value_error((std::string(name) + ": is read-only").c_str());
  } else {
    ok = nb::try_cast(obj, r.keep);
  }
  if (!ok)
    throw nb::type_error((std::string(name) + ": expected an array (an object with __dlpack__ or the buffer "
                          "protocol: numpy, torch, ...), got " + nb::type_name(obj.type()).c_str())
                             .c_str());
  r.a = ArrayView::of(r.keep);
  return r;
}

std::optional<Arg> to_opt_arg(const char* name, nb::handle obj, bool writable) {
  if (obj.is_none()) return std::nullopt;
  return to_arg(name, obj, writable);
}

DType dtype_of(const Arg& t) {
  const nb::dlpack::dtype d = t.a.dtype();
  if (d.lanes == 1 && d.code == kFloat && d.bits == 32) return DType::F32;
  if (d.lanes == 1 && d.code == kFloat && d.bits == 16) return DType::F16;
  if (d.lanes == 1 && d.code == kBfloat && d.bits == 16) return DType::BF16;
  throw nb::type_error((t.name + ": dtype " + dtype_name(d) + " is not supported (allowed: float16, bfloat16, float32)").c_str());
}

void expect_dtype(const Arg& t, nb::dlpack::dtype want, const char* want_name) {
  if (t.a.dtype() != want)
    throw nb::type_error((t.name + ": dtype must be " + want_name + ", got " + dtype_name(t.a.dtype())).c_str());
}

void expect_same_dtype(const Arg& t, const Arg& ref) {
  if (t.a.dtype() != ref.a.dtype())
    throw nb::type_error((t.name + ": dtype " + dtype_name(t.a.dtype()) + " differs from " + ref.name + "'s " +
                          dtype_name(ref.a.dtype())).c_str());
}

void expect_ndim(const Arg& t, size_t n, const char* what) {
  if (t.a.ndim() != n)
    throw nb::value_error((t.name + ": expected " + std::to_string(n) + " dimensions " + what + ", got shape " +
                           shape_str(t.a)).c_str());
}

void expect_extent(const Arg& t, size_t dim, int64_t want, const char* what, const Arg& ref) {
  if (static_cast<int64_t>(t.a.shape(dim)) != want)
    throw nb::value_error((t.name + ": " + what + " is " + std::to_string(t.a.shape(dim)) + " but " + ref.name +
                           " has " + std::to_string(want) + " (shape " + shape_str(t.a) + ")").c_str());
}

void expect_unit_last_stride(const Arg& t) {
  const size_t last = t.a.ndim() - 1;
  if (t.a.shape(last) > 1 && t.a.stride(last) != 1)
    throw nb::value_error((t.name + ": the last dimension must be contiguous (stride 1), got stride " +
                           std::to_string(t.a.stride(last))).c_str());
}

void expect_device(const Arg& t, const Placement& where) {
  const int type = t.a.device_type();
  const int id = t.a.device_id();
  const bool cpu_ok = type == nb::device::cpu::value || type == nb::device::cuda_host::value;
  const bool ok = where.platform == Platform::Cpu
                      ? cpu_ok
                      : (type == nb::device::cuda::value || type == nb::device::cuda_managed::value) &&
                            (where.device < 0 || id == where.device);
  if (!ok) {
    const std::string want = where.platform == Platform::Cpu
                                 ? std::string("cpu")
                                 : where.device < 0 ? std::string("cuda") : device_str(nb::device::cuda::value, where.device);
    throw nb::value_error((t.name + ": is on " + device_str(type, id) + " but the runtime runs on " + want).c_str());
  }
}

TensorView view4(const Arg& t, bool bhsd) {
  TensorView v;
  v.data = t.a.data();
  v.batch_stride = t.a.stride(0);
  v.seq_stride = t.a.stride(bhsd ? 2 : 1);
  v.head_stride = t.a.stride(bhsd ? 1 : 2);
  return v;
}

void expect_disjoint(const Arg& out, const Arg& in) {
  const auto [olo, ohi] = byte_range(out.a);
  const auto [ilo, ihi] = byte_range(in.a);
  if (olo < ihi && ilo < ohi)
    throw nb::value_error((out.name + ": overlaps the memory of " + in.name + " (outputs must not alias inputs)").c_str());
}

LseView lse_view(const Arg& lse, const Arg& q, int64_t batch, int64_t heads, int64_t rows, const char* rows_name,
                 const Placement& where, std::initializer_list<const Arg*> others) {
  expect_ndim(lse, 3, (std::string("[batch, heads, ") + rows_name + "]").c_str());
  expect_device(lse, where);
  expect_dtype(lse, nb::dtype<float>(), "float32");
  expect_extent(lse, 0, batch, "batch", q);
  expect_extent(lse, 1, heads, "heads", q);
  expect_extent(lse, 2, rows, rows_name, q);
  expect_unit_last_stride(lse);
  for (const Arg* t : others) expect_disjoint(lse, *t);
  return {static_cast<float*>(const_cast<void*>(lse.a.data())), static_cast<int64_t>(lse.a.stride(0)),
          static_cast<int64_t>(lse.a.stride(1))};
}

}  // namespace attnjit::python
