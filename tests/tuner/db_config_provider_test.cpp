// DbConfigProvider: exact -> nearest -> default with the reason exposed, and background tuning
// of misses that never blocks the caller.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <unistd.h>

#include "codegen/registry.h"
#include "api/db_config_provider.h"
#include "tuner_test_util.h"

namespace attnjit {
namespace {

struct TempDb {
  std::filesystem::path path;
  TempDb() {
    path = std::filesystem::temp_directory_path() /
           ("attnjit-provider-" + std::to_string(::getpid()) + "-" +
            std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) + ".db");
  }
  ~TempDb() {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix, ec);
  }
};

Target cpu_target() {
  Target t = Target::cpu("icelake-client", "+avx512f", 512);
  t.sm_count = 2;
  return t;
}

void store_best(Database& db, const DeviceInfo& dev, const KernelTemplate& tmpl, const ProblemSpec& spec,
                const TileConfig& cfg) {
  tuner::DbResultStore store(db, dev);
  tuner::CandidateResult r;
  r.config = cfg;
  r.status = tuner::CandidateStatus::Ok;
  r.time.median_ms = 1.0;
  r.time.min_ms = 0.9;
  r.time.max_ms = 1.2;
  r.time.samples = 10;
  store.record(spec, tmpl, r);
  store.set_best(spec, tmpl, cfg);
}

TEST(DbConfigProvider, ExactThenNearestThenDefaultWithTheReason) {
  TempDb tmp;
  const Target t = cpu_target();
  const DeviceInfo dev = DeviceInfo::from_target(t, "llvm-14.0.6");
  const ProblemSpec tuned = ProblemSpec::parse("prefill_f32_hd64_causal_g1_q1024_k1024_even");
  const KernelTemplate& tmpl = select_template(tuned, t);
  // A legal config that is not the default, so "came from the database" is visible.
  TileConfig cfg = tmpl.default_config(tuned, t);
  for (const TileConfig& c : tmpl.search_space(tuned, t))
    if (c != cfg) {
      cfg = c;
      break;
    }
  ASSERT_NE(cfg, tmpl.default_config(tuned, t));
  {
    Database db = Database::open(tmp.path.string());
    store_best(db, dev, tmpl, tuned, cfg);
  }
  DbConfigProvider p(tmp.path.string(), dev);

  ConfigChoice exact = p.choose(tmpl, tuned, t);
  EXPECT_EQ(exact.config, cfg);
  EXPECT_EQ(exact.source, "db:exact");
  ASSERT_TRUE(p.last_lookup(tuned.key()).has_value());
  EXPECT_EQ(p.last_lookup(tuned.key())->reason, LookupReason::Exact);

  const ProblemSpec near = ProblemSpec::parse("prefill_f32_hd64_causal_g1_q2048_k2048_even");
  ConfigChoice n = p.choose(tmpl, near, t);
  EXPECT_EQ(n.config, cfg);
  EXPECT_EQ(n.source, "db:nearest_bucket:" + tuned.key());
  EXPECT_EQ(p.last_lookup(near.key())->reason, LookupReason::NearestBucket);

  const ProblemSpec other = ProblemSpec::parse("prefill_f32_hd128_none_g1_q1024_k1024_even");
  ConfigChoice d = p.choose(tmpl, other, t);
  EXPECT_EQ(d.config, tmpl.default_config(other, t));
  EXPECT_EQ(d.source, "default");
  EXPECT_EQ(p.last_lookup(other.key())->reason, LookupReason::Default);
  const auto s = p.stats();
  EXPECT_EQ(s.lookups, 3u);
  EXPECT_EQ(s.exact, 1u);
  EXPECT_EQ(s.fallbacks, 2u);
  EXPECT_EQ(s.queued, 0u);  // tune_on_miss is off
}

#ifdef ATTNJIT_WITH_LLVM
TEST(DbConfigProvider, MissIsTunedInTheBackgroundWithoutBlockingTheCaller) {
  TempDb tmp;
  Backend& be = tuner::testing::cpu_backend();
  const DeviceInfo dev = tuner::device_info_for(be);
  const ProblemSpec spec = ProblemSpec::parse("prefill_f32_hd64_none_g1_q128_k128_even");
  const KernelTemplate& real = select_template(spec, be.target());
  tuner::testing::RestrictedTemplate tmpl(real, tuner::testing::small_space(real, spec, be.target(), 3));

  DbConfigProviderOptions o;
  o.tune_on_miss = true;
  o.tune.measure.max_seconds = 0.2;
  o.compile_threads = 2;
  std::atomic<int> callbacks{0};
  o.on_tuned = [&](const std::string& key, bool ok) {
    EXPECT_EQ(key, spec.key());
    EXPECT_TRUE(ok);
    ++callbacks;
  };
  DbConfigProvider p(tmp.path.string(), dev, o);

  const auto t0 = std::chrono::steady_clock::now();
  ConfigChoice first = p.choose(tmpl, spec, be.target());
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(first.source, "default");
  EXPECT_LT(ms, 1000) << "choose() must not wait for tuning";
  p.choose(tmpl, spec, be.target());  // a second miss does not queue it again
  p.wait_idle();
  EXPECT_EQ(callbacks.load(), 1);
  EXPECT_EQ(p.stats().queued, 1u);
  EXPECT_EQ(p.stats().tuned, 1u);

  ConfigChoice after = p.choose(tmpl, spec, be.target());
  EXPECT_EQ(after.source, "db:exact");
  EXPECT_EQ(p.last_lookup(spec.key())->reason, LookupReason::Exact);
}
#endif

TEST(DbConfigProvider, BackgroundTuningNeedsAFile) {
  DbConfigProviderOptions o;
  o.tune_on_miss = true;
  EXPECT_THROW(DbConfigProvider(":memory:", DeviceInfo::from_target(cpu_target(), "llvm-14.0.6"), o), SpecError);
}

}  // namespace
}  // namespace attnjit
