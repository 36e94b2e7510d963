// ALiBi and attention sinks end to end on the CPU backend: the public Runtime (argument checks,
// spec, codegen, clang JIT) against the float64 reference (testing::check_outputs, outputs
// poisoned first), with uneven lengths, GQA, per-batch slopes, fully masked rows, soft-capping
// underneath; the problem key's new fields; the arguments' checks; sm90 refusing both.
// Registered with the ctest label `variants` (tests/cpu/tests.cmake).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "attnjit/runtime.h"
#include "codegen/kernel_template.h"
#include "codegen/registry.h"
#include "common/gpu_test_util.h"
#include "runtime/reference_attention.h"

namespace attnjit {
namespace {

using testing::PrefillCase;

Runtime& cpu_runtime() {
  static std::unique_ptr<Runtime> rt = Runtime::create(BackendKind::Cpu, {.disk_cache = false});
  return *rt;
}

MaskSpec causal() { return {MaskKind::Causal, 0, 0}; }
MaskSpec window(int64_t l, int64_t r) { return {MaskKind::SlidingWindow, l, r}; }

void expect_ok(const PrefillCase& c, int64_t masked_rows = 0) {
  const testing::CheckReport r = testing::run_and_check(cpu_runtime(), c);
  EXPECT_TRUE(r.ok) << c.name() << "\n" << r.message;
  EXPECT_EQ(r.masked_rows, masked_rows) << c.name();
}

TEST(PrefillCpuVariants, AlibiMatchesReference) {
  expect_ok(PrefillCase::make(DType::F32, 64, {}, 70, 45, 2, 4, 2).with_alibi(true));
  expect_ok(PrefillCase::make(DType::BF16, 64, causal(), 100, 130, 1, 2, 1).with_alibi());
  expect_ok(PrefillCase::make(DType::F16, 128, window(20, 3), 65, 65, 1, 2, 2).with_alibi());
  expect_ok(PrefillCase::make(DType::F32, 64, causal(), 127, 33, 1, 2, 1).with_alibi(), 2 * (127 - 33));
  expect_ok(PrefillCase::make(DType::BF16, 64, causal(), 128, 128, 1, 2, 2).with_alibi());  // even lengths
  PrefillCase capped = PrefillCase::make(DType::F32, 64, causal(), 90, 90, 1, 2, 1).with_alibi();
  capped.softcap = 5;
  capped.scale = 0.5;
  expect_ok(capped);
}

TEST(PrefillCpuVariants, SinksMatchReference) {
  expect_ok(PrefillCase::make(DType::F32, 64, {}, 70, 45, 2, 4, 2).with_sink());
  expect_ok(PrefillCase::make(DType::BF16, 64, causal(), 100, 130, 1, 2, 1).with_sink());
  // Fully masked rows: O = 0 and LSE = the sink (causal with seqlen_q > seqlen_k; a window that
  // ends before the first key).
  expect_ok(PrefillCase::make(DType::F32, 64, causal(), 127, 33, 1, 2, 1).with_sink(), 2 * (127 - 33));
  expect_ok(PrefillCase::make(DType::F16, 64, window(8, 0), 140, 40, 1, 2, 2).with_sink(), 2 * 100);
  expect_ok(PrefillCase::make(DType::F32, 128, {}, 33, 100, 1, 4, 1).with_alibi().with_sink());
}

// The checks above would pass for a kernel that ignored the variant only if the variant changed
// nothing: show that ALiBi and sinks each move the reference far beyond the tolerance.
TEST(PrefillCpuVariants, VariantsChangeTheReference) {
  for (int which = 0; which < 2; ++which) {
    PrefillCase c = PrefillCase::make(DType::F32, 64, causal(), 40, 40, 1, 1, 1);
    (which == 0 ? c.alibi : c.sink) = true;
    testing::PrefillData x = testing::make_data(c);
    testing::Outputs with = testing::reference_outputs(x);
    x.slopes.clear();
    x.sinks.clear();
    testing::Outputs without = testing::reference_outputs(x);
    double diff = 0;
    for (size_t i = 0; i < with.o.size(); ++i) diff = std::max(diff, std::abs(with.o[i] - without.o[i]));
    EXPECT_GT(diff, 0.05) << (which == 0 ? "alibi" : "sink");
  }
}

// ---- The problem key ----

TEST(PrefillVariantsKey, RoundTrips) {
  for (const char* key : {"prefill_bf16_hd128_causal_alibi_g4_q4096_k4096",
                          "prefill_f16_hd64_none_sink_g1_q16_k32",
                          "prefill_bf16_hd128_sw256-0_sc50_alibi_sink_g8_q1024_k1024_even"}) {
    const ProblemSpec s = ProblemSpec::parse(key);
    EXPECT_EQ(s.key(), key);
    EXPECT_EQ(ProblemSpec::parse(s.key()), s);
  }
  const ProblemSpec s = ProblemSpec::parse("prefill_bf16_hd128_causal_sc30.5_alibi_sink_g4_q4096_k4096");
  EXPECT_TRUE(s.alibi);
  EXPECT_TRUE(s.sink);
  EXPECT_EQ(s.softcap, 30.5);
  EXPECT_FALSE(ProblemSpec::parse("prefill_bf16_hd128_causal_g4_q4096_k4096").alibi);
}

void expect_spec_error(const std::string& key, const std::string& names) {
  try {
    ProblemSpec::parse(key);
    ADD_FAILURE() << key << " parsed";
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find(names), std::string::npos) << key << ": " << e.what();
  }
}

TEST(PrefillVariantsKey, RejectsMisplacedOrRepeated) {
  expect_spec_error("prefill_bf16_hd128_causal_sink_alibi_g4_q4096_k4096", "alibi");
  expect_spec_error("prefill_bf16_hd128_causal_alibi_alibi_g4_q4096_k4096", "alibi");
  expect_spec_error("prefill_bf16_hd128_causal_alibi_sc50_g4_q4096_k4096", "sc50");
  expect_spec_error("prefill_bf16_hd128_alibi_causal_g4_q4096_k4096", "mask");
  expect_spec_error("prefill_bf16_hd128_causal_g4_q4096_k4096_alibi", "alibi");
  expect_spec_error("prefill_bf16_hd128_causal_alibis_g4_q4096_k4096", "alibis");
  expect_spec_error("decode_bf16_hd128_none_sink_alibi_g8_q1_k4096_p0", "alibi");  // decode: the same order
}

// ---- Arguments ----

struct HostCase {
  PrefillArgs a;
  std::vector<float> q, k, v, o, lse, slopes, sinks;
  HostCase() {
    const int64_t b = 1, h = 4, s = 16, d = 32;
    a.problem = {DType::F32, int(d), {}, b, h, h, s, s};
    a.problem.alibi = a.problem.sink = true;
    for (auto* t : {&q, &k, &v, &o}) t->assign(size_t(b * s * h * d), 0.5f);
    lse.assign(size_t(b * h * s), 0.f);
    slopes = {0.5f, 0.25f, 0.125f, 0.0625f};
    sinks = {0.f, 1.f, -1.f, -std::numeric_limits<float>::infinity()};
    a.q = TensorView::bshd(q.data(), s, h, d);
    a.k = TensorView::bshd(k.data(), s, h, d);
    a.v = TensorView::bshd(v.data(), s, h, d);
    a.o = TensorView::bshd(o.data(), s, h, d);
    a.lse = LseView::dense(lse.data(), h, s);
    a.alibi_slopes = slopes.data();
    a.sinks = sinks.data();
  }
};

void expect_arg_error(const PrefillArgs& a, const std::string& names) {
  try {
    cpu_runtime().prefill(a);
    ADD_FAILURE() << "accepted; expected an error naming " << names;
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find(names), std::string::npos) << e.what();
  }
}

