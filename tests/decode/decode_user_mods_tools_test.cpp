// Decode user mods outside the kernels: the key grammar (_sm / _mm on decode keys read back
// exactly, block masks refused), the rendered sources (mods entries, UserMods in the config;
// plain keys keep their plain entries), NVRTC compile checks of both sm80 kernels with snippets
// (no spills, no stack, sm_80 and sm_90a), and the CLI: `tune` on a decode key with --mask-mod
// stores the snippet and passes the correctness gate; a key naming the hash alone then finds the
// text in the database; `bench-decode` with a snippet that does not compile exits 2 quoting
// the compiler at the snippet's line.
#include <gtest/gtest.h>

#include <fstream>

#include "codegen/kernel_template.h"
#include "codegen/registry.h"
#include "codegen/snippet.h"
#include "common/cli_run.h"
#include "common/require_nvrtc.h"
#include "db/database.h"
#include "db/db_test_util.h"
#include "runtime/nvrtc_compiler.h"

namespace attnjit::testing {
namespace {

const std::string kMask = "const int* doc = aux<int>(0);\nreturn doc[b * 64 + kv_idx] == doc[q_idx];";
const std::string kScore = "return score + aux<float>(1)[h] - 0.125f * q_idx;";

ProblemSpec mods_spec(int group, int qt) {
  ProblemSpec s = ProblemSpec::for_shape(Family::Decode, DType::BF16, 128, {MaskKind::Causal}, 4 * group, 4, qt, 8192, 16);
  s.score_mod = register_snippet(kScore);
  s.mask_mod = register_snippet(kMask);
  return s;
}

TEST(DecodeUserModsTools, KeyReadsBackAndBlockMasksAreRefused) {
  const ProblemSpec s = mods_spec(4, 2);
  const std::string key = s.key();
  EXPECT_EQ(key, "decode_bf16_hd128_causal_sm" + snippet_hash(kScore) + "_mm" + snippet_hash(kMask) + "_g4_q2_k8192_p16");
  EXPECT_EQ(ProblemSpec::parse(key), s);
  const std::string fp8 = "decode_bf16_hd64_none_sc30_alibi_sink_mm" + snippet_hash(kMask) + "_g8_q1_k4096_p1_kv-e4m3";
  EXPECT_EQ(ProblemSpec::parse(fp8).key(), fp8);
  ProblemSpec bs = s;
  bs.block_sparse = 64;
  try {
    bs.validate();
    FAIL() << "block_sparse accepted on decode";
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("block_sparse"), std::string::npos) << e.what();
  }
}

TEST(DecodeUserModsTools, SourcesNameTheModsEntries) {
  const Target gpu = Target::cuda("sm_80");
  const ProblemSpec s = mods_spec(4, 4);
  for (const char* cfg : {"bm16_bn16_w4_s3_v8", "bm8_bn32_w4_s2_v8"}) {
    const KernelSource src = select_template(s, gpu).render(s, TileConfig::parse(cfg), gpu);
    EXPECT_NE(src.entry.find(cfg[2] == '1' ? "decode_mma_mods_kernel" : "decode_mods_kernel"), std::string::npos) << src.entry;
    EXPECT_NE(src.text.find("using UserMods = attnjit_gen::UserMods;"), std::string::npos);
    EXPECT_NE(src.text.find("#line 1 \"mask_mod\"\n" + kMask), std::string::npos) << src.text;
  }
  ProblemSpec plain = s;
  plain.score_mod.clear();
  plain.mask_mod.clear();
  const KernelSource p = select_template(plain, gpu).render(plain, TileConfig::parse("bm16_bn16_w4_s3_v8"), gpu);
  EXPECT_EQ(p.entry.find("mods"), std::string::npos) << p.entry;
  EXPECT_EQ(p.text.find("UserMods"), std::string::npos);
}

TEST(DecodeUserModsTools, NvrtcBothKernelsNoSpillsNoStack) {
  REQUIRE_NVRTC();
  for (const char* arch : {"sm_80", "sm_90a"}) {
    const Target target = Target::cuda(arch);
    for (auto [group, qt, cfg] : {std::tuple{4, 4, "bm16_bn16_w4_s3_v8"}, std::tuple{2, 1, "bm2_bn32_w4_s2_v8"},
                                  std::tuple{8, 1, "bm8_bn32_w4_s4_v8"}}) {
      const ProblemSpec s = mods_spec(group, qt);
      const TileConfig c = TileConfig::parse(cfg);
      const KernelTemplate& t = select_template(s, target);
      ASSERT_FALSE(t.can_implement(s, c, target)) << s.key() << " " << cfg;
      const NvrtcResult r = Nvrtc::get().compile(t.render(s, c, target), true, true);
      const std::string what = s.key() + " " + cfg + " " + arch;
      EXPECT_FALSE(r.cubin.empty()) << what;
      EXPECT_EQ(r.resources.spill_store_bytes, 0) << what << "\n" << r.log;
      EXPECT_EQ(r.resources.spill_load_bytes, 0) << what;
      EXPECT_EQ(r.resources.stack_frame_bytes, 0) << what;
    }
  }
}

#if defined(ATTNJIT_WITH_LLVM)
TEST(DecodeUserModsTools, CliTuneStoresTheSnippetAndBenchDecodeReportsTheLine) {
  ScratchDir dir;
  const std::string mm = "return kv_idx < 8 || (q_idx + kv_idx) % 3 != 0;";
  const std::string db = dir.file("t.db");
  const CliResult r = run_cli("tune --problem decode_f32_hd64_causal_g4_q2_k512_p16 --mask-mod " +
                                  dir.write("d.mm", mm) + " --backend cpu --strategy random --budget 2 --quiet --db " + db,
                              300);
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string key = "decode_f32_hd64_causal_mm" + snippet_hash(mm) + "_g4_q2_k512_p16";
  {
    Database d = Database::open(db);
    EXPECT_EQ(d.get_snippet(snippet_hash(mm)).value(), mm);
    ResultFilter f;
    f.problem = key;
    const ResultPage page = d.query_results(f);
    ASSERT_FALSE(page.rows.empty()) << r.output;
    for (const TuningResult& t : page.rows)
      EXPECT_TRUE(t.status == ResultStatus::Ok || t.status == ResultStatus::Pruned) << t.config << ": " << t.error;
  }
  // The key alone: the text comes from the database.
  const CliResult again = run_cli("tune --problem " + key + " --backend cpu --strategy random --budget 1 --quiet --db " + db, 300);
  EXPECT_EQ(again.code, 0) << again.output;

  const CliResult bad = run_cli("bench-decode --backend cpu --dtype f32 --head-dim 64 --heads-q 4 --gqa 4 --batch 1 "
                                "--kv-len 64 --reps 1 --warmup 1 --score-mod " +
                                    dir.write("bad.sm", "float x = score;\nreturn x +;"),
                                120);
  EXPECT_EQ(bad.code, 2) << bad.output;
  EXPECT_NE(bad.output.find("score_mod line 2"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("2 | return x +;"), std::string::npos) << bad.output;
}
#endif

}  // namespace
}  // namespace attnjit::testing
