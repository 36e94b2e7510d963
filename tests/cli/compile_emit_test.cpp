// `attnjit compile --emit`: the cubin is written raw to stdout (an ELF file, for cuobjdump -sass
// or nvdisasm), the PTX as text; the report is printed only without --emit.
#include <gtest/gtest.h>

#include <string>

#include "common/cli_run.h"
#include "common/require_nvrtc.h"

namespace attnjit {
namespace {

using attnjit::testing::run_cli;

TEST(CliCompileEmit, CubinIsAnElfFileAndPtxIsText) {
  REQUIRE_NVRTC();
  const std::string key = "--problem decode_bf16_hd128_none_g8_q1_k4096_p0 --arch sm_90a";
  const auto cubin = run_cli("compile " + key + " --emit cubin", 120, /*with_stderr=*/false);
  ASSERT_EQ(cubin.code, 0);
  ASSERT_GT(cubin.output.size(), 1000u);
  EXPECT_EQ(cubin.output.substr(0, 4), std::string("\x7f" "ELF"));
  const auto ptx = run_cli("compile " + key + " --emit ptx", 120, false);
  ASSERT_EQ(ptx.code, 0);
  EXPECT_NE(ptx.output.find(".target sm_90a"), std::string::npos);
  EXPECT_EQ(ptx.output.find("registers"), std::string::npos);  // no report with --emit
  const auto bad = run_cli("compile " + key + " --emit sass");
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("--emit"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace attnjit