TEST(PrefillVariantsArgs, ValidCallRunsAndSinkOfMinusInfinityIsNoSink) {
  HostCase c;
  cpu_runtime().prefill(c.a);
  for (float x : c.o) ASSERT_TRUE(std::isfinite(x));
  for (float x : c.lse) ASSERT_TRUE(std::isfinite(x));
}

TEST(PrefillVariantsArgs, BadInputNamesTheArgument) {
  {
    HostCase c;
    c.a.alibi_slopes = nullptr;
    expect_arg_error(c.a, "alibi_slopes");
  }
  {
    HostCase c;
    c.a.problem.sink = false;
    expect_arg_error(c.a, "sinks");
  }
  {
    HostCase c;
    c.slopes[1] = std::nanf("");
    expect_arg_error(c.a, "alibi_slopes[0, 1]");
  }
  {
    HostCase c;
    c.slopes[3] = std::numeric_limits<float>::infinity();
    expect_arg_error(c.a, "alibi_slopes[0, 3]");
  }
  {
    HostCase c;
    c.sinks[2] = std::nanf("");
    expect_arg_error(c.a, "sinks[2]");
  }
  {
    HostCase c;
    c.a.alibi_batch_stride = 2;  // fewer than heads_q slopes per batch entry
    expect_arg_error(c.a, "alibi_batch_stride");
  }
}

// ---- Templates ----

// sm90 runs ALiBi and sinks, but sm80's default serves them until a GPU has checked sm90 there.
TEST(PrefillVariantsTemplates, Sm90RunsThemByChoiceSm80ByDefault) {
  const Target h100 = Target::cuda("sm_90a");
  for (const char* key : {"prefill_bf16_hd128_causal_alibi_g1_q4096_k4096",
                          "prefill_bf16_hd128_causal_sink_g1_q4096_k4096"}) {
    const ProblemSpec spec = ProblemSpec::parse(key);
    for (const KernelTemplate* t : all_templates()) {
      if (t->short_name() != "sm90") continue;
      EXPECT_TRUE(t->supports(spec, h100)) << key;
      EXPECT_FALSE(t->default_for(spec, h100)) << key;
      EXPECT_FALSE(t->can_implement(spec, t->default_config(spec, h100), h100)) << key;
    }
    EXPECT_EQ(select_template(spec, h100).default_config(spec, h100).tmpl, "sm80") << key;
  }
}

}  // namespace
}  // namespace attnjit
