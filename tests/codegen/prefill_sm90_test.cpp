// prefill_sm90 generator: registration (sm_90a only, above prefill_sm80 since a GPU verified it),
// legality with reasons, search space and defaults, rendering, geometry, and build_arguments'
// tensor maps through the encoder seam (a recording encoder here; the emulator's in tests/emu).
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <tuple>
#include <utility>
#include <string>
#include <vector>

#include "codegen/kernel_template.h"
#include "codegen/snippet.h"
#include "codegen/prefill/sm90_tensor_map_cache.h"
#include "codegen/prefill/sm90_tensor_maps.h"
#include "codegen/registry.h"
#include "codegen/variant.h"
#include "common/prefill_problem.h"

namespace attnjit {
namespace {

ProblemSpec spec(DType dt, int hd, MaskSpec mask = {}) {
  return testing::make_prefill_spec(dt, hd, mask, 2, 4096);
}

const KernelTemplate& sm90(const ProblemSpec& s) {
  TileConfig named;
  named.tmpl = "sm90";
  return template_for(s, Target::cuda("sm_90a"), named);
}

TEST(PrefillSm90Codegen, RegisteredForSm90aOnlyAndAboveSm80) {
  const ProblemSpec s = spec(DType::BF16, 128);
  EXPECT_EQ(sm90(s).name(), "prefill_sm90");
  // The default on sm_90a since the H200 run of 2026-12-04 (bench/RESULTS.md). Tuning and
  // lookups see the union of both (one search space), whose default is sm90's.
  const Target h = Target::cuda("sm_90a");
  EXPECT_EQ(applicable_templates(s, h).front()->name(), "prefill_sm90");
  EXPECT_EQ(applicable_templates(s, h).size(), 2u);
  EXPECT_EQ(select_template(s, h).default_config(s, h).tmpl, "sm90");
  EXPECT_EQ(default_config(s, h).tmpl, "sm90");
  // A config key without a template name goes to the template that can run it.
  EXPECT_EQ(template_for(s, h, TileConfig::parse("bm64_bn128_w4_s1")).name(), "prefill_sm80");
  TileConfig named;
  named.tmpl = "sm90";
  EXPECT_THROW(template_for(s, Target::cuda("sm_80"), named), SpecError);
  EXPECT_THROW(template_for(s, Target::cuda("sm_89"), named), SpecError);
  // What sm90 cannot run at all it does not claim: sm80 alone serves it (and is its default),
  // and naming sm90 for it says why.
  ProblemSpec v = s;
  v.page_size = 4;  // pages of 1..4 rows: not whole swizzle atoms
  ASSERT_EQ(applicable_templates(v, h).size(), 1u);
  EXPECT_EQ(default_config(v, h).tmpl, "sm80");
  try {
    template_for(v, h, named);
    ADD_FAILURE() << "sm90 accepted a paged problem";
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("variant: page_size"), std::string::npos) << e.what();
  }
  ProblemSpec d32 = s;
  d32.head_dim = 32;
  EXPECT_EQ(default_config(d32, h).tmpl, "sm80");
}

TEST(PrefillSm90Codegen, DefaultsAndSearchSpace) {
  const Target h = Target::cuda("sm_90a");
  // The H200-tuned defaults (RESULTS.md 0b), causal: three consumer warpgroups at hd 64, a third
  // stage at 96/128, no overlap at 192/256 (which lets hd 256 keep 80-key tiles under the mask).
  const std::pair<int, const char*> defaults[] = {
      {64, "sm90_bm192_bn128_w4_s2_wg3"},           {96, "sm90_bm128_bn128_w4_s3_wg2_pp1_ov1"},
      {128, "sm90_bm128_bn128_w4_s3_wg2_pp1_ov1"}, {192, "sm90_bm128_bn112_w4_s2_wg2_ov1"},
      {256, "sm90_bm128_bn80_w4_s2_wg2_pp1"}};
  for (auto [hd, key] : defaults) {
    const ProblemSpec s = spec(DType::F16, hd, {MaskKind::Causal, 0, 0});
    EXPECT_EQ(sm90(s).default_config(s, h).key(), key);
    const auto space = sm90(s).search_space(s, h);
    std::set<std::string> keys;
    bool wg3 = false, pp_off = false, ov_off = false, persistent = false, separate_o = false, next_s = false;
    for (const TileConfig& c : space) {
      EXPECT_FALSE(sm90(s).can_implement(s, c, h).has_value()) << c.key();
      EXPECT_EQ(TileConfig::parse(c.key()), c) << c.key();
      keys.insert(c.key());
      wg3 |= c.warpgroups == 3;
      pp_off |= c.pingpong == 0;
      ov_off |= c.overlap == 0;
      persistent |= c.persistent == 1;
      separate_o |= c.persistent == 2;
      next_s |= c.persistent == 3;
      // ps3 runs at order 0 only.
      if (c.persistent == 3) EXPECT_EQ(c.order, 0) << c.key();
    }
    EXPECT_EQ(keys.size(), space.size()) << hd;
    EXPECT_TRUE(keys.count(key)) << hd << ": the default is in the space";
    EXPECT_TRUE(pp_off && ov_off) << hd;
    // The persistent loop's registers (gate sweep): no persistent config fits head dim 256.
    EXPECT_EQ(persistent, hd <= 192) << hd;
    // A second Q-sized buffer for O fits beside two K/V stages wherever persistent fits.
    EXPECT_EQ(separate_o, persistent) << hd;
    // ps3 wherever ps2 fits (without ping-pong under a mask).
    EXPECT_EQ(next_s, persistent) << hd;
    // Three consumer warpgroups have 160 registers each: only where the tiles are small enough.
    EXPECT_EQ(wg3, hd <= 128) << hd;
  }
  // Few key tiles per query tile: the persistent kernel with O in its own buffer (RESULTS 0d).
  // Head dim 64 up to 2k tokens, causal or not; 128 up to 2k without a mask, 1k causal, and
  // sliding windows of at most 2k keys; beyond, the 8k-tuned defaults.
  auto key = [&](int hd, MaskSpec m, int64_t len) {
    const ProblemSpec p = testing::make_prefill_spec(DType::BF16, hd, m, 2, len);
    return sm90(p).default_config(p, h).key();
  };
  const MaskSpec causal{MaskKind::Causal, 0, 0};
  for (int64_t len : {512, 1024, 2048, 4096, 16384}) {
    EXPECT_EQ(key(64, causal, len), len <= 2048 ? "sm90_bm128_bn128_w4_s3_wg2_ps2" : "sm90_bm192_bn128_w4_s2_wg3") << len;
    EXPECT_EQ(key(64, {}, len), len <= 2048 ? "sm90_bm192_bn128_w4_s2_wg3_ps2" : "sm90_bm192_bn128_w4_s2_wg3") << len;
    EXPECT_EQ(key(128, {}, len), len <= 2048 ? "sm90_bm128_bn128_w4_s2_wg2_pp1_ov1_ps2" : "sm90_bm128_bn128_w4_s3_wg2_pp1_ov1") << len;
    EXPECT_EQ(key(128, causal, len), len <= 1024 ? "sm90_bm128_bn128_w4_s2_wg2_pp1_ov1_ps2" : "sm90_bm128_bn128_w4_s3_wg2_pp1_ov1") << len;
    EXPECT_EQ(key(256, {}, len), "sm90_bm128_bn80_w4_s2_wg2_pp1") << len;  // no room for a second Q-sized buffer
  }
  EXPECT_EQ(key(128, {MaskKind::SlidingWindow, 1024, 0}, 8192), "sm90_bm128_bn128_w4_s2_wg2_pp1_ov1_ps2");
  EXPECT_EQ(key(128, {MaskKind::SlidingWindow, 2048, 0}, 8192), "sm90_bm128_bn128_w4_s3_wg2_pp1_ov1");
}

TEST(PrefillSm90Codegen, RefusalsNameTheReason) {
  const Target h = Target::cuda("sm_90a");
  const ProblemSpec s = spec(DType::BF16, 128);
  const KernelTemplate& t = sm90(s);
  TileConfig c = t.default_config(s, h);
  auto reason = [&](const ProblemSpec& sp, const TileConfig& cf, const Target& tg) {
    const auto why = t.can_implement(sp, cf, tg);
    return why ? *why : std::string();
  };
  EXPECT_NE(reason(spec(DType::BF16, 32), c, h).find("head_dim"), std::string::npos);
  EXPECT_NE(reason(s, c, Target::cuda("sm_80")).find("sm_90a"), std::string::npos);
  // What it cannot run (here pages of 2 rows) is refused with the reason.
  ProblemSpec paged = s;
  paged.page_size = 2;
  EXPECT_NE(reason(paged, c, h).find("variant"), std::string::npos);
  ProblemSpec capped = s;
  capped.softcap = 50;
  EXPECT_EQ(reason(capped, c, h), "");
  // hd 256: no overlap (tuned); 80-key tiles fit with soft-capping too once the overlap's second
  // P is gone.
  EXPECT_EQ(t.default_config(spec(DType::BF16, 256), h).key(), "sm90_bm128_bn80_w4_s2_wg2_pp1");
  ProblemSpec capped256 = spec(DType::BF16, 256);
  capped256.softcap = 50;
  EXPECT_EQ(t.default_config(capped256, h).key(), "sm90_bm128_bn80_w4_s2_wg2_pp1");
  TileConfig bad = c;
  bad.warpgroups = 4;
  EXPECT_NE(reason(s, bad, h).find("warpgroups"), std::string::npos);
  bad = c;
  bad.warpgroups = 3;
  EXPECT_NE(reason(s, bad, h).find("block_m"), std::string::npos);
  bad.block_m = 192;
  bad.overlap = 0;
  bad.stages = 2;
  bad.block_n = 176;  // 88 + 64 + 30 registers > 160
  EXPECT_NE(reason(s, bad, h).find("registers"), std::string::npos);
  bad = c;
  bad.block_n = 96;
  EXPECT_NE(reason(s, bad, h).find("block_n"), std::string::npos);
  bad = c;
  bad.pingpong = 2;
  EXPECT_NE(reason(s, bad, h).find("pingpong"), std::string::npos);
  bad = c;
  bad.stages = 3;
  bad.block_n = 80;
  EXPECT_NE(reason(spec(DType::BF16, 256), bad, h).find("shared memory"), std::string::npos);
  bad = c;
  bad.tmpl = "sm80";
  EXPECT_NE(reason(s, bad, h).find("template"), std::string::npos);
  // The other templates refuse the Hopper knobs.
  TileConfig sm80_name;
  sm80_name.tmpl = "sm80";
  TileConfig sm80 = template_for(s, h, sm80_name).default_config(s, h);
  ASSERT_EQ(sm80.tmpl, "sm80");
  sm80.persistent = 1;
  EXPECT_TRUE(template_for(s, h, sm80).can_implement(s, sm80, h).has_value());
}

// Order 1 (a consumer passes through the key tiles its rows cannot see): in the space of every
// masked problem and of no unmasked one, spelled as the traits' last argument, refused with the
// overlap under a sliding window (ptxas spilled there) and for other values.
// ALiBi, sinks, varlen batches and paged K/V: sm90 implements them (its search space, its traits),
// but until a GPU has run them (tests/gpu Sm90Prefill.AlibiAndSinks, VariantsGpu.VarlenAndPagedOnSm90) the
// sm80 template's default serves them on sm_90a; tuning sees both templates and naming sm90 gets
// its own default.
TEST(PrefillSm90Codegen, ScoreVariantsVarlenAndPagesByTuningOrChoice) {
  const Target h = Target::cuda("sm_90a");
  for (auto [alibi, sink, varlen, page] :
       {std::tuple{true, false, false, 0}, {false, true, false, 0}, {true, true, false, 0}, {false, false, true, 0},
        {true, true, true, 0}, {false, false, false, 16}, {false, false, true, 256}, {true, true, true, 8}}) {
    ProblemSpec s = spec(DType::BF16, 128, {MaskKind::Causal, 0, 0});
    s.alibi = alibi;
    s.sink = sink;
    s.varlen = varlen;
    s.page_size = page;
    SCOPED_TRACE(s.key());
    ASSERT_EQ(applicable_templates(s, h).size(), 2u);
    EXPECT_EQ(applicable_templates(s, h).front()->name(), "prefill_sm90");
    const KernelTemplate& both = select_template(s, h);
    const TileConfig def = both.default_config(s, h);
    EXPECT_EQ(def.tmpl, "sm80");
    EXPECT_EQ(default_config(s, h).tmpl, "sm80");
    EXPECT_FALSE(both.can_implement(s, def, h));
    int sm90_configs = 0;
    for (const TileConfig& c : both.search_space(s, h)) sm90_configs += c.tmpl == "sm90";
    EXPECT_GT(sm90_configs, 0);
    const TileConfig own = sm90(s).default_config(s, h);
    EXPECT_EQ(own.tmpl, "sm90");
    const KernelSource src = sm90(s).render(s, own, h);
    std::string policy = "attnjit::sm80::MaskCausal";
    if (alibi) policy = "attnjit::variants::WithAlibi<" + policy + ">";
    if (sink) policy = "attnjit::variants::WithSink<" + policy + ">";
    EXPECT_NE(src.entry.find(", " + policy + ", "), std::string::npos) << src.entry;
    // Varlen and paged are the traits' last arguments, after order 1's (here false).
    std::string tail = page ? std::string(", false, ") + (varlen ? "true" : "false") + ", true>>"
                            : varlen ? ", false, true>>" : ", false>>";
    EXPECT_NE(src.entry.find(tail), std::string::npos) << src.entry;
  }
  // A key tile holds whole pages, or lies in one page.
  ProblemSpec paged = spec(DType::BF16, 256, {MaskKind::Causal, 0, 0});
  paged.page_size = 32;
  const auto why = sm90(paged).can_implement(paged, TileConfig::parse("sm90_bm128_bn80_w4_s2_wg2_pp1"), h);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("whole pages"), std::string::npos) << *why;
  EXPECT_EQ(sm90(paged).default_config(paged, h).block_n, 64);
  paged.page_size = 16;
  EXPECT_EQ(sm90(paged).default_config(paged, h).block_n, 80);
  // Varlen geometry: one CTA per tile number of common/layout_varlen.h (total_q / block_m + batch)
  // and no batch dimension; the persistent grid over those numbers times the heads.
  ProblemSpec v = spec(DType::BF16, 128, {MaskKind::Causal, 0, 0});
  v.varlen = true;
  const TileConfig c = TileConfig::parse("sm90_bm128_bn128_w4_s2_wg2_pp1");
  RunShape shape{3, 8, 4, 300, 500, /*total_q=*/700};
  const LaunchGeometry g = sm90(v).geometry(v, c, h, shape);
  EXPECT_EQ(g.grid[0], 700u / 128 + 3);
  EXPECT_EQ(g.grid[1], 8u);
  EXPECT_EQ(g.grid[2], 1u);
  TileConfig ps = c;
  ps.persistent = 1;
  Target few = h;
  few.sm_count = 20;
  EXPECT_EQ(sm90(v).geometry(v, ps, few, shape).grid[0], 20u);
  shape.total_q = 0;
  EXPECT_THROW(sm90(v).geometry(v, c, h, shape), SpecError);
  // Without them sm90's default still serves (the verified problems).
  EXPECT_EQ(default_config(spec(DType::BF16, 128, {MaskKind::Causal, 0, 0}), h).tmpl, "sm90");
}

