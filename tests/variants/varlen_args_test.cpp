// The varlen / paged prefill layer below the kernels: the problem key (_p<P>, _varlen) read back
// exactly and bad keys rejected naming the field; argument checks naming the argument; the
// float64 varlen reference against the dense one; the sm90 template's refusal; launch geometry.
#include <gtest/gtest.h>

#include "codegen/prefill/arguments.h"
#include "codegen/registry.h"
#include "variants/ragged_harness.h"

namespace attnjit::variants_test {
namespace {

void expect_spec_error(const std::function<void()>& f, const std::string& field) {
  try {
    f();
    ADD_FAILURE() << "no SpecError (expected one naming " << field << ")";
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
  }
}

TEST(VarlenKey, RoundTripsExactly) {
  for (const char* k : {"prefill_bf16_hd128_causal_g4_q4096_k4096_varlen",
                        "prefill_f16_hd64_none_g1_q16_k1024_p1", "prefill_bf16_hd128_causal_g8_q512_k32768_p256",
                        "prefill_f32_hd64_sw128-0_sc50_g2_q256_k256_p16_varlen",
                        "prefill_bf16_hd128_causal_g4_q4096_k4096_even"}) {
    const ProblemSpec s = ProblemSpec::parse(k);
    EXPECT_EQ(s.key(), k);
  }
  ProblemSpec s = ProblemSpec::parse("prefill_bf16_hd64_causal_g1_q64_k1024_p32_varlen");
  EXPECT_TRUE(s.varlen);
  EXPECT_EQ(s.page_size, 32);
  EXPECT_FALSE(s.even);
}

TEST(VarlenKey, BadKeysNameTheField) {
  expect_spec_error([] { ProblemSpec::parse("prefill_bf16_hd64_causal_g1_q64_k64_p3"); }, "page_size");
  expect_spec_error([] { ProblemSpec::parse("prefill_bf16_hd64_causal_g1_q64_k64_p512"); }, "page_size");
  expect_spec_error([] { ProblemSpec::parse("prefill_bf16_hd64_causal_g1_q64_k64_p0"); }, "page_size");
  expect_spec_error([] { ProblemSpec::parse("prefill_bf16_hd64_causal_g1_q128_k128_varlen_even"); }, "even");
  expect_spec_error([] { ProblemSpec::parse("prefill_bf16_hd64_causal_g1_q128_k128_p16_even"); }, "even");
  expect_spec_error([] { ProblemSpec::parse("prefill_bf16_hd64_causal_g1_q64_k64_varlen_p16"); }, "varlen_p16");
  expect_spec_error([] { ProblemSpec::parse("prefill_bf16_hd64_causal_g1_q64_k64_varlen_varlen"); }, "varlen");
  expect_spec_error([] { ProblemSpec::parse("decode_bf16_hd64_none_g1_q1_k64_p16_varlen"); }, "varlen");
}

RaggedData good_varlen() {
  RaggedCase c;
  c.seqlens_q = {5, 0, 9};
  c.seqlens_k = {5, 3, 9};
  return make_ragged(c);
}

RaggedData good_paged() {
  RaggedCase c;
  c.seqlens_q = {4, 4};
  c.seqlens_k = {10, 4};
  c.varlen = false;
  c.page_size = 4;
  return make_ragged(c);
}

TEST(VarlenArgs, GoodArgumentsPass) {
  RaggedData v = good_varlen(), p = good_paged();
  const PrefillParams pv = make_prefill_params(v.args, Platform::Cpu);
  EXPECT_EQ(pv.cu_seqlens_q, v.cu_q.data());
  EXPECT_EQ(pv.total_q, 14);
  const PrefillParams pp = make_prefill_params(p.args, Platform::Cpu);
  EXPECT_EQ(pp.page_size, 4);
  EXPECT_EQ(pp.page_shift, 2);
  EXPECT_EQ(pp.block_table, p.block_table.data());
  EXPECT_EQ(prefill_spec(v.args.problem).key(), "prefill_f32_hd64_none_g1_q16_k16_varlen");
  EXPECT_EQ(prefill_spec(p.args.problem).key(), "prefill_f32_hd64_none_g1_q16_k16_p4");
}

TEST(VarlenArgs, BadCuSeqlensNameTheArgument) {
  auto bad = [](auto mutate, const std::string& field) {
    RaggedData x = good_varlen();
    mutate(x);
    expect_spec_error([&] { make_prefill_params(x.args, Platform::Cpu); }, field);
  };
  bad([](RaggedData& x) { x.cu_q = {0, 5, 4, 14}; x.args.cu_seqlens_q = x.cu_q.data(); }, "cu_seqlens_q: must be non-decreasing");
  bad([](RaggedData& x) { x.cu_q[0] = 1; }, "cu_seqlens_q[0]");
  bad([](RaggedData& x) { x.cu_q[3] = 13; }, "cu_seqlens_q[batch]");
  bad([](RaggedData& x) { x.cu_k[3] = 16; }, "cu_seqlens_k[batch]");
  bad([](RaggedData& x) { x.args.problem.seqlen_q = 8; }, "max_seqlen_q");
  bad([](RaggedData& x) { x.args.problem.seqlen_k = 8; }, "max_seqlen_k");
  bad([](RaggedData& x) { x.args.problem.seqlen_q = 4; }, "total_q");  // 3 * 4 < 14 rows
  bad([](RaggedData& x) { x.args.cu_seqlens_q = nullptr; }, "cu_seqlens_q: null");
  bad([](RaggedData& x) { x.args.cu_seqlens_k = nullptr; }, "cu_seqlens_k: null");
  bad([](RaggedData& x) { x.args.seqused_k = x.cu_q.data(); }, "seqused_k: not used");
  bad([](RaggedData& x) { x.args.block_table = x.cu_q.data(); }, "block_table: not used");
  bad([](RaggedData& x) { x.args.lse.head_stride = -1; }, "lse.head_stride");
  bad([](RaggedData& x) {
    x.args.cu_seqlens_q = reinterpret_cast<const int32_t*>(reinterpret_cast<const char*>(x.cu_q.data()) + 1);
  }, "cu_seqlens_q: not aligned");
}

TEST(VarlenArgs, BadPagedArgumentsNameTheArgument) {
  auto bad = [](auto mutate, const std::string& field) {
    RaggedData x = good_paged();
    mutate(x);
    expect_spec_error([&] { make_prefill_params(x.args, Platform::Cpu); }, field);
  };
  bad([](RaggedData& x) { x.block_table[0] = static_cast<int32_t>(x.num_pages); }, "block_table[0][0]");
  bad([](RaggedData& x) { x.block_table[1] = -1; }, "block_table[0][1]");
  bad([](RaggedData& x) { x.seqused_k[1] = 11; }, "seqused_k[1]");
  bad([](RaggedData& x) { x.args.seqused_k = nullptr; }, "seqused_k: null");
  bad([](RaggedData& x) { x.args.block_table = nullptr; }, "block_table: null");
  bad([](RaggedData& x) { x.args.block_table_stride = 1; }, "block_table_stride");
  bad([](RaggedData& x) { x.args.problem.page_size = 3; }, "page_size");
  bad([](RaggedData& x) { x.args.problem.page_size = 512; }, "page_size");
  bad([](RaggedData& x) { x.args.problem.max_pages = 2; }, "max_pages");
  bad([](RaggedData& x) { x.args.problem.num_pages = 0; }, "num_pages");
  bad([](RaggedData& x) { x.args.cu_seqlens_k = x.cu_k.data(); }, "cu_seqlens_k: not used");
  bad([](RaggedData& x) { x.args.cu_seqlens_q = x.block_table.data(); }, "cu_seqlens_q: not used");
}

TEST(VarlenArgs, KernelLayoutMustMatchTheArguments) {
  RaggedData v = good_varlen();
  const Target cpu = Target::cpu("x86-64");
  ProblemSpec dense = prefill_spec(v.args.problem);
  dense.varlen = false;
  expect_spec_error([&] { prefill_arguments(dense, LaunchArgs{&v.args, nullptr}, cpu); }, "varlen");
  ProblemSpec paged = prefill_spec(v.args.problem);
  paged.page_size = 16;
  expect_spec_error([&] { prefill_arguments(paged, LaunchArgs{&v.args, nullptr}, cpu); }, "page_size");
}

TEST(VarlenGeometry, OneTileNumberPerTileAtMostOneIdlePerSequence) {
  RaggedData v = good_varlen();
  v.args.problem.heads_q = 1;
  const ProblemSpec spec = prefill_spec(v.args.problem);
  const Target t = Target::cuda("sm_80");
  ProblemSpec s16 = ProblemSpec::parse("prefill_bf16_hd64_causal_g1_q1024_k1024_varlen");
  const KernelTemplate& tmpl = select_template(s16, t);
  EXPECT_EQ(tmpl.short_name(), "sm80");
  const TileConfig cfg = tmpl.default_config(s16, t);
  RunShape sh;
  sh.batch = 3;
  sh.seqlen_q = sh.seqlen_k = 1000;
  sh.total_q = 1000 + 300 + 1;
  const LaunchGeometry g = tmpl.geometry(s16, cfg, t, sh);
  EXPECT_EQ(g.grid[0], static_cast<unsigned>(sh.total_q / cfg.block_m + 3));
  EXPECT_EQ(g.grid[2], 1u);
  // The rendered kernel names its layout; the dense one keeps its short name.
  EXPECT_NE(tmpl.render(s16, cfg, t).entry.find(", false, true, false>"), std::string::npos);
  ProblemSpec dense = s16;
  dense.varlen = false;
  EXPECT_NE(tmpl.render(dense, cfg, t).entry.find("Causal, false>"), std::string::npos);
  (void)spec;
}

// sm90 runs varlen batches and pages of 8+ rows (in its search space; naming it gets its default)
// but does not take them by default until a GPU has checked it: sm80's default serves them. Pages
// under 8 rows it does not claim, and naming it says why.
TEST(VarlenGeometry, Sm90RunsVarlenAndPagedByChoiceSm80ByDefault) {
  const Target t = Target::cuda("sm_90a");
  for (const char* k : {"prefill_bf16_hd128_causal_g1_q1024_k1024_varlen", "prefill_bf16_hd128_causal_g1_q1024_k1024_p16",
                        "prefill_bf16_hd128_causal_g1_q1024_k1024_p16_varlen"}) {
    const ProblemSpec s = ProblemSpec::parse(k);
    int sm90 = 0;
    for (const TileConfig& c : search_space(s, t)) sm90 += c.tmpl == "sm90";
    EXPECT_GT(sm90, 0) << k;
    EXPECT_EQ(select_template(s, t).default_config(s, t).tmpl, "sm80") << k;
    TileConfig named;
    named.tmpl = "sm90";
    EXPECT_EQ(template_for(s, t, named).default_config(s, t).tmpl, "sm90") << k;
  }
  const ProblemSpec small = ProblemSpec::parse("prefill_bf16_hd128_causal_g1_q1024_k1024_p4");
  for (const KernelTemplate* tmpl : applicable_templates(small, t)) EXPECT_NE(tmpl->short_name(), "sm90");
  TileConfig named;
  named.tmpl = "sm90";
  try {
    template_for(small, t, named);
    ADD_FAILURE() << "sm90 accepted pages of 4";
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("page_size 4"), std::string::npos) << e.what();
  }
}

TEST(VarlenReference, EqualLengthsEqualTheDenseReference) {
  RaggedCase c;
  c.heads_q = 2;
  c.heads_kv = 1;
  c.mask = {MaskKind::Causal, 0, 0};
  c.seqlens_q = {7, 7};
  c.seqlens_k = {11, 11};
  RaggedData x = make_ragged(c);
  VarlenReferenceProblem vp;
  vp.heads_q = 2;
  vp.heads_kv = 1;
  vp.head_dim = 64;
  vp.mask = c.mask;
  vp.seqlens_q = c.seqlens_q;
  vp.seqlens_k = c.seqlens_k;
  std::vector<double> o1(x.q.size()), l1(28), o2(x.q.size()), l2(28);
  reference_attention_varlen(vp, x.q.data(), x.k.data(), x.v.data(), o1.data(), l1.data());
  const ReferenceProblem rp = reference_problem_at({2, 2, 1, 7, 11}, 64, c.mask);
  reference_attention(rp, x.q.data(), x.k.data(), x.v.data(), o2.data(), l2.data());
  EXPECT_EQ(o1, o2);
  // LSE: varlen [h, total] vs dense [b, h, s].
  for (int b = 0; b < 2; ++b)
    for (int h = 0; h < 2; ++h)
      for (int i = 0; i < 7; ++i) EXPECT_EQ(l1[h * 14 + b * 7 + i], l2[(b * 2 + h) * 7 + i]);
}

}  // namespace
}  // namespace attnjit::variants_test
