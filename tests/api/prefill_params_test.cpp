#include "codegen/prefill/arguments.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include "common/prefill_problem.h"

namespace attnjit {
namespace {

// Fake, well-aligned addresses: validation never dereferences them.
const void* addr(uintptr_t a) { return reinterpret_cast<const void*>(a); }

PrefillArgs valid_args() {
  PrefillArgs a;
  a.problem = testing::make_prefill_problem(DType::BF16, 64, {}, 100, 300, 2, 8, 2);
  a.q = TensorView::bshd(addr(0x10000), 100, 8, 64);
  a.k = TensorView::bshd(addr(0x20000), 300, 2, 64);
  a.v = TensorView::bhsd(addr(0x30000), 300, 2, 64);
  a.o = TensorView::bhsd(addr(0x40000), 100, 8, 64);
  return a;
}

// Expects SpecError whose message names `field`.
template <class F>
void expect_spec_error(F&& f, const std::string& field) {
  try {
    f();
    ADD_FAILURE() << "no SpecError for " << field;
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
  }
}

TEST(PrefillParams, FillsPointersStridesSizesAndScale) {
  PrefillArgs a = valid_args();
  float lse_dummy[4];
  a.lse = LseView::dense(lse_dummy, 8, 100);
  PrefillParams p = make_prefill_params(a, Platform::Cuda);
  EXPECT_EQ(p.q, a.q.data);
  EXPECT_EQ(p.o, a.o.data);
  EXPECT_EQ(p.lse, lse_dummy);
  EXPECT_EQ(p.q_batch_stride, 100 * 8 * 64);
  EXPECT_EQ(p.q_row_stride, 8 * 64);
  EXPECT_EQ(p.q_head_stride, 64);
  EXPECT_EQ(p.v_row_stride, 64);        // bhsd
  EXPECT_EQ(p.v_head_stride, 300 * 64);
  EXPECT_EQ(p.o_batch_stride, 8 * 100 * 64);
  EXPECT_EQ(p.lse_batch_stride, 800);
  EXPECT_EQ(p.lse_head_stride, 100);
  EXPECT_EQ(p.batch, 2);
  EXPECT_EQ(p.heads_q, 8);
  EXPECT_EQ(p.heads_kv, 2);
  EXPECT_EQ(p.seqlen_q, 100);
  EXPECT_EQ(p.seqlen_k, 300);
  EXPECT_FLOAT_EQ(p.scale, 0.125f);  // 1/sqrt(64)
  EXPECT_FLOAT_EQ(p.scale_log2, 0.125f * 1.4426950408889634f);
  a.problem.scale = 0.5;
  a.lse = {};
  p = make_prefill_params(a, Platform::Cuda);
  EXPECT_FLOAT_EQ(p.scale, 0.5f);
  EXPECT_EQ(p.lse, nullptr);
  EXPECT_EQ(p.lse_batch_stride, 0);
}

TEST(PrefillParams, RejectsBadSizes) {
  auto with = [](auto edit) {
    PrefillArgs a = valid_args();
    edit(a.problem);
    return a;
  };
  expect_spec_error([&] { make_prefill_params(with([](auto& p) { p.head_dim = 80; }), Platform::Cuda); }, "head_dim");
  expect_spec_error([&] { make_prefill_params(with([](auto& p) { p.batch = -1; }), Platform::Cuda); }, "batch");
  expect_spec_error([&] { make_prefill_params(with([](auto& p) { p.heads_q = 0; }), Platform::Cuda); }, "heads_q");
  expect_spec_error([&] { make_prefill_params(with([](auto& p) { p.heads_kv = 0; }), Platform::Cuda); }, "heads_kv");
  expect_spec_error([&] { make_prefill_params(with([](auto& p) { p.heads_kv = 3; }), Platform::Cuda); }, "multiple of heads_kv");
  expect_spec_error([&] { make_prefill_params(with([](auto& p) { p.seqlen_q = -5; }), Platform::Cuda); }, "seqlen_q");
  expect_spec_error([&] { make_prefill_params(with([](auto& p) { p.seqlen_k = -1; }), Platform::Cuda); }, "seqlen_k");
  expect_spec_error([&] { make_prefill_params(with([](auto& p) { p.seqlen_k = int64_t{1} << 33; }), Platform::Cuda); }, "seqlen_k");
  expect_spec_error([&] { make_prefill_params(with([](auto& p) { p.scale = std::nan(""); }), Platform::Cuda); }, "scale");
  expect_spec_error([&] { make_prefill_params(with([](auto& p) { p.scale = INFINITY; }), Platform::Cuda); }, "scale");
  expect_spec_error([&] {
    make_prefill_params(with([](auto& p) { p.mask = {MaskKind::SlidingWindow, -1, 0}; }), Platform::Cuda);
  }, "window_left");
  expect_spec_error([&] {
    make_prefill_params(with([](auto& p) { p.mask = {MaskKind::Causal, 5, 0}; }), Platform::Cuda);
  }, "window_left/window_right");
}

TEST(PrefillParams, RejectsNullPointers) {
  for (const char* t : {"q", "k", "v", "o"}) {
    PrefillArgs a = valid_args();
    TensorView* v = t[0] == 'q' ? &a.q : t[0] == 'k' ? &a.k : t[0] == 'v' ? &a.v : &a.o;
    v->data = nullptr;
    expect_spec_error([&] { make_prefill_params(a, Platform::Cpu); }, std::string(t) + ".data: null");
  }
}

TEST(PrefillParams, EmptyProblemsAllowNullAndNoKeysAllowNullKV) {
  PrefillArgs a = valid_args();
  a.problem.batch = 0;
  a.q.data = a.k.data = a.v.data = a.o.data = nullptr;
  EXPECT_NO_THROW(make_prefill_params(a, Platform::Cuda));
  PrefillArgs b = valid_args();
  b.problem.seqlen_k = 0;
  b.k.data = b.v.data = nullptr;
  EXPECT_NO_THROW(make_prefill_params(b, Platform::Cuda));
  b.o.data = nullptr;  // O is still written (zeros): required
  expect_spec_error([&] { make_prefill_params(b, Platform::Cuda); }, "o.data");
}

TEST(PrefillParams, RejectsNegativeStrides) {
  PrefillArgs a = valid_args();
  a.k.seq_stride = -64;
  expect_spec_error([&] { make_prefill_params(a, Platform::Cpu); }, "k.seq_stride");
  a = valid_args();
  a.q.batch_stride = -1;
  expect_spec_error([&] { make_prefill_params(a, Platform::Cpu); }, "q.batch_stride");
}

TEST(PrefillParams, InputsMayBroadcastOutputsMayNotOverlap) {
  PrefillArgs a = valid_args();
  a.k.batch_stride = 0;  // the same K for every batch entry: fine for an input
  a.v.batch_stride = 0;
  EXPECT_NO_THROW(make_prefill_params(a, Platform::Cuda));
  a.o.batch_stride = 0;  // two batch entries writing one place: not fine
  expect_spec_error([&] { make_prefill_params(a, Platform::Cuda); }, "o.batch_stride");
  a = valid_args();
  a.o.head_stride = 32;  // heads overlap within a row of 64
  expect_spec_error([&] { make_prefill_params(a, Platform::Cpu); }, "o.head_stride");
  a = valid_args();
  a.o = {a.o.data, 8 * 100 * 64, 64, 64 * 50};  // heads step 50 rows, 100 rows per head: overlap
  expect_spec_error([&] { make_prefill_params(a, Platform::Cpu); }, "o.");
  a = valid_args();
  float lse[1];
  a.lse = {lse, 800, 50};  // rows of 100 per head, heads 50 apart
  expect_spec_error([&] { make_prefill_params(a, Platform::Cpu); }, "lse.head_stride");
  a.lse = {lse, 800, -100};
  expect_spec_error([&] { make_prefill_params(a, Platform::Cpu); }, "lse.head_stride");
}

TEST(PrefillParams, OneSizedDimensionsIgnoreTheirStride) {
  PrefillArgs a = valid_args();
  a.problem.batch = 1;
  a.o.batch_stride = 0;   // never stepped
  a.q.batch_stride = 3;   // not a multiple of 8 but never used
  EXPECT_NO_THROW(make_prefill_params(a, Platform::Cuda));
}

TEST(PrefillParams, GpuNeeds16ByteAlignmentCpuOnlyElementAlignment) {
  PrefillArgs a = valid_args();
  a.q.data = addr(0x10002);  // 2-byte aligned
  expect_spec_error([&] { make_prefill_params(a, Platform::Cuda); }, "q.data");
  EXPECT_NO_THROW(make_prefill_params(a, Platform::Cpu));
  a.q.data = addr(0x10001);
  expect_spec_error([&] { make_prefill_params(a, Platform::Cpu); }, "q.data");
  a = valid_args();
  a.k.seq_stride = 2 * 64 + 4;  // rows not 16-byte aligned
  expect_spec_error([&] { make_prefill_params(a, Platform::Cuda); }, "k.seq_stride");
  EXPECT_NO_THROW(make_prefill_params(a, Platform::Cpu));
}

TEST(PrefillParams, SpecAndShapeFollowTheProblem) {
  PrefillProblem p = valid_args().problem;
  p.mask = {MaskKind::Causal, 0, 0};
  ProblemSpec s = prefill_spec(p);
  EXPECT_EQ(s.key(), "prefill_bf16_hd64_causal_g4_q128_k512");
  RunShape r = prefill_shape(p);
  EXPECT_EQ(r.batch, 2);
  EXPECT_EQ(r.heads_q, 8);
  EXPECT_EQ(r.heads_kv, 2);
  EXPECT_EQ(r.seqlen_q, 100);
  EXPECT_EQ(r.seqlen_k, 300);
  p.batch = 0;
  EXPECT_THROW(prefill_spec(p), SpecError);
}

TEST(TensorViews, BshdBhsdAndLseHelpers) {
  TensorView a = TensorView::bshd(nullptr, 10, 4, 64);
  EXPECT_EQ(a.batch_stride, 10 * 4 * 64);
  EXPECT_EQ(a.seq_stride, 4 * 64);
  EXPECT_EQ(a.head_stride, 64);
  TensorView b = TensorView::bhsd(nullptr, 10, 4, 64);
  EXPECT_EQ(b.batch_stride, 4 * 10 * 64);
  EXPECT_EQ(b.seq_stride, 64);
  EXPECT_EQ(b.head_stride, 10 * 64);
  LseView l = LseView::dense(nullptr, 4, 10);
  EXPECT_EQ(l.batch_stride, 40);
  EXPECT_EQ(l.head_stride, 10);
}

}  // namespace
}  // namespace attnjit
