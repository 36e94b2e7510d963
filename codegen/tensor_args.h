// What every family's arguments do with the application's tensors (codegen/prefill/arguments,
// and decode's, which has the same q/k/v/o/lse views): check a strided view, copy the views'
// pointers and strides into a kernel's params struct, and derive the softmax scales. Each check
// failure is a SpecError naming the field.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "attnjit/tensors.h"
#include "codegen/param_checks.h"

namespace attnjit::detail {

// Pointer (null allowed when `may_be_null`: an empty tensor), non-negative strides, element
// alignment; on GPUs every row starts on 16 bytes (the kernels move rows in 16-byte vectors:
// cp.async, ldmatrix); an output must not overlap itself.
inline void check_strided_tensor(const std::string& name, const TensorView& t, Dim d0, Dim d1, Dim d2,
                                 int64_t head_dim, int elem, Platform platform, bool output,
                                 bool may_be_null = false) {
  if (!t.data && !may_be_null) throw SpecError(name + ".data: null pointer");
  const Dim dims[] = {d0, d1, d2};
  for (const Dim& d : dims)
    if (d.stride < 0) throw SpecError(name + "." + d.name + ": must be >= 0, got " + str(d.stride));
  const auto addr = reinterpret_cast<uintptr_t>(t.data);
  if (addr % static_cast<uintptr_t>(elem) != 0)
    throw SpecError(name + ".data: not aligned to its " + std::to_string(elem) + "-byte elements");
  if (platform == Platform::Cuda && t.data) {
    const int64_t vec = 16 / elem;
    if (addr % 16 != 0) throw SpecError(name + ".data: must be 16-byte aligned on GPUs");
    for (const Dim& d : dims)
      if (d.extent > 1 && d.stride % vec != 0)
        throw SpecError(name + "." + d.name + ": must be a multiple of " + str(vec) +
                        " elements (16 bytes) on GPUs, got " + str(d.stride));
  }
  if (output) check_no_overlap(name, {d0, d1, d2}, head_dim);
}

// Pointers and strides of q, k, v, o and lse (lse strides 0 when not wanted) into a params
// struct with the templates' field names (templates/prefill/params.h, templates/decode/params.h).
template <class Params, class Args>
void copy_tensor_args(Params& r, const Args& a) {
  r.q = a.q.data;
  r.k = a.k.data;
  r.v = a.v.data;
  r.o = const_cast<void*>(a.o.data);
  r.lse = a.lse.data;
  const auto strides = [](const TensorView& t, long long& batch, long long& row, long long& head) {
    batch = t.batch_stride;
    row = t.seq_stride;
    head = t.head_stride;
  };
  strides(a.q, r.q_batch_stride, r.q_row_stride, r.q_head_stride);
  strides(a.k, r.k_batch_stride, r.k_row_stride, r.k_head_stride);
  strides(a.v, r.v_batch_stride, r.v_row_stride, r.v_head_stride);
  strides(a.o, r.o_batch_stride, r.o_row_stride, r.o_head_stride);
  r.lse_batch_stride = a.lse.data ? a.lse.batch_stride : 0;
  r.lse_head_stride = a.lse.data ? a.lse.head_stride : 0;
}

// The softmax scale (0 = 1/sqrt(head_dim)) and its log2(e) multiple (scores go through exp2).
template <class Params>
void set_softmax_scale(Params& r, double scale, int64_t head_dim) {
  const double s = scale != 0 ? scale : 1.0 / std::sqrt(static_cast<double>(head_dim));
  r.scale = static_cast<float>(s);
  r.scale_log2 = static_cast<float>(s * 1.4426950408889634);  // log2(e)
}

}  // namespace attnjit::detail