TEST(PrefillSm90Codegen, PassUnseenOrder) {
  const Target h = Target::cuda("sm_90a");
  const MaskSpec causal{MaskKind::Causal, 0, 0}, window{MaskKind::SlidingWindow, 1024, 0};
  for (int hd : {64, 128, 256}) {
    auto count = [&](MaskSpec m) {
      const ProblemSpec s = spec(DType::BF16, hd, m);
      int n = 0;
      for (const TileConfig& c : sm90(s).search_space(s, h)) n += c.order == 1;
      return n;
    };
    EXPECT_EQ(count({}), 0) << hd;
    EXPECT_GT(count(causal), 0) << hd;
    EXPECT_GT(count(window), 0) << hd;
  }
  const ProblemSpec c256 = spec(DType::BF16, 256, causal);
  const TileConfig o1 = TileConfig::parse("sm90_bm128_bn80_w4_s2_o1_wg2_pp1");
  EXPECT_FALSE(sm90(c256).can_implement(c256, o1, h));
  const KernelSource src = sm90(c256).render(c256, o1, h);
  EXPECT_NE(src.entry.find("false, false, true>"), std::string::npos) << src.entry;
  const KernelSource plain = sm90(c256).render(c256, sm90(c256).default_config(c256, h), h);
  EXPECT_EQ(plain.entry.find("false, false, true>"), std::string::npos) << plain.entry;
  const ProblemSpec w128 = spec(DType::BF16, 128, window);
  const auto why = sm90(w128).can_implement(w128, TileConfig::parse("sm90_bm128_bn128_w4_s2_o1_wg2_pp1_ov1_ps2"), h);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("order 1 with the overlap under a sliding window"), std::string::npos) << *why;
  EXPECT_FALSE(sm90(w128).can_implement(w128, TileConfig::parse("sm90_bm128_bn128_w4_s2_o1_wg2_pp1_ps2"), h));
  const auto two = sm90(c256).can_implement(c256, TileConfig::parse("sm90_bm128_bn80_w4_s2_o2_wg2_pp1"), h);
  ASSERT_TRUE(two);
  EXPECT_NE(two->find("order: 2 not supported by prefill_sm90"), std::string::npos) << *two;
}

