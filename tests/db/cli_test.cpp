// The `attnjit db` command end to end: stats, export, import, best, and exit code 2 on bad args.
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "db/database.h"
#include "db_test_util.h"

namespace attnjit {
namespace {

struct CliRun {
  int code;
  std::string out;
};

// Runs the CLI with stdout captured (stderr passes through for diagnostics).
CliRun cli(const std::string& args) {
  std::string cmd = std::string(ATTNJIT_CLI_PATH) + " " + args;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("popen failed");
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
  int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

TEST(DbCli, StatsExportImportBest) {
  testing::ScratchDir dir;
  const std::string src = dir.file("src.db"), dst = dir.file("dst.db"), file = dir.file("x.jsonl");
  DeviceInfo dev = testing::gpu();
  const std::string p = "prefill_bf16_hd128_causal_g4_q4096_k4096";
  {
    Database db = Database::open(src);
    db.upsert_device(dev);
    db.record_result(testing::ok_result(dev, p, "bm128_bn64_w4_s2", 0.5));
    db.record_result(testing::ok_result(dev, p, "bm64_bn64_w4_s2", 0.8));
    db.record_result(testing::failed_result(dev, p, "bm128_bn128_w8_s2", ResultStatus::Timeout));
  }
  CliRun stats = cli("db stats --db " + src);
  ASSERT_EQ(stats.code, 0);
  auto js = nlohmann::json::parse(stats.out);
  EXPECT_EQ(js["results"], 3);
  EXPECT_EQ(js["results_by_status"]["timeout"], 1);
  EXPECT_EQ(js["device_list"][0]["fingerprint"], dev.fingerprint());

  ASSERT_EQ(cli("db export --db " + src + " --out " + file).code, 0);
  const std::string exported = testing::read_bytes(file);
  EXPECT_EQ(std::count(exported.begin(), exported.end(), '\n'), 3);
  CliRun imp = cli("db import --db " + dst + " " + file + " " + file);
  ASSERT_EQ(imp.code, 0) << imp.out;
  auto ji = nlohmann::json::parse(imp.out);
  EXPECT_EQ(ji["imported"][0]["stored"], 3);
  EXPECT_EQ(ji["imported"][1]["stored"], 0);  // the second time changes nothing

  CliRun best = cli("db best --db " + dst + " --problem " + p + " --device " + dev.fingerprint());
  ASSERT_EQ(best.code, 0);
  auto jb = nlohmann::json::parse(best.out);
  EXPECT_EQ(jb["reason"], "exact");
  EXPECT_EQ(jb["entry"]["config"], "bm128_bn64_w4_s2");
  CliRun near = cli("db best --db " + dst + " --problem prefill_bf16_hd128_causal_g4_q8192_k4096 --device sm_90a");
  ASSERT_EQ(near.code, 0);
  EXPECT_EQ(nlohmann::json::parse(near.out)["reason"], "same_arch");
  CliRun all = cli("db best --db " + dst + " --problem " + p);
  ASSERT_EQ(all.code, 0);
  EXPECT_EQ(nlohmann::json::parse(all.out)["best"].size(), 1u);
  // $ATTNJIT_DB is the default database.
  CliRun env = cli("db stats 2>/dev/null; ATTNJIT_DB=" + dst + " " + ATTNJIT_CLI_PATH + " db stats");
  EXPECT_EQ(nlohmann::json::parse(env.out.substr(env.out.find('{')))["results"], 3);
}

TEST(DbCli, BadArgumentsExitWithTwo) {
  testing::ScratchDir dir;
  const std::string db = dir.file("t.db");
  { Database d = Database::open(db); }
  EXPECT_EQ(cli("db 2>/dev/null").code, 2);
  EXPECT_EQ(cli("db frobnicate 2>/dev/null").code, 2);
  EXPECT_EQ(cli("db best --db " + db + " 2>/dev/null").code, 2);  // --problem missing
  EXPECT_EQ(cli("db best --db " + db + " --problem prefill_bf16 2>/dev/null").code, 2);
  EXPECT_EQ(cli("db best --db " + db +
                " --problem prefill_bf16_hd128_causal_g4_q4096_k4096 --device what 2>/dev/null")
                .code,
            2);
  EXPECT_EQ(cli("db export --db " + db + " --status fast 2>/dev/null").code, 2);
  EXPECT_EQ(cli("db import --db " + db + " 2>/dev/null").code, 2);  // no files
  EXPECT_EQ(cli("db import --db " + db + " " + dir.file("missing.jsonl") + " 2>/dev/null").code, 2);
  // A database that does not exist is a failure (1), and read commands do not create it.
  EXPECT_EQ(cli("db stats --db " + dir.file("nope.db") + " 2>/dev/null").code, 1);
  EXPECT_FALSE(std::filesystem::exists(dir.file("nope.db")));
  // A malformed import file is a failure that names the line.
  testing::write_bytes(dir.file("bad.jsonl"), "{}\n");
  EXPECT_EQ(cli("db import --db " + db + " " + dir.file("bad.jsonl") + " 2>/dev/null").code, 1);
}

// Failure 9 of issue 14: `db stats` and `db export` on a database in a read-only directory,
// run by a user who cannot write there; and `db stats` on a missing file.
TEST(DbCli, StatsAndExportReadADatabaseInAReadOnlyDirectory) {
  testing::ScratchDir dir;
  const std::string path = testing::read_only_dir_db(dir, 2);
  const std::string exe = ATTNJIT_CLI_PATH;
  const int stats = testing::as_unprivileged([&] {
    return std::system((exe + " db stats --db " + path + " > /dev/null").c_str()) == 0 ? 0 : 1;
  });
  EXPECT_EQ(stats, 0);
  const int exported = testing::as_unprivileged([&] {
    FILE* p = popen((exe + " db export --db " + path).c_str(), "r");
    if (!p) return 2;
    std::string out;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
    if (pclose(p) != 0) return 1;
    return std::count(out.begin(), out.end(), '\n') == 2 ? 0 : 3;
  });
  EXPECT_EQ(exported, 0);

  CliRun missing = cli("db stats --db " + dir.file("absent.db") + " 2>&1");
  EXPECT_NE(missing.code, 0);
  EXPECT_NE(missing.out.find("does not exist"), std::string::npos) << missing.out;
  EXPECT_FALSE(std::filesystem::exists(dir.file("absent.db")));
}

}  // namespace
}  // namespace attnjit
