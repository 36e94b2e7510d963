// api/tuned_config: the one rule from the tuning database to a config, shared by the Runtime's
// DbConfigProvider and the service. On sm_90a two prefill templates apply (sm80 and sm90): a
// result stored under either's version hash is found, names its owner, and an illegal stored
// config falls back to the default with the reason.
#include <gtest/gtest.h>

#include "api/tuned_config.h"
#include "codegen/registry.h"
#include "db/db_test_util.h"

namespace attnjit {
namespace {

struct TunedConfigTest : ::testing::Test {
  const Target target = Target::cuda("sm_90a");
  const ProblemSpec spec = ProblemSpec::parse("prefill_bf16_hd128_causal_g4_q4096_k4096");
  const DeviceInfo dev = testing::gpu();
  Database db = Database::open(":memory:");
  void SetUp() override { db.upsert_device(dev); }

  // A result for `cfg` stored under template `t`'s version.
  void store(const KernelTemplate& t, const TileConfig& cfg, double ms) {
    TuningResult r = testing::ok_result(dev, spec.key(), cfg.key(), ms);
    r.template_hash = t.version_hash();
    r.template_name = t.name();
    db.record_result(r);
  }
};

TEST_F(TunedConfigTest, NothingStoredGivesTheAskedTemplatesDefault) {
  const KernelTemplate& asked = select_template(spec, target);
  const TunedConfig c = choose_tuned_config(db, dev, asked, spec, target);
  EXPECT_EQ(c.config, asked.default_config(spec, target));
  EXPECT_EQ(c.owner, &asked);
  EXPECT_EQ(c.source, "default");
  EXPECT_EQ(c.lookup.reason, LookupReason::Default);
  EXPECT_FALSE(c.explanation.empty());
}

TEST_F(TunedConfigTest, AResultUnderAMembersHashIsFoundAndNamesItsOwner) {
  const auto members = applicable_templates(spec, target);
  ASSERT_GE(members.size(), 2u) << "sm_90a should run the sm80 and sm90 prefill templates";
  const KernelTemplate& asked = select_template(spec, target);  // their union
  const KernelTemplate& member = *members.back();
  const auto space = member.search_space(spec, target);
  ASSERT_FALSE(space.empty());
  const TileConfig tuned = space.back();
  ASSERT_FALSE(member.can_implement(spec, tuned, target).has_value());
  store(member, tuned, 0.5);

  // By device identity (the Runtime) and by fingerprint (the service): the same answer.
  for (const TunedConfig& c : {choose_tuned_config(db, dev, asked, spec, target),
                               choose_tuned_config(db, dev.fingerprint(), asked, spec, target)}) {
    EXPECT_EQ(c.config, tuned);
    EXPECT_EQ(c.owner, &member);
    EXPECT_EQ(c.source, "db:exact");
    EXPECT_EQ(c.lookup.reason, LookupReason::Exact);
    ASSERT_TRUE(c.lookup.entry);
    EXPECT_EQ(c.lookup.entry->config, tuned.key());
  }
}

TEST_F(TunedConfigTest, AStoredConfigThisProblemCannotRunFallsBackWithTheReason) {
  const KernelTemplate& asked = select_template(spec, target);
  TileConfig bad = asked.default_config(spec, target);
  bad.stages = 99;
  ASSERT_TRUE(asked.can_implement(spec, bad, target).has_value());
  store(asked, bad, 0.1);
  const TunedConfig c = choose_tuned_config(db, dev, asked, spec, target);
  EXPECT_EQ(c.config, asked.default_config(spec, target));
  EXPECT_EQ(c.lookup.reason, LookupReason::Default);
  EXPECT_FALSE(c.lookup.entry);
  EXPECT_EQ(c.source.rfind("default (tuned " + bad.key() + " cannot run here", 0), 0u) << c.source;
  EXPECT_NE(c.explanation.find("rejected for this problem"), std::string::npos) << c.explanation;
}

}  // namespace
}  // namespace attnjit