// ps3 (the next tile's first S GEMM during this tile's epilogue): with either main loop, at order
// 0, with ping-pong only for the plain problem, each refusal naming why; by tuning or by choice,
// never a default until a GPU times it.
TEST(PrefillSm90Codegen, NextTileSAtOrderZero) {
  const Target h = Target::cuda("sm_90a");
  auto expect_refused = [&](const ProblemSpec& s, const char* cfg, const char* reason) {
    const auto why = sm90(s).can_implement(s, TileConfig::parse(cfg), h);
    ASSERT_TRUE(why) << cfg;
    EXPECT_NE(why->find(reason), std::string::npos) << *why;
  };
  const ProblemSpec none = spec(DType::BF16, 128, {}), causal = spec(DType::BF16, 128, {MaskKind::Causal, 0, 0});
  EXPECT_FALSE(sm90(none).can_implement(none, TileConfig::parse("sm90_bm128_bn128_w4_s2_wg2_pp1_ov1_ps3"), h));
  EXPECT_FALSE(sm90(none).can_implement(none, TileConfig::parse("sm90_bm128_bn128_w4_s2_wg2_pp1_ps3"), h));
  const ProblemSpec c64 = spec(DType::BF16, 64, {MaskKind::Causal, 0, 0});
  EXPECT_FALSE(sm90(c64).can_implement(c64, TileConfig::parse("sm90_bm128_bn128_w4_s3_wg2_ps3"), h));
  const ProblemSpec n64 = spec(DType::BF16, 64, {});
  expect_refused(n64, "sm90_bm192_bn128_w4_s2_wg3_ps3", "three consumer warpgroups");
  EXPECT_FALSE(sm90(causal).can_implement(causal, TileConfig::parse("sm90_bm128_bn128_w4_s2_wg2_ov1_ps3"), h));
  expect_refused(causal, "sm90_bm128_bn128_w4_s2_wg2_pp1_ov1_ps3", "persistent 3 with ping-pong beyond");
  ProblemSpec user = spec(DType::BF16, 64, {MaskKind::Causal, 0, 0});
  user.mask_mod = register_snippet("return kv_idx % 3 != 1;", "mask_mod");
  expect_refused(user, "sm90_bm128_bn128_w4_s2_wg2_ov1_ps3", "persistent 3 with user variants");
  EXPECT_FALSE(sm90(user).can_implement(user, TileConfig::parse("sm90_bm128_bn128_w4_s2_wg2_ov1_ps2"), h));
  expect_refused(causal, "sm90_bm128_bn128_w4_s2_o1_wg2_ov1_ps3", "persistent 3 with order 1");
  for (const ProblemSpec& s : {none, causal})
    for (int len : {512, 1024, 8192}) {
      ProblemSpec l = s;
      l.seqlen_q = l.seqlen_k = len;
      EXPECT_NE(sm90(l).default_config(l, h).persistent, 3) << l.key();
    }
}

