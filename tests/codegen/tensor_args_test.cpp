// The tensor-argument helpers every family's arguments share: the strided-view check names the
// field it refuses, the copy puts each view's stride in its params field, the scale defaults.
#include "codegen/tensor_args.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "codegen/prefill/arguments.h"
#include "templates/prefill/params.h"

namespace attnjit {
namespace {

const void* addr(uintptr_t a) { return reinterpret_cast<const void*>(a); }

// Expects SpecError whose message names `field`.
template <class F>
void expect_names(F&& f, const std::string& field) {
  try {
    f();
    ADD_FAILURE() << "accepted; expected an error naming " << field;
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
  }
}

TEST(TensorArgs, StridedViewCheckNamesTheField) {
  using detail::Dim;
  const TensorView ok = TensorView::bshd(addr(0x10000), 100, 8, 64);
  auto check = [](const TensorView& t, Platform p, bool output, bool may_be_null = false) {
    detail::check_strided_tensor("q", t, Dim{1, t.batch_stride, "batch_stride"}, Dim{100, t.seq_stride, "seq_stride"},
                                 Dim{8, t.head_stride, "head_stride"}, 64, 2, p, output, may_be_null);
  };
  check(ok, Platform::Cuda, true);
  check(TensorView{}, Platform::Cuda, false, /*may_be_null=*/true);  // an empty input
  expect_names([&] { check(TensorView{}, Platform::Cpu, false); }, "q.data: null pointer");
  TensorView odd = ok;
  odd.data = addr(0x10001);
  expect_names([&] { check(odd, Platform::Cpu, false); }, "q.data: not aligned");
  TensorView neg = ok;
  neg.head_stride = -64;
  expect_names([&] { check(neg, Platform::Cpu, false); }, "q.head_stride: must be >= 0");
  TensorView unaligned_rows = ok;
  unaligned_rows.seq_stride = 8 * 64 + 4;  // 8 bytes: fine on the CPU, not for 16-byte GPU rows
  check(unaligned_rows, Platform::Cpu, false);
  expect_names([&] { check(unaligned_rows, Platform::Cuda, false); }, "q.seq_stride: must be a multiple of 8");
  TensorView overlapping = ok;
  overlapping.head_stride = 32;  // heads 32 elements apart hold 64 each
  check(overlapping, Platform::Cpu, false);  // inputs may alias
  expect_names([&] { check(overlapping, Platform::Cpu, true); }, "q.head_stride: stride 32 makes output elements overlap");
}

TEST(TensorArgs, CopiesEveryViewIntoItsParamsFields) {
  PrefillArgs a;
  a.q = {addr(0x1000), 1, 2, 3};
  a.k = {addr(0x2000), 4, 5, 6};
  a.v = {addr(0x3000), 7, 8, 9};
  a.o = {addr(0x4000), 10, 11, 12};
  PrefillParams r{};
  detail::copy_tensor_args(r, a);
  EXPECT_EQ(r.q, a.q.data);
  EXPECT_EQ(r.k, a.k.data);
  EXPECT_EQ(r.v, a.v.data);
  EXPECT_EQ(r.o, a.o.data);
  EXPECT_EQ(r.lse, nullptr);
  const long long got[] = {r.q_batch_stride, r.q_row_stride, r.q_head_stride, r.k_batch_stride,
                           r.k_row_stride,   r.k_head_stride, r.v_batch_stride, r.v_row_stride,
                           r.v_head_stride,  r.o_batch_stride, r.o_row_stride, r.o_head_stride};
  for (int i = 0; i < 12; ++i) EXPECT_EQ(got[i], i + 1) << i;
  EXPECT_EQ(r.lse_batch_stride, 0);  // no LSE wanted: its strides are not the application's
  float lse[1];
  a.lse = {lse, 40, 20};
  detail::copy_tensor_args(r, a);
  EXPECT_EQ(r.lse, lse);
  EXPECT_EQ(r.lse_batch_stride, 40);
  EXPECT_EQ(r.lse_head_stride, 20);
}

TEST(TensorArgs, SoftmaxScaleDefaultsToInverseSqrtHeadDim) {
  PrefillParams r{};
  detail::set_softmax_scale(r, 0, 64);
  EXPECT_FLOAT_EQ(r.scale, 0.125f);
  EXPECT_FLOAT_EQ(r.scale_log2, static_cast<float>(0.125 / std::log(2.0)));
  detail::set_softmax_scale(r, 0.3, 64);
  EXPECT_FLOAT_EQ(r.scale, 0.3f);
}

}  // namespace
}  // namespace attnjit
