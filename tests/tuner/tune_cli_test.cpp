// `attnjit tune` end to end through the real executable: shard split, a run with isolated
// workers into a database file, and the resumed run that measures nothing.
#include <gtest/gtest.h>

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "tuner/presets.h"

namespace attnjit::tuner {
namespace {

struct CliRun {
  int status = -1;
  std::string out;
};

// Runs the CLI with `args`, stdout captured (stderr left to the test log).
CliRun cli(const std::string& args) {
  CliRun r;
  const std::string cmd = std::string(ATTNJIT_CLI_PATH) + " " + args;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

TEST(TuneCli, DryRunShardsCoverThePresetExactlyOnce) {
  std::map<std::string, int> seen;
  for (int i = 0; i < 5; ++i) {
    CliRun r = cli("tune --preset llm-prefill --shard " + std::to_string(i) + "/5 --dry-run");
    ASSERT_EQ(r.status, 0);
    for (const std::string& k : lines(r.out)) ++seen[k];
  }
  ASSERT_EQ(seen.size(), preset("llm-prefill").problems.size());
  for (const auto& [k, n] : seen) EXPECT_EQ(n, 1) << k;
  EXPECT_EQ(cli("tune --preset llm-prefill --shard 5/5 --dry-run").status, 2);
  EXPECT_EQ(cli("tune --preset nope --dry-run").status, 2);
  EXPECT_EQ(cli("tune --problem prefill_f32_hd64_none_g1_q128_k128_even --strategy exhaustive --budget 3 --dry-run").status, 2);
  EXPECT_EQ(cli("tune --problem prefill_f32_hd64_none_g1_q128_k128_even --strategy halving --budget 3,60s --dry-run").status, 0);
}

#ifdef ATTNJIT_WITH_LLVM
TEST(TuneCli, IsolatedRunStoresAndExportsAndTheSecondRunResumes) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("attnjit-tune-cli-" + std::to_string(::getpid()) + "-" +
                    std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  std::filesystem::create_directories(dir);
  const std::string db = (dir / "t.db").string(), jsonl = (dir / "t.jsonl").string();
  const std::string args = "tune --problem prefill_f32_hd64_causal_g1_q128_k128_even --backend cpu "
                           "--isolation process --strategy random --budget 3 --measure-seconds 0.2 --threads 2 "
                           "--quiet --db " + db + " --jsonl-out " + jsonl;
  CliRun first = cli(args);
  ASSERT_EQ(first.status, 0) << first.out;
  EXPECT_NE(first.out.find("| prefill_f32_hd64_causal_g1_q128_k128_even | cpu_bm"), std::string::npos) << first.out;
  std::ifstream f(jsonl);
  std::stringstream content;
  content << f.rdbuf();
  EXPECT_EQ(lines(content.str()).size(), 3u);  // the three sampled candidates, every one stored

  CliRun second = cli(args);
  ASSERT_EQ(second.status, 0) << second.out;
  // Summary row: reused column = 3, and the same best config.
  auto row = [](const std::string& out) {
    for (const std::string& l : lines(out))
      if (l.rfind("| prefill_", 0) == 0) return l;
    return std::string();
  };
  const std::string r1 = row(first.out), r2 = row(second.out);
  ASSERT_FALSE(r2.empty());
  EXPECT_NE(r2.find("| 3 |"), std::string::npos) << r2;
  EXPECT_EQ(r1.substr(0, r1.find(" | ", 50)), r2.substr(0, r2.find(" | ", 50)));  // same problem + config
  std::filesystem::remove_all(dir);
}
#endif

}  // namespace
}  // namespace attnjit::tuner
