// The `attnjit db` command end to end: stats, export, import, best, and exit code 2 on bad args.
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/cli_run.h"
#include "db/database.h"
#include "db_test_util.h"

namespace attnjit {
namespace {

// stdout only: the tests parse it as JSON.
testing::CliResult cli(const std::string& args) { return testing::run_cli(args, 60, false); }

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
  auto stats = cli("db stats --db " + src);
  ASSERT_EQ(stats.code, 0);
  auto js = nlohmann::json::parse(stats.output);
  EXPECT_EQ(js["results"], 3);
  EXPECT_EQ(js["results_by_status"]["timeout"], 1);
  EXPECT_EQ(js["device_list"][0]["fingerprint"], dev.fingerprint());

  ASSERT_EQ(cli("db export --db " + src + " --out " + file).code, 0);
  const std::string exported = testing::read_bytes(file);
  EXPECT_EQ(std::count(exported.begin(), exported.end(), '\n'), 3);
  auto imp = cli("db import --db " + dst + " " + file + " " + file);
  ASSERT_EQ(imp.code, 0) << imp.output;
  auto ji = nlohmann::json::parse(imp.output);
  EXPECT_EQ(ji["imported"][0]["stored"], 3);
  EXPECT_EQ(ji["imported"][1]["stored"], 0);  // the second time changes nothing

  auto best = cli("db best --db " + dst + " --problem " + p + " --device " + dev.fingerprint());
  ASSERT_EQ(best.code, 0);
  auto jb = nlohmann::json::parse(best.output);
  EXPECT_EQ(jb["reason"], "exact");
  EXPECT_EQ(jb["entry"]["config"], "sm80_bm128_bn64_w4_s2");  // imports name the template (v4)
  auto near = cli("db best --db " + dst + " --problem prefill_bf16_hd128_causal_g4_q8192_k4096 --device sm_90a");
  ASSERT_EQ(near.code, 0);
  EXPECT_EQ(nlohmann::json::parse(near.output)["reason"], "same_arch");
  auto all = cli("db best --db " + dst + " --problem " + p);
  ASSERT_EQ(all.code, 0);
  EXPECT_EQ(nlohmann::json::parse(all.output)["best"].size(), 1u);
  // $ATTNJIT_DB is the default database.
  auto env = cli("db stats 2>/dev/null; ATTNJIT_DB=" + dst + " " + ATTNJIT_CLI_PATH + " db stats");
  EXPECT_EQ(nlohmann::json::parse(env.output.substr(env.output.find('{')))["results"], 3);
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

  auto missing = cli("db stats --db " + dir.file("absent.db") + " 2>&1");
  EXPECT_NE(missing.code, 0);
  EXPECT_NE(missing.output.find("does not exist"), std::string::npos) << missing.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("absent.db")));
}

}  // namespace
}  // namespace attnjit
