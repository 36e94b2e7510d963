// User score_mod / mask_mod snippets and block masks on the CPU backend, against the float64
// reference fed by independent C++ lambdas: relative bias, a per-head bias table (aux f32),
// document masking (aux i32) dense and block-sparse, Longformer's local + global pattern, GQA,
// uneven lengths, fully masked rows, poisoned outputs; snippet compile errors.
#include <gtest/gtest.h>

#include "codegen/prefill/arguments.h"
#include "common/gpu_test_util.h"
#include "codegen/snippet.h"
#include "variants/user_cases.h"

#if defined(ATTNJIT_WITH_LLVM)
#include "runtime/cpu/cpu_backend.h"

namespace attnjit::testing {
namespace {

Runtime& cpu_runtime() {
  static std::unique_ptr<Runtime> rt = [] {
    CpuBackendOptions o;
    o.use_disk_cache = false;
    return std::make_unique<Runtime>(make_cpu_backend(o));
  }();
  return *rt;
}

// Soft-capping (which maps -inf to -cap, so the keys a block does not compute must be hidden
// after it) and ALiBi on top of a case's snippets.
PrefillCase softcapped(PrefillCase c, double cap) {
  c.softcap = cap;
  return c.with_alibi();
}

// A case's mask_mod with relative_bias()'s score_mod on top (the score_mod runs only on the keys a
// masked block computes).
UserCase with_bias(UserCase u) {
  const UserCase r = relative_bias();
  u.name += "-relbias";
  u.score_mod = r.score_mod;
  u.score_ref = r.score_ref;
  return u;
}

std::vector<PrefillCase> cases() {
  const DType F = DType::F32, B = DType::BF16;
  return {
      with(mk(F, 64, {}, 1, 2, 2, 70, 45), relative_bias()),
      with(mk(F, 64, causal(), 2, 4, 2, 100, 130), head_bias(4)),             // GQA, uneven
      with(mk(B, 128, {}, 1, 2, 1, 127, 127), head_bias(2)),
      with(mk(F, 64, {}, 1, 2, 2, 200, 200), document(200, {37, 90, 73}, 0)),  // dense doc mask
      with(mk(F, 64, {}, 2, 4, 1, 200, 200), document(200, {37, 90, 73}, 32)), // block-sparse
      with(mk(F, 64, causal(), 1, 2, 2, 256, 256), document(256, {64}, 64)),   // even, aligned
      with(mk(B, 64, {}, 1, 2, 2, 300, 300), document(300, {100, 50}, 64)),
      // Tiles of 128 over the kernel's smaller blocks: ragged documents leave whole blocks of a
      // partial tile empty, which the kernel skips (eval_mask_mod); some rows of a visited block
      // see nothing in it.
      with(mk(F, 64, {}, 1, 2, 2, 333, 333), document(333, {45, 170, 118}, 128)),
      with(mk(B, 128, causal(), 2, 4, 2, 300, 300), document(300, {20, 140, 65, 75}, 128)),
      softcapped(with(mk(F, 64, {}, 1, 2, 2, 260, 260), document(260, {30, 150, 80}, 128)), 5.0),  // + ALiBi
      with(mk(F, 64, causal(), 1, 2, 1, 290, 290), with_bias(document(290, {50, 130, 110}, 128))),
      with(mk(F, 32, {}, 1, 1, 1, 190, 190), longformer(20, 3, 0)),
      with(mk(F, 32, {}, 1, 2, 1, 190, 190), longformer(20, 3, 32)),
      with(mk(F, 64, {}, 2, 2, 2, 77, 61), holes()),                           // fully masked rows
      with(mk(F, 64, causal(), 1, 2, 2, 90, 33), holes()),
  };
}

class UserModsCpu : public ::testing::TestWithParam<PrefillCase> {};

TEST_P(UserModsCpu, MatchesReference) {
  const PrefillCase& c = GetParam();
  const CheckReport r = run_and_check(cpu_runtime(), c);
  EXPECT_TRUE(r.ok) << c.name() << "\n" << r.message;
  if (!c.user.mask_mod.empty() && c.user.name == "holes") EXPECT_GT(r.masked_rows, 0);
}

INSTANTIATE_TEST_SUITE_P(Cases, UserModsCpu, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name(); });

TEST(UserModsCpu, SnippetChangesTheResultAndTheKey) {
  PrefillCase plain = mk(DType::F32, 64, {}, 1, 1, 1, 40, 40);
  PrefillCase biased = with(plain, relative_bias());
  const RunOutput a = run_case(cpu_runtime(), plain), b = run_case(cpu_runtime(), biased);
  EXPECT_NE(a.o_img, b.o_img);
  const ProblemSpec s1 = prefill_spec(plain.problem()), s2 = prefill_spec(biased.problem());
  EXPECT_EQ(s2.score_mod, snippet_hash(biased.user.score_mod));
  EXPECT_NE(s1.key(), s2.key());
  EXPECT_NE(s2.key().find("_sm" + s2.score_mod + "_g1"), std::string::npos) << s2.key();
}

TEST(BlockMaskCpu, DocumentMaskListsOnlyTouchedTiles) {
  // Documents of 64 tokens at tile 32: every tile on the block diagonal is full, the others
  // absent; with documents of 48 some tiles straddle a boundary and are partial.
  PrefillProblem p;
  p.dtype = DType::F32;
  p.head_dim = 64;
  p.seqlen_q = p.seqlen_k = 128;
  p.mask_mod = "return aux<int>(0)[q_idx] == aux<int>(0)[kv_idx];";
  for (int len : {64, 48}) {
    std::vector<int32_t> d = docs(128, {len});
    AuxTensor aux[kMaxAux];
    aux[0] = {d.data(), AuxType::I32, 128};
    const BlockMask bm = build_block_mask(cpu_runtime(), p, aux, 32);
    ASSERT_EQ(bm.view.q_tiles, 4);
    const BlockMask::Host h = bm.to_host(cpu_runtime());
    for (int qt = 0; qt < 4; ++qt) {
      std::vector<int> full, part;
      for (int kt = 0; kt < 4; ++kt) {
        bool any = false, all = true;
        for (int q = qt * 32; q < qt * 32 + 32; ++q)
          for (int k = kt * 32; k < kt * 32 + 32; ++k) {
            any |= d[q] == d[k];
            all &= d[q] == d[k];
          }
        if (any && all) full.push_back(kt);
        else if (any) part.push_back(kt);
      }
      ASSERT_EQ(h.full_kv_num_blocks[qt], static_cast<int>(full.size())) << "len " << len << " q tile " << qt;
      ASSERT_EQ(h.kv_num_blocks[qt], static_cast<int>(part.size())) << "len " << len << " q tile " << qt;
      for (size_t i = 0; i < full.size(); ++i) EXPECT_EQ(h.full_kv_indices[qt * 4 + i], full[i]);
      for (size_t i = 0; i < part.size(); ++i) EXPECT_EQ(h.kv_indices[qt * 4 + i], part[i]);
      if (len == 64) EXPECT_EQ(h.kv_num_blocks[qt], 0);
    }
  }
}

TEST(BlockMaskCpu, WrongTileOrMissingMaskIsAClearError) {
  PrefillCase c = with(mk(DType::F32, 64, {}, 1, 1, 1, 64, 64), document(64, {16}, 32));
  PrefillProblem p = c.problem();
  p.block_sparse = 48;
  EXPECT_THROW(prefill_spec(p), SpecError);
  // block_sparse without a block mask.
  PrefillArgs a;
  a.problem = c.problem();
  std::vector<float> q(64 * 64), o(64 * 64);
  a.q = a.k = a.v = TensorView::bshd(q.data(), 64, 1, 64);
  a.o = TensorView::bshd(o.data(), 64, 1, 64);
  std::vector<int32_t> d = docs(64, {16});
  a.aux[0] = {d.data(), AuxType::I32, 64};
  try {
    cpu_runtime().prefill(a);
    ADD_FAILURE() << "no error for a missing block mask";
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("block_mask.tile"), std::string::npos) << e.what();
  }
}

