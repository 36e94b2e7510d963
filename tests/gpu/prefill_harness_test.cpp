// The checker the GPU tests rely on, tested without a GPU: it must accept a correct
// same-precision result and reject NaN, unwritten elements, wrong values, non-zero masked rows,
// a finite LSE on an empty row and writes outside a strided view.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>

#include "common/gpu_test_util.h"

namespace attnjit {
namespace {

using testing::Layout;
using testing::PrefillCase;

struct Images {
  std::vector<unsigned char> o;
  std::vector<float> lse;
};

// Lays dense outputs into poisoned device-style images, as a kernel would write them.
Images to_images(const testing::PrefillData& x, const testing::Outputs& out) {
  const PrefillCase& c = x.c;
  Images im;
  im.o.assign(static_cast<size_t>(x.os.elems) * dtype_bytes(c.dtype), 0xff);
  im.lse.assign(static_cast<size_t>(x.lse_elems), 0.f);
  std::memset(im.lse.data(), 0xff, im.lse.size() * 4);
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t i = 0; i < c.seqlen_q; ++i)
      for (int64_t h = 0; h < c.heads_q; ++h) {
        for (int64_t e = 0; e < c.head_dim; ++e)
          store_from_float(c.dtype, im.o.data(), b * x.os.batch + i * x.os.seq + h * x.os.head + e,
                           static_cast<float>(out.o[static_cast<size_t>(((b * c.seqlen_q + i) * c.heads_q + h) * c.head_dim + e)]));
        if (c.with_lse)
          im.lse[static_cast<size_t>(b * x.lse_batch_stride + h * x.lse_head_stride + i)] =
              static_cast<float>(out.lse[static_cast<size_t>((b * c.heads_q + h) * c.seqlen_q + i)]);
      }
  return im;
}

PrefillCase small_case(DType dt, Layout l) {
  PrefillCase c;
  c.dtype = dt;
  c.head_dim = 32;
  c.mask = {MaskKind::Causal, 0, 0};
  c.batch = 2;
  c.heads_q = 2;
  c.heads_kv = 1;
  c.seqlen_q = 40;  // > seqlen_k: the first 15 rows are fully masked
  c.seqlen_k = 25;
  c.layout = l;
  return c;
}

class PrefillHarness : public ::testing::TestWithParam<std::tuple<DType, Layout>> {
 protected:
  void SetUp() override {
    x_ = testing::make_data(small_case(std::get<0>(GetParam()), std::get<1>(GetParam())));
    ref_ = testing::reference_outputs(x_);
    base_ = testing::baseline_outputs(x_);
    good_ = to_images(x_, base_);
  }
  testing::CheckReport check(const Images& im) const {
    return testing::check_outputs(x_, ref_, base_, im.o, im.lse);
  }
  // Offset (elements) of O[b, i, h, e] in the image.
  int64_t at(int64_t b, int64_t i, int64_t h, int64_t e) const {
    return b * x_.os.batch + i * x_.os.seq + h * x_.os.head + e;
  }

  testing::PrefillData x_;
  testing::Outputs ref_, base_;
  Images good_;
};

TEST_P(PrefillHarness, AcceptsTheSamePrecisionBaseline) {
  auto r = check(good_);
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.masked_rows, 2 * 2 * 15);
  EXPECT_GT(r.o_tol, 0);
}

TEST_P(PrefillHarness, RejectsNaN) {
  Images im = good_;
  store_from_float(x_.c.dtype, im.o.data(), at(1, 30, 1, 5), std::numeric_limits<float>::quiet_NaN());
  auto r = check(im);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("not finite"), std::string::npos) << r.message;
}

TEST_P(PrefillHarness, RejectsAnUnwrittenElement) {
  Images im = good_;
  const int eb = dtype_bytes(x_.c.dtype);
  std::memset(im.o.data() + at(0, 20, 0, 0) * eb, 0xff, static_cast<size_t>(eb));  // poison left
  EXPECT_FALSE(check(im).ok);
}

TEST_P(PrefillHarness, RejectsAWrongValue) {
  Images im = good_;
  const int64_t i = at(0, 39, 1, 3);
  store_from_float(x_.c.dtype, im.o.data(), i, load_as_float(x_.c.dtype, im.o.data(), i) + 0.05f);
  auto r = check(im);
  EXPECT_FALSE(r.ok);
  EXPECT_GT(r.o_err, r.o_tol);
}

