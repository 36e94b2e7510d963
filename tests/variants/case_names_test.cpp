// The test cases' names (PrefillCase in tests/common/gpu_test_util.h, RaggedCase in
// ragged_harness.h) read back, through parse_test_name, as the problem and run shape the case
// really runs, plus the words the keys lack.
#include <gtest/gtest.h>

#include "codegen/prefill/arguments.h"
#include "common/test_name.h"
#include "variants/ragged_harness.h"
#include "variants/user_cases.h"

namespace attnjit::testing {
namespace {

TEST(CaseNames, PrefillCasesReadBackAsTheProblemThatRuns) {
  const PrefillCase plain = mk(DType::BF16, 128, window(1024, 0), 2, 8, 2, 70, 100);
  PrefillCase rich = mk(DType::F16, 64, causal(), 1, 4, 1, 256, 256).with_alibi(true).with_sink();
  rich.softcap = 30.5;
  rich.layout = Layout::Padded;
  rich.with_lse = false;
  rich.scale = 0.125;
  const PrefillCase user = with(mk(DType::F32, 64, {}, 2, 4, 1, 200, 200), document(200, {37, 90, 73}, 32));
  for (const PrefillCase& c : {plain, rich, user}) {
    SCOPED_TRACE(c.name());
    const TestCaseName n = parse_test_name(c.name());
    EXPECT_EQ(n.problem, prefill_spec(c.problem()));
    EXPECT_EQ(n.shape, c.shape());
    EXPECT_FALSE(n.config);
  }
  EXPECT_EQ(plain.name(), "prefill_bf16_hd128_sw1024M0_g4_q128_k128__b2_hq8_hkv2_sq70_sk100");
  EXPECT_EQ(parse_test_name(rich.name()).problem->key(), "prefill_f16_hd64_causal_sc30.5_alibi_sink_g4_q256_k256_even");
  EXPECT_EQ(parse_test_name(rich.name()).detail, "padded_nolse_scale0.125_alibi_per_batch");
  EXPECT_EQ(parse_test_name(user.name()).detail, "doc32");
  const TileConfig cfg = TileConfig::parse("sm80_bm128_bn64_w4_s2");
  EXPECT_EQ(parse_test_name(plain.name(cfg)).config, cfg);
}

TEST(CaseNames, ACaseThatIsNoProblemIsNamedByItsShape) {
  const PrefillCase bad = mk(DType::BF16, 80, {}, 1, 1, 1, 16, 16);  // head dim 80: no kernel has it
  const TestCaseName n = parse_test_name(bad.name());
  EXPECT_FALSE(n.problem);
  EXPECT_EQ(n.shape, bad.shape());
}

TEST(CaseNames, RaggedCasesNameTheirCallAndEverySequence) {
  const variants_test::RaggedCase c = variants_test::ragged_case(DType::F32, 64, causal(), 4, 2, {50, 0, 7, 130},
                                                                 {260, 5, 7, 130}, true, 16);
  const variants_test::RaggedData x = variants_test::make_ragged(c);
  const TestCaseName n = parse_test_name(c.name());
  EXPECT_EQ(n.problem, prefill_spec(x.args.problem));
  EXPECT_EQ(n.problem->key(), "prefill_f32_hd64_causal_g2_q256_k512_p16_varlen");
  EXPECT_EQ(n.shape, prefill_shape(x.args.problem));
  EXPECT_EQ(n.detail, "q50-0-7-130_k260-5-7-130");
}

}  // namespace
}  // namespace attnjit::testing
