// fp8 KV caches and page sizes through the CLI: `--kv-dtype` on bench-decode, compile and tune
// (the key's _kv- field), bad values exit 2 naming the flag, page sizes 1..256 accepted.
#include <gtest/gtest.h>

#include <string>

#include "common/cli_run.h"

namespace attnjit {
namespace {

using attnjit::testing::run_cli;

void expect_usage_error(const std::string& args, const std::string& names) {
  const auto r = run_cli(args);
  EXPECT_EQ(r.code, 2) << args << "\n" << r.output;
  EXPECT_NE(r.output.find(names), std::string::npos) << args << "\n" << r.output;
}

TEST(CliKvDtype, BadValuesNameTheFlag) {
  expect_usage_error("bench-decode --backend cpu --kv-dtype e3m4", "--kv-dtype");
  expect_usage_error("bench-decode --backend cpu --page-size 3", "--page-size");
  expect_usage_error("bench-decode --backend cpu --page-size 512", "--page-size");
  expect_usage_error("compile --problem prefill_bf16_hd128_causal_g1_q1024_k1024 --kv-dtype e4m3", "--kv-dtype");
  expect_usage_error("tune --problem prefill_bf16_hd128_causal_g1_q1024_k1024 --kv-dtype e4m3 --dry-run",
                     "--kv-dtype");
}

TEST(CliKvDtype, CompileAndTuneCarryItIntoTheKey) {
  const auto src = run_cli("compile --problem decode_bf16_hd128_none_g8_q1_k4096_p1 --kv-dtype e4m3 --arch sm_89 "
                           "--emit source");
  EXPECT_EQ(src.code, 0) << src.output;
  EXPECT_NE(src.output.find("decode_bf16_hd128_none_g8_q1_k4096_p1_kv-e4m3"), std::string::npos) << src.output;
  EXPECT_NE(src.output.find("kKvFp8 = attnjit::fp8::kE4M3"), std::string::npos) << src.output;
  const auto dry = run_cli("tune --backend cpu --problem decode_f32_hd64_none_g4_q2_k4096_p8 --kv-dtype e5m2 --dry-run");
  EXPECT_EQ(dry.code, 0) << dry.output;
  EXPECT_NE(dry.output.find("decode_f32_hd64_none_g4_q2_k4096_p8_kv-e5m2"), std::string::npos) << dry.output;
}

TEST(CliKvDtype, BenchDecodeCountsFp8Bytes) {
  const auto r = run_cli("bench-decode --backend cpu --kv-dtype e4m3 --page-size 4 --batch 1 --kv-len 2048 --gqa 8 "
                         "--heads-q 16 --warmup 0 --reps 1 --json");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("\"kv_dtype\": \"e4m3\""), std::string::npos) << r.output;
  // 2 tensors x 2048 keys x 2 KV heads x 128 dims x 1 byte.
  EXPECT_NE(r.output.find("\"kv_bytes\": 1048576"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace attnjit