TEST(PrefillSm90Codegen, RenderAndGeometry) {
  const Target h = Target::cuda("sm_90a");
  const ProblemSpec s = spec(DType::BF16, 64, {MaskKind::SlidingWindow, 256, 0});
  const TileConfig c = TileConfig::parse("sm90_bm128_bn128_w4_s2_wg2_pp1_ov1");
  ASSERT_FALSE(sm90(s).can_implement(s, c, h).has_value());
  const KernelSource src = sm90(s).render(s, c, h);
  EXPECT_EQ(src.entry,
            "attnjit::prefill_sm90_kernel<attnjit::PrefillSm90Traits<attnjit::sm90::Bf16, 64, 128, 2, "
            "attnjit::sm80::MaskSlidingWindow<256, 0>, 2, true, true, false, false>>");
  EXPECT_NE(src.text.find("#include \"prefill/sm90.cuh\""), std::string::npos);
  EXPECT_EQ(src.arch, "sm_90a");
  RunShape shape{3, 8, 4, 300, 500};
  const LaunchGeometry g = sm90(s).geometry(s, c, h, shape);
  EXPECT_EQ(g.grid[0], 3u);
  EXPECT_EQ(g.grid[1], 8u);
  EXPECT_EQ(g.grid[2], 3u);
  EXPECT_EQ(g.block[0], 384u);
  // Q 128x64 + 2 stages x (K + V) 128x64, 16-bit, + 10 barriers (q_full, q_empty; k_full,
  // v_full, k_empty, v_empty per stage) + 1 KB alignment slack.
  EXPECT_EQ(g.dynamic_smem, 16384u + 4 * 16384u + 80u + 1024u);
  // Persistent: one block per SM, never more than the 3 * 8 * 3 tiles; 3 warpgroups: 512 threads.
  TileConfig p = c;
  p.persistent = 1;
  Target h100 = h;
  h100.sm_count = 132;
  EXPECT_EQ(sm90(s).geometry(s, p, h100, shape).grid[0], 72u);
  shape.batch = 30;
  const LaunchGeometry gp = sm90(s).geometry(s, p, h100, shape);
  EXPECT_EQ(gp.grid[0], 132u);
  EXPECT_EQ(gp.grid[1], 1u);
  EXPECT_EQ(gp.grid[2], 1u);
  p.warpgroups = 3;
  p.block_m = 192;
  p.overlap = 0;
  EXPECT_EQ(sm90(s).geometry(s, p, h100, shape).block[0], 512u);
  // Persistent with O in its own buffer: Q's bytes twice, the same grid; the kernel's last
  // template argument says so.
  TileConfig p2 = c;
  p2.persistent = 2;
  EXPECT_EQ(sm90(s).geometry(s, p2, h100, shape).dynamic_smem, 2 * 16384u + 4 * 16384u + 80u + 1024u);
  EXPECT_EQ(sm90(s).geometry(s, p2, h100, shape).grid[0], 132u);
  EXPECT_NE(sm90(s).render(s, p2, h).entry.find(", 2, true, true, true, true>>"), std::string::npos);
  // ps3: the same buffers, and the next tile's first S GEMM during the epilogue (the last flag);
  // under this window only without ping-pong (with it the consumer spills).
  p2.persistent = 3;
  const auto pp_why = sm90(s).can_implement(s, p2, h);
  ASSERT_TRUE(pp_why.has_value());
  EXPECT_NE(pp_why->find("persistent 3 with ping-pong beyond"), std::string::npos) << *pp_why;
  p2.pingpong = 0;
  ASSERT_FALSE(sm90(s).can_implement(s, p2, h).has_value());
  EXPECT_EQ(sm90(s).geometry(s, p2, h100, shape).dynamic_smem, 2 * 16384u + 4 * 16384u + 80u + 1024u);
  EXPECT_NE(sm90(s).render(s, p2, h).entry.find(", 2, false, true, true, true, false, false, false, true>>"),
            std::string::npos)
      << sm90(s).render(s, p2, h).entry;
  p2.persistent = 4;
  const auto why = sm90(s).can_implement(s, p2, h);
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("persistent"), std::string::npos) << *why;
  // Soft-capping wraps the mask and declares the cap in the prelude.
  ProblemSpec capped = s;
  capped.softcap = 30.5;
  const KernelSource sc = sm90(capped).render(capped, c, h);
  EXPECT_NE(sc.entry.find("attnjit::variants::SoftCapped<attnjit::sm80::MaskSlidingWindow<256, 0>, attnjit_gen::Softcap>"),
            std::string::npos) << sc.entry;
  EXPECT_NE(sc.text.find(softcap_struct(30.5)), std::string::npos);
}