TEST_P(PrefillHarness, RejectsNonZeroMaskedRowAndFiniteMaskedLse) {
  Images im = good_;
  store_from_float(x_.c.dtype, im.o.data(), at(0, 0, 0, 0), 1e-3f);  // row 0 sees no key
  EXPECT_FALSE(check(im).ok);
  Images im2 = good_;
  im2.lse[0] = 0.f;  // lse[b0, h0, q0] of a masked row
  EXPECT_FALSE(check(im2).ok);
}

TEST_P(PrefillHarness, RejectsWrongLse) {
  Images im = good_;
  im.lse[static_cast<size_t>(x_.lse_head_stride + 30)] += 0.01f;  // b0, h1, q30 (visible row)
  EXPECT_FALSE(check(im).ok);
}

INSTANTIATE_TEST_SUITE_P(
    DtypesAndLayouts, PrefillHarness,
    ::testing::Combine(::testing::Values(DType::BF16, DType::F16, DType::F32),
                       ::testing::Values(Layout::BSHD, Layout::BHSD, Layout::Padded)),
    [](const auto& info) {
      return testing::test_name({.detail = std::string(to_string(std::get<0>(info.param))) + "_" +
                                           testing::layout_name(std::get<1>(info.param))});
    });

// The baseline really is a same-precision implementation: for 16-bit types its error against
// float64 is visibly above zero but small, so "2x baseline" is a meaningful bound.
TEST(PrefillBaseline, ErrorIsSmallButNonZeroFor16BitTypes) {
  for (DType dt : {DType::BF16, DType::F16}) {
    PrefillCase c = small_case(dt, Layout::BSHD);
    c.mask = {};
    c.seqlen_q = c.seqlen_k = 200;
    auto x = testing::make_data(c);
    auto ref = testing::reference_outputs(x);
    auto base = testing::baseline_outputs(x);
    double err = 0;
    for (size_t i = 0; i < ref.o.size(); ++i) err = std::max(err, std::abs(ref.o[i] - base.o[i]));
    EXPECT_GT(err, 0.0) << to_string(dt);
    EXPECT_LT(err, dt == DType::BF16 ? 0.02 : 0.003) << to_string(dt);
  }
}

TEST(PrefillHarnessPadding, RejectsWritesIntoPadding) {
  for (DType dt : {DType::BF16, DType::F16, DType::F32}) {
    auto x = testing::make_data(small_case(dt, Layout::Padded));
    auto ref = testing::reference_outputs(x);
    auto base = testing::baseline_outputs(x);
    Images im = to_images(x, base);
    ASSERT_TRUE(testing::check_outputs(x, ref, base, im.o, im.lse).ok);
    store_from_float(dt, im.o.data(), x.c.head_dim, 0.f);  // just past head 0 of row 0
    auto r = testing::check_outputs(x, ref, base, im.o, im.lse);
    EXPECT_FALSE(r.ok) << to_string(dt);
    EXPECT_NE(r.message.find("padding"), std::string::npos) << r.message;
    Images im2 = to_images(x, base);
    im2.lse[static_cast<size_t>(x.c.seqlen_q)] = 1.f;  // the spare slot after head 0's rows
    EXPECT_FALSE(testing::check_outputs(x, ref, base, im2.o, im2.lse).ok) << to_string(dt);
  }
}

TEST(PrefillLayouts, StridesMatchTheirLayouts) {
  auto bshd = testing::make_strides(Layout::BSHD, 2, 10, 3, 64);
  EXPECT_EQ(bshd.seq, 3 * 64);
  EXPECT_EQ(bshd.head, 64);
  auto bhsd = testing::make_strides(Layout::BHSD, 2, 10, 3, 64);
  EXPECT_EQ(bhsd.seq, 64);
  EXPECT_EQ(bhsd.head, 10 * 64);
  EXPECT_EQ(bhsd.elems, 2 * 10 * 3 * 64);
  auto pad = testing::make_strides(Layout::Padded, 2, 10, 3, 64);
  EXPECT_GT(pad.head, 64);
  EXPECT_EQ(pad.head % 8, 0);  // 16-byte aligned rows for 2-byte types
}

}  // namespace
}  // namespace attnjit
