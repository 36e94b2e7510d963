// Bad command-line values exit with status 2 and a message naming the option (issue 14,
// failures 10 and 11): no SIGFPE, no "cannot create std::vector larger than max_size()", no
// server started on a nonsense limit, no default answer for an unknown device.
#include <gtest/gtest.h>

#include "common/cli_run.h"
#include <stdlib.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "db/database.h"

namespace attnjit {
namespace {

using CliRun = attnjit::testing::CliResult;

CliRun cli(const std::string& args) { return attnjit::testing::run_cli(args); }

void expect_usage_error(const std::string& args, const std::string& names) {
  CliRun r = cli(args);
  EXPECT_EQ(r.code, 2) << args << "\n" << r.output;
  EXPECT_NE(r.output.find(names), std::string::npos) << args << "\n" << r.output;
}

TEST(CliArgs, BenchDecodeRefusesBadShapes) {
  expect_usage_error("bench-decode --backend cpu --gqa 0", "--gqa");
  expect_usage_error("bench-decode --backend cpu --gqa 3", "--gqa");  // does not divide 32 heads
  expect_usage_error("bench-decode --backend cpu --kv-len -1", "--kv-len");
  expect_usage_error("bench-decode --backend cpu --kv-len 4294967296", "--kv-len");
  expect_usage_error("bench-decode --backend cpu --batch 0", "--batch");
  expect_usage_error("bench-decode --backend cpu --heads-q 0", "--heads-q");
  expect_usage_error("bench-decode --backend cpu --head-dim 100", "--head-dim");
  expect_usage_error("bench-decode --backend cpu --page-size 17", "--page-size");
  expect_usage_error("bench-decode --backend cpu --max-gib nan", "--max-gib");
  expect_usage_error("bench-decode --backend cpu --reps 0", "--reps");
}

TEST(CliArgs, BenchCommandsRefuseBadTiming) {
  for (const std::string cmd : {"bench", "bench-decode"}) {
    expect_usage_error(cmd + " --backend cpu --warmup -1", "--warmup");
    expect_usage_error(cmd + " --backend cpu --reps 0", "--reps");
  }
}

TEST(CliArgs, ServeRefusesNonsenseLimitsBeforeListening) {
  expect_usage_error("serve --db :memory: --port 0 --max-body-mb -1", "--max-body-mb");
  expect_usage_error("serve --db :memory: --port 0 --max-body-mb 17592186044416", "--max-body-mb");  // 2^44
  expect_usage_error("serve --db :memory: --port 0 --max-body-mb 0", "--max-body-mb");
  expect_usage_error("serve --db :memory: --port 0 --threads -1", "--threads");
  expect_usage_error("serve --db :memory: --port 70000", "--port");
  expect_usage_error("serve --db :memory: --port 0 --anonymous-compiles -1", "--anonymous-compiles");
}

TEST(CliArgs, DbBestRefusesAnUnknownDevice) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "attnjit-cli-XXXXXX").string();
  ASSERT_TRUE(mkdtemp(tmpl.data()));
  const std::string db = tmpl + "/t.db";
  Database::open(db);  // an empty, valid database
  const std::string p = "--problem prefill_bf16_hd128_causal_g1_q1024_k1024 --db " + db;
  expect_usage_error("db best " + p + " --device sm_1", "--device");
  expect_usage_error("db best " + p + " --device gpu0", "--device");
  expect_usage_error("db best " + p + " --device 0123456789abcdef", "--device");  // no such fingerprint
  CliRun ok = cli("db best " + p + " --device sm_80");
  EXPECT_EQ(ok.code, 0) << ok.output;
  std::filesystem::remove_all(tmpl);
}

// Failure 10: integers in keys were truncated (hd4294967424 became head dim 128).
TEST(CliArgs, OverflowingKeyIntegersAreRefused) {
  expect_usage_error("compile --problem prefill_bf16_hd4294967424_causal_g1_q1024_k1024 --arch sm_80", "head_dim");
  expect_usage_error("compile --problem prefill_bf16_hd128_causal_g4294967297_q1024_k1024 --arch sm_80", "group");
  expect_usage_error("compile --problem prefill_bf16_hd128_causal_g1_q1024_k1024 --arch sm_80 "
                     "--config bm4294967360_bn64_w4_s2",
                     "block_m");
}

TEST(CliArgs, QueryResultsRefusesANegativeCursor) {
  expect_usage_error("query results --server http://127.0.0.1:9 --after -5", "--after");
}

}  // namespace
}  // namespace attnjit
