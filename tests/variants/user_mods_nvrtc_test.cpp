// User variants through NVRTC (no GPU needed): the sm80 prefill kernel with a score_mod, a
// mask_mod and a block mask compiles for sm_80 / sm_90a without spills; the block-mask builder
// kernel compiles; a snippet error comes back mapped to the snippet's line; sm90 refuses user
// variants with a reason.
#include <gtest/gtest.h>

#include "codegen/block_mask_source.h"
#include "codegen/prefill/arguments.h"
#include "codegen/registry.h"
#include "codegen/snippet.h"
#include "codegen/user_variant.h"
#include "runtime/nvrtc_compiler.h"
#include "common/require_nvrtc.h"
#include "common/prefill_problem.h"

namespace attnjit {
namespace {

ProblemSpec doc_spec(int block_sparse, std::string mask_mod) {
  PrefillProblem p = testing::make_prefill_problem(DType::BF16, 128, {MaskKind::Causal, 0, 0}, 4096, 4096, 1, 8, 2);
  p.score_mod = "return score + aux<float>(1)[h];";
  p.mask_mod = std::move(mask_mod);
  p.block_sparse = block_sparse;
  return prefill_spec(p);
}

TEST(UserModsNvrtc, Sm80KernelCompiles) {
  REQUIRE_NVRTC();
  for (int bs : {0, 128}) {
    const ProblemSpec spec = doc_spec(bs, "return aux<int>(0)[q_idx] == aux<int>(0)[kv_idx];");
    const Target tg = Target::cuda("sm_80");
    const KernelTemplate& t = select_template(spec, tg);
    EXPECT_EQ(t.short_name(), "sm80");
    const KernelSource src = t.render(spec, t.default_config(spec, tg), tg);
    const NvrtcResult r = Nvrtc::get().compile(src);
    EXPECT_FALSE(r.cubin.empty());
    EXPECT_EQ(r.resources.spill_store_bytes, 0) << spec.key() << "\n" << r.log;
  }
}

TEST(UserModsNvrtc, BlockMaskBuilderCompiles) {
  REQUIRE_NVRTC();
  const ProblemSpec spec = doc_spec(0, "return aux<int>(0)[q_idx] == aux<int>(0)[kv_idx];");
  const NvrtcResult r = Nvrtc::get().compile(render_block_mask_builder(spec, Target::cuda("sm_80")));
  EXPECT_FALSE(r.cubin.empty());
}

TEST(UserModsNvrtc, SnippetErrorNamesTheLine) {
  REQUIRE_NVRTC();
  const ProblemSpec spec = doc_spec(0, "int doc = 0;\nreturn doc == no_such_var;");
  const Target tg = Target::cuda("sm_80");
  const KernelTemplate& t = select_template(spec, tg);
  try {
    Nvrtc::get().compile(t.render(spec, t.default_config(spec, tg), tg));
    ADD_FAILURE() << "compiled";
  } catch (const BackendError& e) {
    try {
      throw_if_snippet_error(spec, e.what());
      ADD_FAILURE() << "not mapped: " << e.what();
    } catch (const SnippetError& s) {
      const std::string m = s.what();
      EXPECT_NE(m.find("mask_mod line 2: error"), std::string::npos) << m;
      EXPECT_NE(m.find("no_such_var"), std::string::npos) << m;
      EXPECT_NE(m.find("2 | return doc == no_such_var;"), std::string::npos) << m;
    }
  }
}

TEST(UserModsNvrtc, Sm90AndTileRulesRefuseWithAReason) {
  // sm90 runs user variants (by tuning or by choice; sm80's default serves them), but its blocks
  // must divide the block mask's tile: 192-row blocks (three consumers) do not divide 128.
  const ProblemSpec spec = doc_spec(128, "return true;");
  const Target h = Target::cuda("sm_90a");
  EXPECT_EQ(select_template(spec, h).default_config(spec, h).tmpl, "sm80");
  for (const KernelTemplate* t : all_templates()) {
    if (t->short_name() != "sm90") continue;
    EXPECT_TRUE(t->supports(spec, h));
    EXPECT_FALSE(t->can_implement(spec, t->default_config(spec, h), h));
    const auto why = t->can_implement(spec, TileConfig::parse("sm90_bm192_bn128_w4_s2_wg3"), h);
    ASSERT_TRUE(why);
    EXPECT_NE(why->find("must divide the block mask's tile"), std::string::npos) << *why;
  }
  // sm80 blocks must divide the tile: bs16 is finer than any sm80 block.
  const ProblemSpec fine = doc_spec(16, "return true;");
  const Target a = Target::cuda("sm_80");
  const KernelTemplate& t = select_template(fine, a);
  TileConfig c;
  c.block_m = 64;
  c.block_n = 32;
  c.warps = 4;
  c.stages = 2;
  const auto why = t.can_implement(fine, c, a);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("block_sparse"), std::string::npos) << *why;
}

}  // namespace
}  // namespace attnjit
