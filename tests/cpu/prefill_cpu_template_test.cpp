// codegen/prefill_cpu: which problems it takes, its search space and legality checks, the
// prelude it renders and the launch geometry (no compiling here).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "codegen/kernel_template.h"
#include "codegen/registry.h"

namespace attnjit {
namespace {

const KernelTemplate& tmpl() {
  for (const KernelTemplate* t : all_templates())
    if (t->name() == "prefill_cpu") return *t;
  throw std::runtime_error("prefill_cpu not registered");
}

ProblemSpec spec(DType dt = DType::BF16, int hd = 128, MaskSpec m = {MaskKind::Causal, 0, 0}) {
  return ProblemSpec::for_shape(Family::Prefill, dt, hd, m, 8, 2, 1000, 1000);
}

Target avx512() { Target t = Target::cpu("icelake-client", "+avx512f,+avx2", 512); t.sm_count = 8; return t; }
Target avx2() { Target t = Target::cpu("haswell", "+avx2,-avx512f", 256); t.sm_count = 4; return t; }

TEST(PrefillCpuTemplate, SupportsPrefillOnCpuOnly) {
  EXPECT_TRUE(tmpl().supports(spec(), avx512()));
  for (DType dt : {DType::F32, DType::BF16, DType::F16}) EXPECT_TRUE(tmpl().supports(spec(dt), avx512()));
  EXPECT_FALSE(tmpl().supports(spec(), Target::cuda("sm_80")));
  ProblemSpec d = spec();
  d.family = Family::Decode;
  d.seqlen_q = 1;
  EXPECT_FALSE(tmpl().supports(d, avx512()));
  EXPECT_EQ(&select_template(spec(), avx512()), &tmpl());
}

TEST(PrefillCpuTemplate, SearchSpaceIsLegalAndHoldsTheDefault) {
  for (const Target& t : {avx512(), avx2()}) {
    for (int hd : {32, 96, 256}) {
      auto space = tmpl().search_space(spec(DType::BF16, hd), t);
      ASSERT_FALSE(space.empty());
      for (const auto& c : space) EXPECT_EQ(tmpl().can_implement(spec(DType::BF16, hd), c, t), std::nullopt) << c.key();
      TileConfig d = tmpl().default_config(spec(DType::BF16, hd), t);
      EXPECT_NE(std::find(space.begin(), space.end(), d), space.end()) << d.key();
      std::set<int> vecs, threads, orders;
      for (const auto& c : space) { vecs.insert(c.vec); threads.insert(c.threads); orders.insert(c.order); }
      EXPECT_EQ(*vecs.rbegin(), t.vector_bits / 32);
      EXPECT_EQ(threads, (std::set<int>{1, t.sm_count}));
      EXPECT_EQ(orders, (std::set<int>{0, 1}));
    }
  }
}

TEST(PrefillCpuTemplate, CanImplementNamesTheField) {
  const Target t = avx512();
  TileConfig ok = tmpl().default_config(spec(), t);
  auto why = [&](auto edit) { TileConfig c = ok; edit(c); return tmpl().can_implement(spec(), c, t).value_or(""); };
  EXPECT_NE(why([](TileConfig& c) { c.warps = 4; }).find("warps"), std::string::npos);
  EXPECT_NE(why([](TileConfig& c) { c.stages = 2; }).find("stages"), std::string::npos);
  EXPECT_NE(why([](TileConfig& c) { c.block_m = 48; }).find("block_m"), std::string::npos);
  EXPECT_NE(why([](TileConfig& c) { c.block_n = 256; }).find("block_n"), std::string::npos);
  EXPECT_NE(why([](TileConfig& c) { c.vec = 12; }).find("vec"), std::string::npos);
  EXPECT_NE(why([](TileConfig& c) { c.block_m = 128; c.vec = 4; }).find("accumulator"), std::string::npos);
  EXPECT_NE(why([](TileConfig& c) { c.order = 2; }).find("order"), std::string::npos);
  EXPECT_NE(why([](TileConfig& c) { c.splits = 2; }).find("splits"), std::string::npos);
  // 16 lanes need 512-bit vectors.
  TileConfig wide = ok;
  wide.vec = 16;
  EXPECT_NE(tmpl().can_implement(spec(), wide, avx2()).value_or("").find("vec"), std::string::npos);
  EXPECT_THROW(tmpl().render(spec(), wide, avx2()), SpecError);
}

TEST(PrefillCpuTemplate, AmxTilesForBf16WhereTheHostHasThem) {
  Target amx = Target::cpu("sapphirerapids", "+amx-bf16,+amx-tile,+avx2,+avx512bf16,+avx512f", 512);
  amx.sm_count = 8;
  const TileConfig d = tmpl().default_config(spec(DType::BF16), amx);
  EXPECT_EQ(d.order, 2) << d.key();
  EXPECT_EQ(d.block_m, 64);
  const TileConfig d64 = tmpl().default_config(spec(DType::BF16, 64), amx);  // 32 x 32 up to hd 64
  EXPECT_EQ(d64.order, 2);
  EXPECT_EQ(d64.block_m, 32);
  EXPECT_EQ(d64.block_n, 32);
  EXPECT_EQ(tmpl().default_config(spec(DType::F32), amx).order, 0);
  EXPECT_EQ(tmpl().default_config(spec(DType::BF16), avx512()).order, 0);  // no tiles
  std::set<int> orders;
  for (const auto& c : tmpl().search_space(spec(DType::BF16), amx)) orders.insert(c.order);
  EXPECT_EQ(orders, (std::set<int>{0, 1, 2}));
  orders.clear();
  for (const auto& c : tmpl().search_space(spec(DType::F16), amx)) orders.insert(c.order);
  EXPECT_EQ(orders, (std::set<int>{0, 1}));
  auto why = [&](const ProblemSpec& s, auto edit, const Target& t) {
    TileConfig c = d;
    edit(c);
    return tmpl().can_implement(s, c, t).value_or("");
  };
  EXPECT_NE(why(spec(DType::F16), [](TileConfig&) {}, amx).find("bf16"), std::string::npos);
  EXPECT_NE(why(spec(DType::BF16), [](TileConfig&) {}, avx512()).find("AMX"), std::string::npos);
  EXPECT_NE(why(spec(DType::BF16), [](TileConfig& c) { c.block_n = 16; }, amx).find("block_n"), std::string::npos);
  EXPECT_EQ(why(spec(DType::BF16, 96), [](TileConfig&) {}, amx), "");  // 3 x 32 dims: 4 + 2 dim groups in P.V
  EXPECT_NE(why(spec(DType::BF16), [](TileConfig& c) { c.vec = 8; }, amx).find("vec 16"), std::string::npos);
}

TEST(PrefillCpuTemplate, RenderIsATinyPreludeOverTheEmbeddedTemplate) {
  const Target t = avx512();
  const ProblemSpec s = spec(DType::BF16, 128, {MaskKind::SlidingWindow, 100, 7});
  TileConfig c = tmpl().default_config(s, t);
  KernelSource src = tmpl().render(s, c, t);
  EXPECT_EQ(src.platform, Platform::Cpu);
  EXPECT_EQ(src.arch, "icelake-client");
  EXPECT_EQ(src.hash.size(), 32u);
  EXPECT_NE(src.text.find("#include \"prefill/cpu.h\""), std::string::npos);
  EXPECT_NE(src.text.find("kWindowLeft = 100LL"), std::string::npos);
  EXPECT_NE(src.text.find("kWindowRight = 7LL"), std::string::npos);
  EXPECT_NE(src.text.find("kStorage = attnjit::cpu::kStoreBF16"), std::string::npos);
  EXPECT_NE(src.text.find("extern \"C\" void " + src.entry + "("), std::string::npos);
  EXPECT_LT(src.text.size(), 2000u);
  std::set<std::string> headers;
  for (const auto& [n, body] : src.headers) { headers.insert(n); EXPECT_FALSE(body.empty()); }
  EXPECT_EQ(headers, (std::set<std::string>{"prefill/params.h", "common/cpu_vec.h", "common/cpu_simd.h", "common/cpu_amx.h",
                                    "common/variants.h", "common/layout_varlen.h",
                                    "common/variants_alibi.h", "common/variants_sink.h", "common/variants_user.h",
                                    "prefill/cpu.h"}));
  EXPECT_TRUE(std::all_of(src.entry.begin(), src.entry.end(), [](char ch) { return std::isalnum((unsigned char)ch) || ch == '_'; }));
  auto has = [&](const std::string& o) { return std::find(src.options.begin(), src.options.end(), o) != src.options.end(); };
  EXPECT_TRUE(has("-O3"));
  EXPECT_TRUE(has("icelake-client"));
  EXPECT_TRUE(has("+avx512f"));
  EXPECT_TRUE(has("-mprefer-vector-width=512"));

  // Length buckets and the GQA group are run-time values: same source.
  ProblemSpec longer = s;
  longer.seqlen_q = longer.seqlen_k = 4096;
  longer.group = 8;
  EXPECT_EQ(tmpl().render(longer, c, t).hash, src.hash);
  ProblemSpec even = longer;
  even.even = true;
  EXPECT_NE(tmpl().render(even, c, t).hash, src.hash);
  // threads is a launch knob: same source. Any code knob changes the hash.
  TileConfig c1 = c;
  c1.threads = 1;
  EXPECT_EQ(tmpl().render(s, c1, t).hash, src.hash);
  TileConfig c2 = c;
  c2.block_n = c.block_n == 64 ? 32 : 64;
  EXPECT_NE(tmpl().render(s, c2, t).hash, src.hash);
  EXPECT_NE(tmpl().render(spec(DType::F16, 128, {MaskKind::SlidingWindow, 100, 7}), c, t).hash, src.hash);
}

TEST(PrefillCpuTemplate, GeometryIsWorkItemsAndThreads) {
  const Target t = avx512();
  TileConfig c = tmpl().default_config(spec(), t);
  c.block_m = 64;
  c.threads = 3;
  RunShape shape{2, 8, 2, 1000, 900};
  LaunchGeometry g = tmpl().geometry(spec(), c, t, shape);
  EXPECT_EQ(g.grid[0], 2u * 8u * 16u);  // ceil(1000 / 64) = 16 query blocks
  EXPECT_EQ(g.grid[1], 1u);
  EXPECT_EQ(g.block[0], 3u);
  c.threads = 0;
  EXPECT_EQ(tmpl().geometry(spec(), c, t, shape).block[0], 8u);  // all hardware threads
}

TEST(PrefillCpuTemplate, VersionHashIsStable) {
  EXPECT_EQ(tmpl().version_hash(), tmpl().version_hash());
  EXPECT_EQ(tmpl().version_hash().size(), 32u);
}

}  // namespace
}  // namespace attnjit
