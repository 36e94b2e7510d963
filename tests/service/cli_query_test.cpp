// `attnjit query` against a real server: a 400 from the server is exit status 2 with the
// server's field and message; a good request prints the page and exits 0.
#include <gtest/gtest.h>

#include "common/cli_run.h"
#include <sys/wait.h>

#include <array>
#include <cstdio>

#include "test_server.h"

namespace attnjit::service {
namespace {

using CliRun = attnjit::testing::CliResult;

CliRun cli(const std::string& args) { return attnjit::testing::run_cli(args); }

TEST(CliQuery, ServerRejectionsExitTwo) {
  testing::TestServer srv;
  const std::string server = " --server " + srv.url();
  CliRun ok = cli("query results" + server + " --limit 2");
  EXPECT_EQ(ok.code, 0) << ok.output;
  EXPECT_NE(ok.output.find("next_cursor"), std::string::npos) << ok.output;
  CliRun bad = cli("query results" + server + " --status great");
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("field status"), std::string::npos) << bad.output;
  CliRun neg = cli("query results" + server + " --after -5");
  EXPECT_EQ(neg.code, 2) << neg.output;
  EXPECT_NE(neg.output.find("--after"), std::string::npos) << neg.output;
}

}  // namespace
}  // namespace attnjit::service
