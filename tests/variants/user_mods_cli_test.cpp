// The CLI with snippet files: `tune` on the CPU backend puts the key's _mm / _sm hash and the
// snippet text into the database, every candidate passing the correctness gate (the float64
// reference evaluates the snippet through the CPU JIT); `compile` maps a snippet's compiler
// error to its line with exit status 2; unreadable files and mismatched keys are usage errors.
#include <gtest/gtest.h>

#include <fstream>

#include "codegen/snippet.h"
#include "common/cli_run.h"
#include "db/database.h"
#include "db/db_test_util.h"

namespace attnjit::testing {
namespace {

#if defined(ATTNJIT_WITH_LLVM)
TEST(UserModsCli, TuneStoresTheSnippetAndPassesTheGate) {
  ScratchDir dir;
  const std::string mm = "int d = q_idx - kv_idx;\nreturn (d <= 9 && d >= -9) || q_idx < 2 || kv_idx < 2;";
  const std::string sm = "return score - 0.1f * (q_idx > kv_idx ? q_idx - kv_idx : kv_idx - q_idx);";
  const std::string db = dir.file("t.db");
  const CliResult r = run_cli("tune --problem prefill_f32_hd64_none_bs32_g1_q64_k64 --mask-mod " +
                                  dir.write("l.mm", mm) + " --score-mod " + dir.write("b.sm", sm) +
                                  " --backend cpu --strategy random --budget 2 --quiet --db " + db,
                              300);
  ASSERT_EQ(r.code, 0) << r.output;
  Database d = Database::open(db);
  const std::string key = "prefill_f32_hd64_none_sm" + snippet_hash(sm) + "_mm" + snippet_hash(mm) + "_bs32_g1_q64_k64";
  ResultFilter f;
  f.problem = key;
  const ResultPage page = d.query_results(f);
  ASSERT_FALSE(page.rows.empty()) << r.output;
  for (const TuningResult& t : page.rows)
    EXPECT_TRUE(t.status == ResultStatus::Ok || t.status == ResultStatus::Pruned) << t.config << ": " << t.error;
  EXPECT_EQ(d.get_snippet(snippet_hash(mm)).value(), mm);
  EXPECT_EQ(d.get_snippet(snippet_hash(sm)).value(), sm);
}
#endif

TEST(UserModsCli, CompileErrorNamesTheSnippetLine) {
  ScratchDir dir;
  const CliResult r = run_cli("compile --problem prefill_bf16_hd64_causal_g1_q128_k128 --arch sm_80 --mask-mod " +
                              dir.write("bad.mm", "int x = 1;\nreturn x == undefined_name;\n"));
  if (r.output.find("NVRTC") != std::string::npos && r.code != 2) GTEST_SKIP() << r.output;
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("mask_mod line 2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("2 | return x == undefined_name;"), std::string::npos) << r.output;
}

TEST(UserModsCli, BadFilesAndMismatchedKeysAreUsageErrors) {
  ScratchDir dir;
  CliResult r = run_cli("compile --problem prefill_bf16_hd64_causal_g1_q128_k128 --mask-mod " + dir.file("missing"));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--mask-mod: cannot read"), std::string::npos) << r.output;
  r = run_cli("compile --problem prefill_bf16_hd64_causal_mm0123456789abcdef_g1_q128_k128 --mask-mod " +
              dir.write("ok.mm", "return true;"));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("names 0123456789abcdef"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace attnjit::testing
