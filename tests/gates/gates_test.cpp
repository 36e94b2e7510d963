// Compile gates (label `gates`, no GPU): a sample of (template, config, arch) kernels and the
// FA3-shaped sm_90a test kernel pass every gate; and every gate fails on a kernel built to have
// its defect (a spill, a stack frame with local memory, ptxas C7508, an sm_90a kernel without
// HGMMA / UTMALDG) — so a silent gate means something.
#include "codegen/registry.h"
#include "codegen/snippet.h"
#include "gates/gate_jobs.h"
#include "common/require_nvrtc.h"
#include "common/prefill_problem.h"

namespace attnjit {
namespace {

KernelSource tiny(const std::string& text, const std::string& arch, std::vector<std::string> opts = {}) {
  KernelSource s;
  s.name = "gate_defect/" + arch;
  s.text = text;
  s.entry = "k";
  s.options = {"-std=c++17"};
  s.options.insert(s.options.end(), opts.begin(), opts.end());
  s.arch = arch;
  s.finalize();
  return s;
}

NvrtcResult compile(const KernelSource& s) { return Nvrtc::get().compile(s, true); }

std::string sass_or_skip(const NvrtcResult& r, std::string* why) {
  const std::string tool = gates::find_cuobjdump(why);
  return tool.empty() ? "" : gates::sass_of(tool, r.cubin);
}

// A gate job for the sm90 template on sm_90a: `cfg`, or the template's default for the spec; the
// template must accept it.
void add_sm90_job(std::vector<gates::Job>& jobs, const ProblemSpec& s, const char* cfg = nullptr) {
  TileConfig named;
  named.tmpl = "sm90";
  const Target target = Target::cuda("sm_90a");
  const KernelTemplate& t = template_for(s, target, named);
  const TileConfig c = cfg ? TileConfig::parse(cfg) : t.default_config(s, target);
  ASSERT_FALSE(t.can_implement(s, c, target)) << c.key() << " " << s.key();
  jobs.push_back({&t, s, c, target});
}

bool mentions(const std::vector<std::string>& v, const std::string& needle) {
  for (const std::string& s : v)
    if (s.find(needle) != std::string::npos) return true;
  return false;
}

TEST(Gates, SampledTemplatesConfigsAndArchsPassEveryGate) {
  REQUIRE_NVRTC();
  gates::run_gates(gates::gate_jobs(/*full=*/false, /*sample=*/6), "gates");
}

// The sm90 prefill template at its default config for every head dim (the sampled run above
// already holds bf16 hd128 causal), with soft-capping, and the non-default shapes of its space:
// three consumer warpgroups, ping-pong and overlap off, persistent. HGMMA, UTMALDG, no spill, no
// stack, no C75xx.
TEST(Gates, PrefillSm90DefaultConfigsPassEveryGate) {
  REQUIRE_NVRTC();
  std::vector<gates::Job> jobs;
  auto add = [&](DType dt, int hd, MaskSpec m, double softcap = 0, const char* cfg = nullptr) {
    ProblemSpec s = testing::make_prefill_spec(dt, hd, m, 1, 1024);
    s.softcap = softcap;
    add_sm90_job(jobs, s, cfg);
  };
  const MaskSpec none{MaskKind::None, 0, 0}, causal{MaskKind::Causal, 0, 0};
  add(DType::BF16, 64, none);    // 1k tokens: persistent, O in its own buffer, 3 warpgroups
  add(DType::BF16, 64, causal);  // 1k tokens: persistent, O in its own buffer
  add(DType::F16, 128, {MaskKind::SlidingWindow, 256, 0});
  add(DType::BF16, 96, causal);
  add(DType::BF16, 192, causal, /*softcap=*/30);
  add(DType::BF16, 256, none);
  add(DType::BF16, 256, causal);
  add(DType::F16, 256, causal, /*softcap=*/50);
  add(DType::BF16, 64, causal, 0, "sm90_bm192_bn128_w4_s2_wg3_pp1");
  add(DType::BF16, 128, none, 0, "sm90_bm128_bn176_w4_s2_wg2");
  add(DType::BF16, 128, causal, 0, "sm90_bm128_bn128_w4_s2_wg2_pp1_ov1_ps1");
  // The defaults beyond 2k tokens (the jobs above are at 1k).
  add(DType::BF16, 128, none, 0, "sm90_bm128_bn128_w4_s3_wg2_pp1_ov1");
  add(DType::BF16, 64, none, 0, "sm90_bm192_bn128_w4_s2_wg3");
  add(DType::BF16, 64, causal, 0, "sm90_bm128_bn128_w4_s3_wg2_ps1");
  // Order 1 (a consumer passes through the key tiles its rows cannot see) on the defaults it
  // targets: hd 256's 80-key and hd 192's 112-key tiles, three consumers, the overlap (causal),
  // a window with the persistent kernel and soft-capping.
  add(DType::BF16, 256, causal, 0, "sm90_bm128_bn80_w4_s2_o1_wg2_pp1");
  add(DType::BF16, 192, causal, 30, "sm90_bm128_bn112_w4_s2_o1_wg2_ov1");
  add(DType::BF16, 64, causal, 0, "sm90_bm192_bn128_w4_s2_o1_wg3");
  add(DType::BF16, 128, causal, 0, "sm90_bm128_bn128_w4_s3_o1_wg2_pp1_ov1");
  add(DType::F16, 128, {MaskKind::SlidingWindow, 1024, 0}, 0, "sm90_bm128_bn128_w4_s2_o1_wg2_pp1_ps2");
  gates::run_gates(jobs, "gates");
}

// ALiBi, sinks, varlen batches, paged K/V and user variants in the sm90 template: its own default
// config for each head dim (what naming sm90 or tuning reaches), with soft-capping, and the configs
// that keep the most live across key tiles (the overlap, the persistent kernel with O in its own
// buffer, order 1, three consumers).
TEST(Gates, PrefillSm90VariantsVarlenAndPagesPassEveryGate) {
  REQUIRE_NVRTC();
  std::vector<gates::Job> jobs;
  auto add_spec = [&](const ProblemSpec& s, const char* cfg) { add_sm90_job(jobs, s, cfg); };
  auto add = [&](DType dt, int hd, MaskSpec m, bool alibi, bool sink, double softcap = 0, const char* cfg = nullptr,
                 bool varlen = false, int page = 0) {
    ProblemSpec s = testing::make_prefill_spec(dt, hd, m, 1, 8192);
    s.varlen = varlen;
    s.page_size = page;
    s.alibi = alibi;
    s.sink = sink;
    s.softcap = softcap;
    add_spec(s, cfg);
  };
  const MaskSpec none{MaskKind::None, 0, 0}, causal{MaskKind::Causal, 0, 0}, sw{MaskKind::SlidingWindow, 1024, 0};
  add(DType::BF16, 64, causal, true, true);
  add(DType::BF16, 96, none, true, false);
  add(DType::BF16, 128, causal, true, true);
  add(DType::F16, 128, sw, true, false, 30);
  add(DType::BF16, 192, causal, false, true, 30);
  add(DType::BF16, 256, causal, true, true);
  add(DType::BF16, 256, none, true, false, 50);
  add(DType::BF16, 128, causal, true, true, 30, "sm90_bm128_bn128_w4_s3_o1_wg2_pp1_ov1");
  add(DType::BF16, 128, causal, true, true, 0, "sm90_bm128_bn128_w4_s2_o1_wg2_pp1_ps2");
  add(DType::BF16, 128, none, true, true, 0, "sm90_bm128_bn176_w4_s2_wg2_pp1_ov1");
  add(DType::BF16, 64, none, true, true, 0, "sm90_bm192_bn128_w4_s2_wg3_ps2");
  add(DType::BF16, 256, causal, true, true, 0, "sm90_bm128_bn80_w4_s2_o1_wg2_pp1");
  for (int hd : {64, 96, 128, 192, 256}) add(DType::BF16, hd, causal, false, false, 0, nullptr, /*varlen=*/true);
  add(DType::F16, 128, sw, true, true, 0, nullptr, true);
  add(DType::BF16, 128, none, false, false, 0, "sm90_bm128_bn128_w4_s2_wg2_pp1_ov1_ps2", true);
  add(DType::BF16, 64, causal, false, false, 0, "sm90_bm192_bn128_w4_s2_wg3_ps2", true);
  add(DType::BF16, 128, causal, false, false, 0, "sm90_bm128_bn128_w4_s3_o1_wg2_pp1_ov1", true);
  // Paged K/V: a box per page (8, 16) or the tile's rows of one page (256), dense and varlen queries.
  for (int page : {8, 16, 256}) {
    add(DType::BF16, 128, causal, false, false, 0, nullptr, page == 16, page);
    add(DType::BF16, 256, causal, true, true, 0, nullptr, page != 16, page);
  }
  add(DType::BF16, 64, causal, false, false, 0, "sm90_bm192_bn128_w4_s2_wg3_ps2", true, 32);
  // User variants: a score_mod reading an aux table and a document mask_mod, dense and block-sparse.
  const std::string score = register_snippet("return score + aux<float>(1)[h] - 0.0625f * (q_idx - kv_idx);", "score_mod");
  const std::string docs = register_snippet("const int* doc = aux<int>(0);\nreturn doc[q_idx] == doc[kv_idx];", "mask_mod");
  auto add_user = [&](int hd, MaskSpec m, int block_sparse, const char* cfg = nullptr) {
    ProblemSpec s = testing::make_prefill_spec(DType::BF16, hd, m, 1, 8192);
    s.score_mod = score;
    s.mask_mod = docs;
    s.block_sparse = block_sparse;
    add_spec(s, cfg);
  };
  for (int hd : {64, 128, 256}) {
    add_user(hd, none, 0);
    add_user(hd, causal, 128);
  }
  add_user(128, sw, 0, "sm90_bm128_bn128_w4_s2_o1_wg2_pp1_ps2");
  add_user(128, causal, 128, "sm90_bm128_bn128_w4_s3_wg2_pp1_ov1");
  add_user(128, none, 128, "sm90_bm128_bn128_w4_s2_wg2_pp1_ps2");
  gates::run_gates(jobs, "gates");
}

// ps3 (the next tile's first S GEMM in flight during this tile's epilogue) in both main loops,
// with and without ping-pong, a mask, varlen, pages, ALiBi + sinks (user variants are refused): no spill,
// no C75xx (an S GEMM in flight where ptxas cannot follow it serialises every wgmma), HGMMA and
// UTMALDG present. The gate sweep (label sweep) covers every ps3 config of the space.
TEST(Gates, PrefillSm90NextTileSPassesEveryGate) {
  REQUIRE_NVRTC();
  std::vector<gates::Job> jobs;
  const MaskSpec none{MaskKind::None, 0, 0}, causal{MaskKind::Causal, 0, 0}, sw{MaskKind::SlidingWindow, 1024, 0};
  auto add = [&](DType dt, int hd, MaskSpec m, const char* cfg, bool varlen = false, int page = 0, bool alibi = false) {
    ProblemSpec s = testing::make_prefill_spec(dt, hd, m, 1, 1024);
    s.varlen = varlen;
    s.page_size = page;
    s.alibi = s.sink = alibi;
    add_sm90_job(jobs, s, cfg);
  };
  add(DType::BF16, 128, none, "sm90_bm128_bn128_w4_s2_wg2_pp1_ov1_ps3");
  add(DType::F16, 96, none, "sm90_bm128_bn128_w4_s2_wg2_pp1_ov1_ps3");
  add(DType::BF16, 64, none, "sm90_bm128_bn128_w4_s3_wg2_pp1_ps3");
  add(DType::BF16, 128, causal, "sm90_bm128_bn128_w4_s2_wg2_ov1_ps3");
  add(DType::BF16, 64, causal, "sm90_bm128_bn128_w4_s3_wg2_ps3");
  add(DType::F16, 128, sw, "sm90_bm128_bn128_w4_s2_wg2_ov1_ps3");
  add(DType::BF16, 192, causal, "sm90_bm128_bn64_w4_s2_wg2_ps3", false, 0, true);
  add(DType::BF16, 128, causal, "sm90_bm128_bn128_w4_s2_wg2_ov1_ps3", true);
  add(DType::BF16, 128, none, "sm90_bm128_bn64_w4_s2_wg2_ov1_ps3", false, 16);
  gates::run_gates(jobs, "gates");
}

// The sm80 template's end-aligned key tiles (config order 1: a half first tile, a second copy of
// the tile body; order 2: a third, with per-warp skipping) on every arch that takes them, at the
// shapes the search space offers them: no spill, no stack, within the register file.
TEST(Gates, PrefillSm80EndAlignedConfigsPassEveryGate) {
  REQUIRE_NVRTC();
  std::vector<gates::Job> jobs;
  auto add = [&](const char* arch, DType dt, int hd, MaskSpec m, const char* cfg, double softcap = 0, bool alibi = false) {
    const Target target = Target::cuda(arch);
    ProblemSpec s = testing::make_prefill_spec(dt, hd, m, 1, 8192);
    s.softcap = softcap;
    s.alibi = alibi;
    const TileConfig c = TileConfig::parse(cfg);
    const KernelTemplate& t = template_for(s, target, c);
    ASSERT_FALSE(t.can_implement(s, c, target)) << cfg << " " << s.key() << " " << arch;
    jobs.push_back({&t, s, c, target});
  };
  const MaskSpec causal{MaskKind::Causal, 0, 0}, sw1024{MaskKind::SlidingWindow, 1024, 0};
  add("sm_90a", DType::BF16, 128, sw1024, "sm80_bm64_bn128_w4_s1_o1");
  add("sm_90a", DType::BF16, 128, causal, "sm80_bm64_bn128_w4_s1_o1", 30);
  add("sm_80", DType::F16, 128, sw1024, "sm80_bm64_bn128_w4_s1_o1", 0, true);
  add("sm_86", DType::BF16, 64, {MaskKind::SlidingWindow, 128, 0}, "sm80_bm64_bn128_w4_s2_o1");
  add("sm_89", DType::BF16, 96, causal, "sm80_bm64_bn128_w4_s1_o1");
  add("sm_80", DType::BF16, 64, causal, "sm80_bm64_bn128_w4_s3_o1");
  add("sm_90a", DType::BF16, 128, sw1024, "sm80_bm64_bn128_w4_s1_o2");
  add("sm_90a", DType::BF16, 128, causal, "sm80_bm64_bn128_w4_s1_o2", 30, true);
  add("sm_80", DType::BF16, 128, sw1024, "sm80_bm128_bn64_w8_s2_o2");
  add("sm_86", DType::F16, 192, {MaskKind::SlidingWindow, 128, 0}, "sm80_bm64_bn64_w4_s1_o2");
  add("sm_89", DType::BF16, 64, causal, "sm80_bm128_bn128_w8_s2_o2");
  gates::run_gates(jobs, "gates");
}

TEST(Gates, Fa3ShapedSm90KernelHasHgmmaUtmaldgAndNoC75Warnings) {
  REQUIRE_NVRTC();
  std::string why;
  const std::string tool = gates::find_cuobjdump(&why);
  const gates::GateOutcome g = gates::gate_source(gates::fa3_test_source(), /*sm90=*/true, tool);
  for (const std::string& v : g.violations) ADD_FAILURE() << v;
  if (!g.sass_checked) std::printf("[ gates    ] SASS gates skipped: %s\n", why.c_str());
  std::printf("[ gates    ] FA3-shaped sm_90a kernel: %.0f ms\n", g.compile_ms);
}

// The layout probes of scripts/gpu-probes stay compilable for the device session that runs them.
TEST(Gates, LayoutProbesCompileForSm90a) {
  REQUIRE_NVRTC();
  KernelSource s;
  s.name = "sm90_layout_probes/sm_90a";
  s.text = "#include \"sm90_probes.cuh\"\n";
  s.headers = {{"sm90_probes.cuh", gates::read_source_file("scripts/gpu-probes/sm90_probes.cuh")},
               {"sm90_primitives.cuh", gates::read_source_file("templates/common/sm90_primitives.cuh")},
               {"common/sm90_wgmma_asm.cuh", gates::read_source_file("templates/common/sm90_wgmma_asm.cuh")}};
  s.entry = "attnjit::probes::probe_wgmma_acc";
  s.options = {"-std=c++17", "-default-device"};
  s.arch = "sm_90a";
  s.finalize();
  const NvrtcResult r = compile(s);
  EXPECT_FALSE(r.cubin.empty());
  EXPECT_TRUE(gates::c75_gate(r.log, "sm_90a").empty()) << r.log;
}

// Debug builds bound every mbarrier wait and trap with a message; that path must compile too.
// Its printf is a call inside the wgmma pipeline, so ptxas serialises the MMAs (C7510): expected
// for a debug build (correctness only), and the reason the gates judge release builds.
TEST(Gates, Fa3ShapedKernelCompilesWithBoundedMbarrierWaits) {
  REQUIRE_NVRTC();
  const NvrtcResult r = compile(gates::fa3_test_source("#define ATTNJIT_MBAR_WAIT_BOUND 100000000\n"));
  EXPECT_FALSE(r.cubin.empty());
  for (const std::string& v : gates::c75_gate(r.log, "sm_90a"))
    EXPECT_NE(v.find("(C7510)"), std::string::npos) << "unexpected in the debug build: " << v;
}

// 96 values live at once under a 32-register cap must spill; without the cap they need not.
TEST(GateDefects, SpillGateFailsOnASpillingKernel) {
  REQUIRE_NVRTC();
  const std::string text = R"(
extern "C" __global__ void k(float* o, const float* in, int stride) {
  float a[96];
#pragma unroll
  for (int i = 0; i < 96; ++i) a[i] = in[i * stride + threadIdx.x];
#pragma unroll
  for (int i = 0; i < 96; ++i) o[i * stride + threadIdx.x] = a[i] * a[95 - i] + a[(i + 17) % 96];
})";
  const NvrtcResult bad = compile(tiny(text, "sm_80", {"--maxrregcount=32"}));
  EXPECT_TRUE(mentions(gates::spill_gate(bad.resources), "spills")) << bad.log;
  const NvrtcResult good = compile(tiny(text, "sm_80"));
  EXPECT_TRUE(gates::spill_gate(good.resources).empty()) << good.log;
}

// A dynamically indexed local array lives on the stack: stack frame > 0 and LDL/STL in SASS.
TEST(GateDefects, StackAndLocalMemoryGatesFailOnADynamicallyIndexedArray) {
  REQUIRE_NVRTC();
  const NvrtcResult bad = compile(tiny(R"(
extern "C" __global__ void k(float* o, const float* in, int j) {
  float a[64];
  for (int i = 0; i < 64; ++i) a[i] = in[i * 64 + threadIdx.x];
  for (int i = 0; i < 64; ++i) a[(i * 7 + j) & 63] += a[i];
  o[threadIdx.x] = a[j & 63];
})", "sm_89"));
  EXPECT_TRUE(mentions(gates::stack_gate(bad.resources), "stack frame of")) << bad.log;
  const NvrtcResult good = compile(tiny(R"(
extern "C" __global__ void k(float* o, const float* in, int j) { o[threadIdx.x] = in[j + threadIdx.x]; })",
                                        "sm_89"));
  EXPECT_TRUE(gates::stack_gate(good.resources).empty());
  std::string why;
  const std::string bad_sass = sass_or_skip(bad, &why);
  if (bad_sass.empty()) GTEST_SKIP() << "local-memory SASS gate not exercised: " << why;
  EXPECT_TRUE(mentions(gates::local_memory_gate(bad_sass), "LDL")) << bad_sass;
  EXPECT_TRUE(gates::local_memory_gate(sass_or_skip(good, &why)).empty());
}

// setmaxnreg without __launch_bounds__: ptxas warns C7508 and ignores it (HOPPER.md).
TEST(GateDefects, C75GateFailsOnSetmaxnregWithoutLaunchBounds) {
  REQUIRE_NVRTC();
  const std::string body = R"(void k(int* o) {
  if (threadIdx.x < 128) asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
  else asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n");
  o[threadIdx.x] = threadIdx.x;
})";
  const NvrtcResult bad = compile(tiny("extern \"C\" __global__ " + body, "sm_90a"));
  const auto v = gates::c75_gate(bad.log, "sm_90a");
  EXPECT_TRUE(mentions(v, "(C7508)")) << bad.log;
  EXPECT_TRUE(gates::c75_gate(bad.log, "sm_80").empty()) << "the C75 gate applies to sm_90a only";
  const NvrtcResult good = compile(tiny("extern \"C\" __global__ void __launch_bounds__(256, 1) " +
                                            body.substr(5),
                                        "sm_90a"));
  EXPECT_TRUE(gates::c75_gate(good.log, "sm_90a").empty()) << good.log;
}

