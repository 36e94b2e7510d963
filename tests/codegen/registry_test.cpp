// The template registry: arch ranges, priorities, configs that name their template (old keys
// without a name still read), and the union that lets several templates compete in one space.
#include <gtest/gtest.h>

#include <algorithm>

#include "codegen/registry.h"

namespace attnjit {
namespace {

ProblemSpec prefill(const char* key = "prefill_bf16_hd128_causal_g1_q4096_k4096") { return ProblemSpec::parse(key); }

TEST(Registry, EveryTemplateHasAFamilyNameAndArchRange) {
  for (const KernelTemplate* t : all_templates()) {
    EXPECT_EQ(t->name(), std::string(to_string(t->family())) + "_" + std::string(t->short_name()));
    EXPECT_FALSE(t->version_hash().empty()) << t->name();
  }
  const Target sm80 = Target::cuda("sm_80"), cpu = Target::cpu("znver3");
  const auto gpu = applicable_templates(prefill(), sm80);
  ASSERT_FALSE(gpu.empty());
  EXPECT_EQ(gpu.front()->short_name(), "sm80");
  for (const KernelTemplate* t : gpu) EXPECT_TRUE(t->archs().contains(sm80));
  const auto host = applicable_templates(ProblemSpec::parse("prefill_f32_hd64_none_g1_q128_k128"), cpu);
  ASSERT_EQ(host.size(), 1u);
  EXPECT_EQ(host.front()->short_name(), "cpu");
  EXPECT_FALSE(ArchRange({Platform::Cuda, 90, 90}).contains(sm80));
  EXPECT_TRUE(ArchRange({Platform::Cuda, 90, 90}).contains(Target::cuda("sm_90a")));
  EXPECT_FALSE(ArchRange({Platform::Cuda, 80}).contains(cpu));
  EXPECT_THROW(select_template(ProblemSpec::parse("prefill_f32_hd64_none_g1_q128_k128"), sm80), SpecError);
}

TEST(Registry, ConfigsNameTheirTemplateAndOldKeysStillRead) {
  const Target t = Target::cuda("sm_80");
  const TileConfig d = default_config(prefill(), t);
  EXPECT_EQ(d.tmpl, "sm80");
  EXPECT_EQ(d.key().rfind("sm80_bm", 0), 0u) << d.key();
  EXPECT_EQ(TileConfig::parse(d.key()), d);
  for (const TileConfig& c : search_space(prefill(), t)) EXPECT_FALSE(c.tmpl.empty()) << c.key();
  // A key written before configs named their template: the default template's.
  const TileConfig old = TileConfig::parse("bm128_bn64_w8_s2");
  EXPECT_TRUE(old.tmpl.empty());
  EXPECT_EQ(old.key(), "bm128_bn64_w8_s2");
  EXPECT_EQ(&template_for(prefill(), t, old), applicable_templates(prefill(), t).front());
  EXPECT_FALSE(template_for(prefill(), t, old).can_implement(prefill(), old, t).has_value());
  // A name no applicable template has is an error that says which templates would do.
  TileConfig other = d;
  other.tmpl = "sm99";
  try {
    template_for(prefill(), t, other);
    FAIL() << "expected SpecError";
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("sm99"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("sm80"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(select_template(prefill(), t).can_implement(prefill(), other, t).has_value());
  EXPECT_THROW(TileConfig::parse("Sm80_bm64_bn64_w4_s2"), SpecError);
}

// A second template for the same problems: the real sm80 template under another name, so the
// union has two members whose configs differ only by the name.
class Renamed final : public KernelTemplate {
 public:
  explicit Renamed(const KernelTemplate& inner) : inner_(inner) {}
  Family family() const override { return inner_.family(); }
  std::string_view short_name() const override { return "alt"; }
  ArchRange archs() const override { return inner_.archs(); }
  int priority() const override { return inner_.priority() - 1; }
  std::string version_hash() const override { return inner_.version_hash() + "-alt"; }
  bool supports(const ProblemSpec& s, const Target& t) const override { return inner_.supports(s, t); }
  std::vector<TileConfig> search_space(const ProblemSpec& s, const Target& t) const override {
    auto v = inner_.search_space(s, t);
    for (auto& c : v) c.tmpl = "alt";
    return v;
  }
  TileConfig default_config(const ProblemSpec& s, const Target& t) const override {
    return rename(inner_.default_config(s, t));
  }
  std::optional<std::string> can_implement(const ProblemSpec& s, const TileConfig& c, const Target& t) const override {
    if (c.tmpl != "alt") return "not alt";
    return inner_.can_implement(s, back(c), t);
  }
  KernelSource render(const ProblemSpec& s, const TileConfig& c, const Target& t) const override {
    return inner_.render(s, back(c), t);
  }
  LaunchGeometry geometry(const ProblemSpec& s, const TileConfig& c, const Target& t, const RunShape& r) const override {
    LaunchGeometry g = inner_.geometry(s, back(c), t, r);
    g.grid[2] += 1000;  // tells the test which member answered
    return g;
  }
  std::vector<unsigned char> build_arguments(const ProblemSpec& s, const TileConfig& c, const Target& t,
                                             const LaunchArgs& a, const Workspace& w) const override {
    return inner_.build_arguments(s, back(c), t, a, w);
  }

 private:
  static TileConfig rename(TileConfig c) { c.tmpl = "alt"; return c; }
  static TileConfig back(TileConfig c) { c.tmpl = "sm80"; return c; }
  const KernelTemplate& inner_;
};

TEST(Registry, UnionIsEveryMembersSpaceWithTheFirstMembersDefault) {
  const Target t = Target::cuda("sm_80");
  const KernelTemplate& sm80 = *applicable_templates(prefill(), t).front();
  Renamed alt(sm80);
  auto u = make_union_template({&sm80, &alt});
  EXPECT_EQ(u->short_name(), "sm80+alt");
  EXPECT_NE(u->version_hash(), sm80.version_hash());
  const auto space = u->search_space(prefill(), t);
  EXPECT_EQ(space.size(), 2 * sm80.search_space(prefill(), t).size());
  EXPECT_EQ(std::count_if(space.begin(), space.end(), [](const TileConfig& c) { return c.tmpl == "alt"; }),
            static_cast<long>(space.size() / 2));
  EXPECT_EQ(u->default_config(prefill(), t), sm80.default_config(prefill(), t));
  // Per-config calls go to the member the config names.
  const RunShape shape{1, 8, 8, 4096, 4096};
  const TileConfig d = sm80.default_config(prefill(), t);
  EXPECT_LT(u->geometry(prefill(), d, t, shape).grid[2], 1000u);
  EXPECT_GE(u->geometry(prefill(), alt.default_config(prefill(), t), t, shape).grid[2], 1000u);
  EXPECT_FALSE(u->can_implement(prefill(), alt.default_config(prefill(), t), t).has_value());
  TileConfig none = d;
  none.tmpl = "nope";
  EXPECT_TRUE(u->can_implement(prefill(), none, t).has_value());
  EXPECT_THROW(u->render(prefill(), none, t), SpecError);
  EXPECT_THROW(make_union_template({}), SpecError);
}

}  // namespace
}  // namespace attnjit