// Records every encode call.
struct Encoded {
  int dtype, swizzle;
  uint32_t rank;
  const void* addr;
  uint64_t dims[4], strides[3];
  uint32_t box[4];
};
std::vector<Encoded> g_calls;
int record(void* map, int dtype, uint32_t rank, void* addr, const uint64_t* dims, const uint64_t* strides,
           const uint32_t* box, const uint32_t*, int, int swizzle, int, int) {
  Encoded e{dtype, swizzle, rank, addr, {}, {}, {}};
  std::memcpy(e.dims, dims, sizeof e.dims);
  std::memcpy(e.strides, strides, sizeof e.strides);
  std::memcpy(e.box, box, sizeof e.box);
  g_calls.push_back(e);
  std::memset(map, 0xab, 128);
  return 0;
}
int refuse(void*, int, uint32_t, void*, const uint64_t*, const uint64_t*, const uint32_t*,
           const uint32_t*, int, int, int, int) {
  return 1;  // CUDA_ERROR_INVALID_VALUE
}

TEST(PrefillSm90Codegen, BuildArgumentsEncodesFourMapsOrSaysWhyNot) {
  const Target h = Target::cuda("sm_90a");
  const ProblemSpec s = spec(DType::F16, 128);
  const TileConfig c = sm90(s).default_config(s, h);
  // batch 2, seqlen_q 100, seqlen_k 300, heads 4 / 2, dense BSHD.
  std::vector<uint16_t> q(2 * 100 * 4 * 128), k(2 * 300 * 2 * 128), v(k.size()), o(q.size());
  PrefillArgs a;
  a.problem = testing::make_prefill_problem(DType::F16, 128, {}, 100, 300, 2, 4, 2);
  a.q = {q.data(), 100 * 4 * 128, 4 * 128, 128};
  a.k = {k.data(), 300 * 2 * 128, 2 * 128, 128};
  a.v = {v.data(), 300 * 2 * 128, 2 * 128, 128};
  a.o = {o.data(), 100 * 4 * 128, 4 * 128, 128};
  LaunchArgs la;
  la.prefill = &a;

  set_tensor_map_encoder(nullptr);
  try {
    sm90(s).build_arguments(s, c, h, la, {});
    ADD_FAILURE() << "expected LaunchRefused without an encoder";
  } catch (const LaunchRefused& e) {  // the runtime then falls back to sm80 (tests/api/runtime_test)
    EXPECT_NE(std::string(e.what()).find("cuTensorMapEncodeTiled is unavailable"), std::string::npos);
  }
  set_tensor_map_encoder(&refuse);
  EXPECT_THROW(sm90(s).build_arguments(s, c, h, la, {}), LaunchRefused);

  g_calls.clear();
  tensor_map_cache().reset(1024);  // encode afresh: the cache would answer repeated calls
  set_tensor_map_encoder(&record);
  const std::vector<unsigned char> buf = sm90(s).build_arguments(s, c, h, la, {});
  set_tensor_map_encoder(nullptr);
  ASSERT_EQ(buf.size(), sizeof(PrefillSm90HostParams));
  ASSERT_EQ(g_calls.size(), 4u);
  const void* addrs[4] = {q.data(), k.data(), v.data(), o.data()};
  const uint64_t rows[4] = {100, 300, 300, 100}, heads[4] = {4, 2, 2, 4};
  const uint32_t box_rows[4] = {128, 128, 128, 64};
  for (int i = 0; i < 4; ++i) {
    const Encoded& e = g_calls[i];
    EXPECT_EQ(e.addr, addrs[i]) << i;
    EXPECT_EQ(e.dtype, 6) << i;  // CU_TENSOR_MAP_DATA_TYPE_FLOAT16
    EXPECT_EQ(e.swizzle, 3) << i;  // 128B
    EXPECT_EQ(e.rank, 4u);
    EXPECT_EQ(e.dims[0], 128u);
    EXPECT_EQ(e.dims[1], rows[i]) << i;
    EXPECT_EQ(e.dims[2], heads[i]) << i;
    EXPECT_EQ(e.dims[3], 2u);
    EXPECT_EQ(e.strides[0], heads[i] * 128 * 2) << i;  // row stride in bytes
    EXPECT_EQ(e.strides[1], 128u * 2) << i;
    EXPECT_EQ(e.strides[2], rows[i] * heads[i] * 128 * 2) << i;
    EXPECT_EQ(e.box[0], 64u);
    EXPECT_EQ(e.box[1], box_rows[i]) << i;
  }
  // The maps come first, then PrefillParams.
  EXPECT_EQ(buf[0], 0xab);
  PrefillParams p;
  std::memcpy(&p, buf.data() + offsetof(PrefillSm90HostParams, p), sizeof p);
  EXPECT_EQ(p.seqlen_k, 300);
  EXPECT_EQ(p.heads_kv, 2);
  // The persistent order: 1 query tile x 2 batches x 4 heads; K+V of a head (300 x 128 x 2 x 2
  // bytes) fit L2 many times over, so one section.
  Sm90TileSched sched;
  std::memcpy(&sched, buf.data() + offsetof(PrefillSm90HostParams, sched), sizeof sched);
  EXPECT_EQ(sched.num_m, 1);
  EXPECT_EQ(sched.num_bh, 8);
  EXPECT_EQ(sched.total, 8);
  EXPECT_EQ(sched.swizzle, 8);
}

}  // namespace
}  // namespace attnjit