// Accumulators touched while their wgmma is in flight: ptxas serialises the MMAs (C7514) and
// injects waits (C7517 / C7519) — the compile-time face of what tests/emu reports at run time.
TEST(GateDefects, C75GateFailsOnSerialisedWgmma) {
  REQUIRE_NVRTC();
  KernelSource s = tiny(R"(#include "sm90_primitives.cuh"
using namespace attnjit::sm90;
struct B { static constexpr bool kIsBf16 = true; };
extern "C" __global__ void __launch_bounds__(128, 1) k(float* o, unsigned long long da, unsigned long long db, int n) {
  WgAccum<64> d;
  for (int i = 0; i < 32; ++i) d[i] = 0.f;
  for (int j = 0; j < n; ++j) {
    wgmma_fence();
    wgmma_ss<B, 64, 0>(d, da + j, db, true);
    wgmma_commit();
    d[j % 32] += 1.f;  // the defect: before wgmma_wait
    wgmma_wait<0>();
  }
  for (int i = 0; i < 32; ++i) o[threadIdx.x * 32 + i] = d[i];
})", "sm_90a");
  s.headers = {{"sm90_primitives.cuh", gates::read_source_file("templates/common/sm90_primitives.cuh")},
               {"common/sm90_wgmma_asm.cuh", gates::read_source_file("templates/common/sm90_wgmma_asm.cuh")}};
  s.finalize();
  const NvrtcResult r = compile(s);
  const auto v = gates::c75_gate(r.log, "sm_90a");
  EXPECT_TRUE(mentions(v, "(C7514)") || mentions(v, "(C7517)") || mentions(v, "(C7519)")) << r.log;
}

// An sm_90a kernel doing its math with mma.sync (the sm80 path) has neither HGMMA nor UTMALDG.
TEST(GateDefects, Sm90SassGateFailsWithoutHgmmaAndUtmaldg) {
  REQUIRE_NVRTC();
  const NvrtcResult bad = compile(tiny(R"(
extern "C" __global__ void k(float* d, const unsigned* a) {
  float c[4] = {0.f, 0.f, 0.f, 0.f};
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(a[4]), "r"(a[5]));
  for (int i = 0; i < 4; ++i) d[threadIdx.x * 4 + i] = c[i];
})", "sm_90a"));
  std::string why;
  const std::string sass = sass_or_skip(bad, &why);
  if (sass.empty()) GTEST_SKIP() << "sm90 SASS gate not exercised: " << why;
  const auto v = gates::sm90_sass_gate(sass);
  EXPECT_TRUE(mentions(v, "lacks HGMMA")) << sass;
  EXPECT_TRUE(mentions(v, "lacks UTMALDG"));
  EXPECT_TRUE(gates::sass_has(sass, "HMMA")) << "the control instruction must be there";
}

}  // namespace
}  // namespace attnjit
