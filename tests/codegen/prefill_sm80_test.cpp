// prefill_sm80 generator: legality (can_implement reasons), search space, defaults, rendering
// (determinism, prelude, headers) and launch geometry. No compiler or GPU needed.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

#include "codegen/embedded_templates.h"
#include "codegen/kernel_template.h"
#include "common/prefill_problem.h"

namespace attnjit {

const KernelTemplate& prefill_sm80_template();

namespace {

const KernelTemplate& tmpl() { return prefill_sm80_template(); }

ProblemSpec spec(DType dt, int hd, MaskSpec mask = {}, bool even = false) {
  return testing::make_prefill_spec(dt, hd, mask, 4, 4096, even);
}

TileConfig cfg(int bm, int bn, int w, int s) { return {bm, bn, w, s}; }

const MaskSpec kMasks[] = {{MaskKind::None, 0, 0}, {MaskKind::Causal, 0, 0},
                           {MaskKind::SlidingWindow, 256, 0}, {MaskKind::SlidingWindow, 100, 37}};

// The reason must exist and mention `word` (the field it is about).
void expect_reason(const ProblemSpec& s, const TileConfig& c, const Target& t, const std::string& word) {
  auto why = tmpl().can_implement(s, c, t);
  ASSERT_TRUE(why.has_value()) << c.key() << " on " << t.key() << " should be illegal";
  EXPECT_NE(why->find(word), std::string::npos) << *why;
}

TEST(PrefillSm80Template, SupportsPrefillF16Bf16OnEveryCudaArch) {
  for (const auto& arch : Target::cuda_archs()) {
    const Target t = Target::cuda(arch);
    EXPECT_TRUE(tmpl().supports(spec(DType::F16, 128), t)) << arch;
    EXPECT_TRUE(tmpl().supports(spec(DType::BF16, 64), t)) << arch;
    EXPECT_FALSE(tmpl().supports(spec(DType::F32, 64), t)) << arch;
    ProblemSpec d = spec(DType::BF16, 128);
    d.family = Family::Decode;
    d.seqlen_q = 1;
    EXPECT_FALSE(tmpl().supports(d, t)) << arch;
  }
  EXPECT_FALSE(tmpl().supports(spec(DType::BF16, 128), Target::cpu("icelake-client")));
  Target odd = Target::cuda("sm_80");
  odd.arch = "sm_75";
  EXPECT_FALSE(tmpl().supports(spec(DType::BF16, 128), odd));
  EXPECT_EQ(tmpl().name(), "prefill_sm80");
}

TEST(PrefillSm80Template, CanImplementNamesTheReason) {
  const Target a100 = Target::cuda("sm_80");
  const Target ada = Target::cuda("sm_89");
  const ProblemSpec s = spec(DType::BF16, 128);
  EXPECT_FALSE(tmpl().can_implement(s, cfg(128, 64, 8, 2), a100).has_value());
  expect_reason(s, cfg(96, 64, 4, 2), a100, "block_m");
  expect_reason(s, cfg(128, 48, 8, 2), a100, "block_n");
  expect_reason(s, cfg(128, 64, 2, 2), a100, "warps");
  expect_reason(s, cfg(128, 64, 8, 0), a100, "stages");
  expect_reason(s, cfg(128, 64, 8, 5), a100, "stages");
  expect_reason(s, cfg(64, 64, 8, 2), a100, "block_m");  // 8 rows per warp
  TileConfig split = cfg(128, 64, 8, 2);
  split.splits = 4;
  expect_reason(s, split, a100, "splits");
  // hd256: (128 + 2*2*64) * 256 * 2 = 196608 bytes > sm_80's 166912, fits sm_90a's 232448.
  const ProblemSpec big = spec(DType::F16, 256);
  expect_reason(big, cfg(128, 64, 8, 2), a100, "shared memory");
  EXPECT_FALSE(tmpl().can_implement(big, cfg(128, 64, 8, 2), Target::cuda("sm_90a")).has_value());
  // 98304 bytes: fits sm_89's 101376; 3 stages (131072) do not.
  EXPECT_FALSE(tmpl().can_implement(s, cfg(128, 64, 8, 2), ada).has_value());
  expect_reason(s, cfg(128, 64, 8, 3), ada, "shared memory");
  // Two m16 tiles per warp with hd128 and block_n 64: 2 * (16 + 8) * 4 = 192 accumulators.
  expect_reason(s, cfg(128, 64, 4, 1), a100, "registers");
  expect_reason(spec(DType::F16, 32), cfg(128, 128, 4, 1), a100, "registers");
  EXPECT_FALSE(tmpl().can_implement(spec(DType::F16, 64), cfg(128, 64, 4, 2), a100).has_value());
  Target small = a100;
  small.max_threads_per_block = 128;
  expect_reason(s, cfg(128, 64, 8, 1), small, "threads");
  // Not this template's problem at all.
  EXPECT_TRUE(tmpl().can_implement(spec(DType::F32, 128), cfg(128, 64, 8, 2), a100).has_value());
  ProblemSpec bad_hd = s;
  bad_hd.head_dim = 80;
  expect_reason(bad_hd, cfg(128, 64, 8, 2), a100, "head_dim");
}

TEST(PrefillSm80Template, SearchSpaceIsLegalUniqueAndHoldsTheDefault) {
  for (const auto& arch : Target::cuda_archs()) {
    const Target t = Target::cuda(arch);
    for (DType dt : {DType::F16, DType::BF16})
      for (int hd : kHeadDims)
        for (const MaskSpec& m : kMasks)
          for (bool even : {false, true}) {
            const ProblemSpec s = spec(dt, hd, m, even);
            SCOPED_TRACE(s.key() + " on " + arch);
            const auto space = tmpl().search_space(s, t);
            ASSERT_GE(space.size(), 3u);
            std::set<std::string> keys;
            for (const TileConfig& c : space) {
              EXPECT_FALSE(tmpl().can_implement(s, c, t).has_value()) << c.key();
              EXPECT_TRUE(keys.insert(c.key()).second) << "duplicate " << c.key();
            }
            const TileConfig d = tmpl().default_config(s, t);
            EXPECT_TRUE(keys.count(d.key())) << "default " << d.key() << " not in the space";
          }
  }
}

TEST(PrefillSm80Template, DefaultsFollowTheArch) {
  // Head dim 256: 128 KB tiles on sm_80, 96 KB on the 99 KB parts.
  EXPECT_EQ(tmpl().default_config(spec(DType::BF16, 256), Target::cuda("sm_80")).key(), "sm80_bm128_bn64_w8_s1");
  EXPECT_EQ(tmpl().default_config(spec(DType::BF16, 256), Target::cuda("sm_86")).key(), "sm80_bm64_bn64_w4_s1");
  // sm_90a: the configs tuning picked on an H100 (codegen/prefill/sm80.cpp hopper_defaults).
  const Target h100 = Target::cuda("sm_90a");
  const MaskSpec causal{MaskKind::Causal, 0, 0};
  EXPECT_EQ(tmpl().default_config(spec(DType::BF16, 256), h100).key(), "sm80_bm64_bn64_w4_s1");
  EXPECT_EQ(tmpl().default_config(spec(DType::BF16, 128), h100).key(), "sm80_bm128_bn128_w8_s1");
  EXPECT_EQ(tmpl().default_config(spec(DType::BF16, 128, causal), h100).key(), "sm80_bm64_bn128_w4_s1");
  EXPECT_EQ(tmpl().default_config(spec(DType::F16, 64), h100).key(), "sm80_bm128_bn64_w4_s1");
  ProblemSpec short_causal = spec(DType::BF16, 128, causal);
  short_causal.seqlen_q = short_causal.seqlen_k = 1024;
  EXPECT_EQ(tmpl().default_config(short_causal, h100).key(), "sm80_bm64_bn64_w4_s3");
  // A mask_mod (documents) or a block mask alone takes the masked shape.
  ProblemSpec documents = spec(DType::BF16, 128);
  documents.mask_mod = "0123456789abcdef";
  EXPECT_EQ(tmpl().default_config(documents, h100).key(), "sm80_bm64_bn128_w4_s1");
  documents.block_sparse = 128;
  EXPECT_EQ(tmpl().default_config(documents, h100).key(), "sm80_bm64_bn128_w4_s1");
  documents.mask_mod.clear();
  EXPECT_EQ(tmpl().default_config(documents, h100).key(), "sm80_bm64_bn128_w4_s1");
  // A config the spec cannot take falls through to the generic rule: every default is legal.
  for (int hd : kHeadDims)
    for (MaskSpec m : {MaskSpec{}, causal, MaskSpec{MaskKind::SlidingWindow, 100, 17}}) {
      const ProblemSpec s = spec(DType::BF16, hd, m);
      EXPECT_FALSE(tmpl().can_implement(s, tmpl().default_config(s, h100), h100).has_value()) << s.key();
    }
  EXPECT_EQ(tmpl().default_config(spec(DType::F16, 128), Target::cuda("sm_89")).key(), "sm80_bm128_bn64_w8_s2");
  EXPECT_EQ(tmpl().default_config(spec(DType::F16, 64), Target::cuda("sm_80")).key(), "sm80_bm128_bn128_w8_s2");
}

TEST(PrefillSm80Template, RenderIsDeterministicAndKeyed) {
  const Target t = Target::cuda("sm_90a");
  const ProblemSpec s = spec(DType::BF16, 128, {MaskKind::Causal, 0, 0});
  const KernelSource a = tmpl().render(s, cfg(128, 64, 8, 2), t);
  const KernelSource b = tmpl().render(s, cfg(128, 64, 8, 2), t);
  EXPECT_EQ(a.hash, b.hash);
  EXPECT_EQ(a.text, b.text);
  ASSERT_EQ(a.hash.size(), 32u);
  EXPECT_EQ(a.name, "prefill_sm80/" + s.key() + "/bm128_bn64_w8_s2/sm_90a");
  EXPECT_EQ(a.arch, "sm_90a");
  EXPECT_EQ(a.platform, Platform::Cuda);
  EXPECT_EQ(a.entry,
            "attnjit::prefill_sm80_kernel<attnjit::PrefillSm80Traits<attnjit::sm80::Bf16, 128, "
            "128, 64, 8, 2, attnjit::sm80::MaskCausal, false>>");

  // Every knob and every spec field the kernel depends on changes the hash.
  std::set<std::string> hashes{a.hash};
  auto add = [&](const KernelSource& k) { EXPECT_TRUE(hashes.insert(k.hash).second) << k.name; };
  add(tmpl().render(s, cfg(128, 64, 8, 1), t));
  add(tmpl().render(s, cfg(128, 32, 8, 2), t));
  add(tmpl().render(s, cfg(64, 64, 4, 2), t));
  add(tmpl().render(spec(DType::F16, 128, {MaskKind::Causal, 0, 0}), cfg(128, 64, 8, 2), t));
  add(tmpl().render(spec(DType::BF16, 128, {MaskKind::Causal, 0, 0}, true), cfg(128, 64, 8, 2), t));
  add(tmpl().render(spec(DType::BF16, 128), cfg(128, 64, 8, 2), t));
  add(tmpl().render(spec(DType::BF16, 128, {MaskKind::SlidingWindow, 256, 0}), cfg(128, 64, 8, 2), t));
  add(tmpl().render(spec(DType::BF16, 128, {MaskKind::SlidingWindow, 256, 1}), cfg(128, 64, 8, 2), t));
  add(tmpl().render(spec(DType::BF16, 96, {MaskKind::Causal, 0, 0}), cfg(128, 64, 8, 2), t));
  add(tmpl().render(s, cfg(128, 64, 8, 2), Target::cuda("sm_80")));
}

TEST(PrefillSm80Template, RenderEmitsAPreludeWhoseIncludesAreAllEmbedded) {
  const KernelSource k = tmpl().render(spec(DType::F16, 64, {MaskKind::SlidingWindow, 1024, 3}),
                                       cfg(128, 128, 8, 2), Target::cuda("sm_80"));
  EXPECT_NE(k.text.find("#include \"prefill/sm80.cuh\""), std::string::npos);
  EXPECT_NE(k.text.find("MaskSlidingWindow<1024, 3>"), std::string::npos);
  EXPECT_LT(k.text.size(), 1000u) << "the prelude must stay small; the body is the template";
  // Include closure: every #include "x" in the text and the headers is itself provided.
  std::set<std::string> provided;
  for (const auto& [n, c] : k.headers) {
    provided.insert(n);
    EXPECT_EQ(c, templates::get(n)) << n;
  }
  const std::regex inc("#include \"([^\"]+)\"");
  auto check = [&](const std::string& text, const std::string& from) {
    for (std::sregex_iterator it(text.begin(), text.end(), inc), end; it != end; ++it)
      EXPECT_TRUE(provided.count((*it)[1])) << from << " includes " << (*it)[1];
  };
  check(k.text, "prelude");
  for (const auto& [n, c] : k.headers) check(c, n);
  // No host headers: NVRTC compiles with no include path.
  for (const auto& [n, c] : k.headers) EXPECT_EQ(c.find("#include <"), std::string::npos) << n;
  EXPECT_NE(std::find(k.options.begin(), k.options.end(), "-std=c++17"), k.options.end());
}

TEST(PrefillSm80Template, HugeWindowsAreCappedNotOverflowed) {
  const Target t = Target::cuda("sm_80");
  const KernelSource k = tmpl().render(spec(DType::F16, 64, {MaskKind::SlidingWindow, int64_t{1} << 40, 0}),
                                       cfg(128, 64, 8, 2), t);
  EXPECT_NE(k.entry.find("MaskSlidingWindow<4294967296, 0>"), std::string::npos) << k.entry;
}

TEST(PrefillSm80Template, RenderRejectsIllegalConfigs) {
  EXPECT_THROW(tmpl().render(spec(DType::F16, 256), cfg(128, 128, 8, 3), Target::cuda("sm_86")), SpecError);
  EXPECT_THROW(tmpl().render(spec(DType::F32, 64), cfg(128, 64, 8, 2), Target::cuda("sm_80")), SpecError);
}

TEST(PrefillSm80Template, GeometryCoversTheQueryTiles) {
  const Target t = Target::cuda("sm_80");
  const ProblemSpec s = spec(DType::BF16, 128);  // group 4
  RunShape shape{3, 32, 8, 1000, 777};
  LaunchGeometry g = tmpl().geometry(s, cfg(128, 64, 8, 2), t, shape);
  EXPECT_EQ(g.grid[0], 8u);  // ceil(1000 / 128)
  EXPECT_EQ(g.grid[1], 32u);
  EXPECT_EQ(g.grid[2], 3u);
  EXPECT_EQ(g.block[0], 256u);
  EXPECT_EQ(g.block[1], 1u);
  EXPECT_EQ(g.dynamic_smem, (128u + 2 * 2 * 64) * 128 * 2);  // 98304
  g = tmpl().geometry(s, cfg(64, 32, 4, 3), t, shape);
  EXPECT_EQ(g.grid[0], 16u);
  EXPECT_EQ(g.block[0], 128u);
  EXPECT_EQ(g.dynamic_smem, (64u + 2 * 3 * 32) * 128 * 2);

  RunShape bad = shape;
  bad.heads_kv = 16;  // group 2, spec says 4
  EXPECT_THROW(tmpl().geometry(s, cfg(128, 64, 8, 2), t, bad), SpecError);
  bad = shape;
  bad.seqlen_q = 0;
  EXPECT_THROW(tmpl().geometry(s, cfg(128, 64, 8, 2), t, bad), SpecError);
  // The even kernel has no bounds checks: refuse lengths it was not specialized for.
  const ProblemSpec even = spec(DType::BF16, 128, {}, true);
  EXPECT_THROW(tmpl().geometry(even, cfg(128, 64, 8, 2), t, shape), SpecError);
  shape.seqlen_q = 1024;
  shape.seqlen_k = 384;
  EXPECT_NO_THROW(tmpl().geometry(even, cfg(128, 64, 8, 2), t, shape));
  EXPECT_THROW(tmpl().geometry(s, cfg(128, 64, 4, 2), t, shape), SpecError);  // illegal config
}

TEST(PrefillSm80Template, VersionHashCoversTheTemplateFiles) {
  const std::string h = tmpl().version_hash();
  EXPECT_EQ(h.size(), 32u);
  EXPECT_EQ(h, tmpl().version_hash());
  EXPECT_NE(h, "none");
}

}  // namespace
}  // namespace attnjit
