// `attnjit bench-decode --config` (one forced config for every point) and
// `--one-level-combine` (the A/B of the GPU's two-level split combine), on the CPU backend:
// the forced config is the one that ran and is reported as forced; the CPU combines in one level,
// so the flag changes nothing there and the report says so (combine_group 0); `--hot` (no cache
// eviction) is reported in the JSON, and so is whether K, V and the probe are on huge pages
// (ATTNJIT_HUGE_PAGES=0 turns them off); bad values exit 2.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "common/cli_run.h"

namespace attnjit {
namespace {

using attnjit::testing::run_cli;

const std::string kPoint =
    "bench-decode --backend cpu --dtype f32 --head-dim 64 --heads-q 8 --gqa 4 --batch 1 --kv-len 512 "
    "--warmup 0 --reps 1 --json";

TEST(CliBenchDecodeOptions, ForcedConfigRunsAndIsReported) {
  const auto r = run_cli(kPoint + " --threads 1 --config cpu_bm4_bn32_w1_s1_v8_t1 --one-level-combine", 120, false);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("\"config\": \"cpu_bm4_bn32_w1_s1_v8_t1\""), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\"config_source\": \"forced\""), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\"combine_group\": 0"), std::string::npos) << r.output;
}

TEST(CliBenchDecodeOptions, HotKeepsTheCachesAndSaysSo) {
  auto r = run_cli(kPoint + " --threads 1 --hot", 120, false);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("\"hot\": true"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\"cpu_gbps\""), std::string::npos) << r.output;
  r = run_cli(kPoint + " --threads 1", 120, false);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("\"hot\": false"), std::string::npos) << r.output;
}

TEST(CliBenchDecodeOptions, ReportsWhetherHugePagesAreUsed) {
  auto r = run_cli(kPoint + " --threads 1", 120, false);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(r.output.find("\"huge_pages\": \"on (") != std::string::npos ||
              r.output.find("\"huge_pages\": \"off: ") != std::string::npos)
      << r.output;
  ASSERT_EQ(setenv("ATTNJIT_HUGE_PAGES", "0", 1), 0);
  r = run_cli(kPoint + " --threads 1", 120, false);
  unsetenv("ATTNJIT_HUGE_PAGES");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("\"huge_pages\": \"off: ATTNJIT_HUGE_PAGES=0\""), std::string::npos) << r.output;
}

TEST(CliBenchDecodeOptions, BadConfigAndConfigWithDbAreUsageErrors) {
  auto r = run_cli(kPoint + " --config bm0_bn32");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--config"), std::string::npos) << r.output;
  r = run_cli(kPoint + " --config cpu_bm4_bn32_w1_s1_v8_t1 --db x.db");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--db and --config"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace attnjit