TEST(BlockMaskCpu, TemplatesRefuseBlocksLargerThanTheTile) {
  PrefillProblem p = with(mk(DType::F32, 64, {}, 1, 1, 1, 64, 64), document(64, {16}, 16)).problem();
  const ProblemSpec spec = prefill_spec(p);
  const KernelTemplate& t = select_template(spec, cpu_runtime().target());
  TileConfig c = t.default_config(spec, cpu_runtime().target());
  EXPECT_FALSE(t.can_implement(spec, c, cpu_runtime().target())) << c.key();
  c.block_n = 32;
  const auto why = t.can_implement(spec, c, cpu_runtime().target());
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("block_sparse"), std::string::npos) << *why;
}

// A snippet that does not compile: SnippetError quoting the compiler and the snippet's line.
TEST(SnippetErrorsCpu, QuoteTheCompilerAndTheLine) {
  PrefillCase c = mk(DType::F32, 64, {}, 1, 1, 1, 16, 16);
  c.user.mask_mod = "int a = q_idx;\nint b2 = kv_idx;\nreturn undefined_thing(a, b2);";
  try {
    run_case(cpu_runtime(), c);
    ADD_FAILURE() << "no error";
  } catch (const SnippetError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("mask_mod line 3"), std::string::npos) << m;
    EXPECT_NE(m.find("undefined_thing"), std::string::npos) << m;
    EXPECT_NE(m.find("3 | return undefined_thing(a, b2);"), std::string::npos) << m;
  }
  PrefillCase s = mk(DType::F32, 64, {}, 1, 1, 1, 16, 16);
  s.user.score_mod = "return score +;";
  try {
    run_case(cpu_runtime(), s);
    ADD_FAILURE() << "no error";
  } catch (const SnippetError& e) {
    EXPECT_NE(std::string(e.what()).find("score_mod line 1: error"), std::string::npos) << e.what();
  }
  // The runtime stays usable.
  EXPECT_TRUE(run_and_check(cpu_runtime(), mk(DType::F32, 64, {}, 1, 1, 1, 16, 16)).ok);
}

}  // namespace
}  // namespace attnjit::testing
#endif  // ATTNJIT_WITH_LLVM
