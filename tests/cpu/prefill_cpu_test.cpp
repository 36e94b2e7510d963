// The CPU prefill kernel (templates/prefill/cpu.h via codegen/prefill/cpu.cpp) against the
// float64 reference: masks, dtypes, head dims, uneven and unequal lengths, GQA, batch, fully
// masked rows, and every config of the search space on one small problem.
#include <gtest/gtest.h>

#include <set>

#include "codegen/registry.h"
#include "prefill_cpu_harness.h"
#include "runtime/cpu/cpu_compiler.h"

namespace attnjit::test {
namespace {

MaskSpec none() { return {}; }
MaskSpec causal() { return {MaskKind::Causal, 0, 0}; }
MaskSpec window(int64_t l, int64_t r) { return {MaskKind::SlidingWindow, l, r}; }

PrefillCase mk(DType dt, int hd, MaskSpec m, int64_t b, int64_t hq, int64_t hk, int64_t sq, int64_t sk) {
  PrefillCase c{.dtype = dt, .head_dim = hd, .mask = m, .batch = b, .heads_q = hq, .heads_kv = hk,
                .seqlen_q = sq, .seqlen_k = sk};
  c.seed = uint32_t(hd * 7919 + sq * 31 + sk);
  return c;
}

std::vector<PrefillCase> cases() {
  const DType F = DType::F32, B = DType::BF16, H = DType::F16;
  return {
      // Head dims 32..256, each dtype, lengths that cut tiles.
      mk(F, 32, none(), 1, 2, 2, 17, 17), mk(F, 64, causal(), 1, 2, 2, 127, 127),
      mk(F, 96, none(), 1, 1, 1, 70, 45), mk(F, 128, causal(), 1, 1, 1, 300, 300),
      mk(F, 192, window(20, 3), 1, 1, 1, 65, 65), mk(F, 256, causal(), 1, 1, 1, 33, 47),
      mk(B, 32, causal(), 1, 2, 2, 17, 17), mk(B, 64, none(), 1, 1, 1, 127, 300),
      mk(B, 128, causal(), 1, 2, 1, 127, 127), mk(B, 256, window(40, 0), 1, 1, 1, 100, 100),
      mk(H, 64, causal(), 1, 1, 1, 80, 80), mk(H, 128, none(), 1, 1, 1, 17, 33),
      // Length 1 on either side.
      mk(F, 64, none(), 1, 1, 1, 1, 1), mk(F, 64, causal(), 1, 1, 1, 1, 300),
      mk(B, 64, causal(), 1, 1, 1, 300, 1), mk(F, 64, none(), 1, 1, 1, 300, 1),
      // seqlen_q > seqlen_k with causal: the first rows see no key (O = 0, LSE = -inf).
      mk(F, 64, causal(), 1, 2, 2, 300, 127), mk(B, 128, causal(), 1, 1, 1, 127, 17),
      // seqlen_q < seqlen_k: bottom-right alignment.
      mk(F, 64, causal(), 1, 1, 1, 17, 300),
      // Sliding windows: left only, right only, both, a window past the keys, zero width.
      mk(F, 64, window(16, 0), 1, 1, 1, 127, 127), mk(F, 64, window(0, 16), 1, 1, 1, 127, 127),
      mk(F, 64, window(5, 7), 1, 1, 1, 300, 300), mk(B, 64, window(33, 65), 1, 1, 1, 127, 300),
      mk(F, 64, window(0, 0), 1, 1, 1, 100, 100), mk(F, 64, window(3, 2), 1, 1, 1, 300, 17),
      // "even" lengths (multiples of 128): the kernel compiled without bounds checks.
      mk(F, 64, causal(), 1, 1, 1, 256, 256), mk(B, 128, window(70, 5), 1, 2, 1, 128, 384),
      // GQA 4 and 8, batch > 1.
      mk(F, 64, causal(), 2, 8, 2, 70, 70), mk(B, 128, none(), 2, 8, 1, 33, 100),
      mk(F, 32, window(10, 10), 3, 4, 1, 65, 90),
  };
}

// Soft-capping (s -> c tanh(s / c)): Q scaled up so scores reach ~+-40 and c = 5 bends most of
// them, c = 30.5 and 50 (Gemma 2) the largest; uneven lengths, GQA, fully masked rows, each mask.
PrefillCase capped(PrefillCase c, double cap, float gain) {
  c.softcap = cap;
  c.q_gain = gain;
  return c;
}

std::vector<PrefillCase> softcap_cases() {
  const DType F = DType::F32, B = DType::BF16, H = DType::F16;
  return {
      capped(mk(F, 64, none(), 1, 2, 2, 70, 45), 50, 8),
      capped(mk(F, 64, causal(), 1, 4, 2, 100, 130), 30.5, 8),
      capped(mk(F, 128, window(20, 3), 1, 1, 1, 65, 65), 5, 8),
      capped(mk(B, 128, causal(), 2, 8, 2, 127, 33), 5, 8),  // first rows fully masked
      capped(mk(H, 64, none(), 1, 2, 1, 33, 100), 30.5, 4),
      capped(mk(B, 64, causal(), 1, 1, 1, 256, 256), 50, 8),  // even lengths
  };
}

class PrefillCpuSoftcap : public ::testing::TestWithParam<PrefillCase> {};

TEST_P(PrefillCpuSoftcap, MatchesReference) {
  const PrefillCase& c = GetParam();
  PrefillOutcome r = run_prefill_case(c);
  if (c.mask.kind == MaskKind::Causal && c.seqlen_q > c.seqlen_k)
    EXPECT_EQ(r.masked_rows, c.batch * c.heads_q * (c.seqlen_q - c.seqlen_k));
}

INSTANTIATE_TEST_SUITE_P(Cases, PrefillCpuSoftcap, ::testing::ValuesIn(softcap_cases()),
                         [](const auto& info) { return info.param.name(); });

// The test above would pass for a kernel that ignores the cap only if capping changed nothing:
// show that for c = 5 the reference output moves far more than the tolerance.
TEST(PrefillCpu, SoftcapChangesTheResult) {
  PrefillCase c = capped(mk(DType::F32, 64, none(), 1, 1, 1, 33, 33), 5, 8);
  std::vector<double> q(33 * 64), k(33 * 64), v(33 * 64), o1(q.size()), o2(q.size());
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> d(-2, 2);
  for (auto& x : q) x = d(rng) * 8;
  for (auto& x : k) x = d(rng);
  for (auto& x : v) x = d(rng);
  ReferenceProblem rp;
  rp.seqlen_q = rp.seqlen_k = 33;
  rp.head_dim = 64;
  reference_attention(rp, q.data(), k.data(), v.data(), o1.data(), nullptr);
  rp.softcap = c.softcap;
  reference_attention(rp, q.data(), k.data(), v.data(), o2.data(), nullptr);
  double diff = 0;
  for (size_t i = 0; i < o1.size(); ++i) diff = std::max(diff, std::abs(o1[i] - o2[i]));
  EXPECT_GT(diff, 100 * tolerance_o(DType::BF16));
}

class PrefillCpuCase : public ::testing::TestWithParam<PrefillCase> {};

TEST_P(PrefillCpuCase, MatchesReference) {
  const PrefillCase& c = GetParam();
  PrefillOutcome r = run_prefill_case(c);
  EXPECT_EQ(c.spec().even, c.seqlen_q % 128 == 0 && c.seqlen_k % 128 == 0);
  RecordProperty("max_err_o", std::to_string(r.max_err_o));
  // Causal with seqlen_q > seqlen_k, or a window that misses every key, must hit empty rows.
  if (c.mask.kind == MaskKind::Causal && c.seqlen_q > c.seqlen_k)
    EXPECT_EQ(r.masked_rows, c.batch * c.heads_q * (c.seqlen_q - c.seqlen_k));
}

INSTANTIATE_TEST_SUITE_P(Cases, PrefillCpuCase, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name(); });

TEST(PrefillCpu, WithoutLse) {
  PrefillCase c = mk(DType::BF16, 64, causal(), 1, 2, 2, 70, 70);
  c.with_lse = false;
  run_prefill_case(c);
}

TEST(PrefillCpu, StridedTensors) {
  // Rows padded by a few elements (as in a packed QKV buffer): every stride is honoured and
  // neither NaN input padding nor output padding is touched.
  for (DType dt : {DType::F32, DType::BF16}) {
    PrefillCase c = mk(dt, 64, causal(), 2, 4, 2, 70, 90);
    c.row_pad = 24;
    run_prefill_case(c);
  }
}

TEST(PrefillCpu, WindowSkippingEveryKeyGivesZeroRows) {
  // Keys [0, 17) and queries aligned at 283..299: a window of (3, 2) sees none of them for most
  // rows, which must come out as O = 0 / LSE = -inf.
  PrefillOutcome r = run_prefill_case(mk(DType::F32, 64, window(3, 2), 1, 1, 1, 300, 17));
  EXPECT_GT(r.masked_rows, 250);
}

// kOrder 2: bf16 Q.K^T and P.V on AMX tiles, where the host has them: every block_m (1-8 row
// groups of 16) and block_n (1-4 chunks of 32 keys), head dims 64-256 (96 too), every mask, GQA, uneven
// lengths (blocks cut by seqlen_k: zero K/V rows), rows no key reaches, strided rows and softcap.
TEST(PrefillCpu, AmxTilesMatchTheReference) {
  Backend& be = shared_cpu_backend();
  const std::string& f = be.target().cpu_features;
  if (f.find("+amx-tile") == std::string::npos || f.find("+amx-bf16") == std::string::npos)
    GTEST_SKIP() << "this host (" << be.target().key()
                 << ") has no AMX tiles, or Linux did not grant them to the process";
  struct Shape {
    int bm, bn;
    PrefillCase c;
  };
  const DType B = DType::BF16;
  std::vector<Shape> shapes = {
      {16, 32, mk(B, 64, causal(), 1, 4, 2, 100, 130)},
      {32, 64, mk(B, 128, none(), 2, 2, 1, 77, 45)},
      {64, 64, mk(B, 128, causal(), 1, 2, 2, 300, 300)},
      {64, 128, mk(B, 256, window(40, 3), 1, 2, 1, 200, 260)},
      {128, 64, mk(B, 64, causal(), 1, 1, 1, 300, 17)},  // most rows see no key
      {64, 32, mk(B, 96, none(), 1, 3, 1, 50, 70)},  // 6 dim groups of 16: P.V's 4 and a tail of 2
  };
  Shape pad = {64, 64, mk(B, 128, causal(), 2, 4, 2, 70, 90)};
  pad.c.row_pad = 24;
  shapes.push_back(pad);
  Shape cap = {32, 64, mk(B, 128, none(), 1, 2, 2, 130, 130)};
  cap.c.softcap = 30;
  cap.c.q_gain = 8.f;
  shapes.push_back(cap);
  for (const Shape& sh : shapes) {
    const ProblemSpec spec = sh.c.spec();
    const KernelTemplate& t = select_template(spec, be.target());
    TileConfig cfg = t.default_config(spec, be.target());
    cfg.order = 2;
    cfg.block_m = sh.bm;
    cfg.block_n = sh.bn;
    cfg.vec = 16;
    SCOPED_TRACE(sh.c.name(cfg));
    const auto why = t.can_implement(spec, cfg, be.target());
    ASSERT_FALSE(why.has_value()) << *why;
    run_prefill_case(sh.c, &cfg);
  }
}

TEST(PrefillCpu, AmxHostGetsTiles) {
  // Compiled (not run) for a host with AMX, so it is checked on every build machine.
  const Target amx = Target::cpu(
      "sapphirerapids", "+amx-bf16,+amx-tile,+avx2,+avx512bf16,+avx512bw,+avx512dq,+avx512f,+avx512vl,+fma", 512);
  const ProblemSpec spec = mk(DType::BF16, 128, causal(), 1, 2, 2, 1000, 1000).spec();
  const KernelTemplate& t = select_template(spec, amx);
  const TileConfig cfg = t.default_config(spec, amx);
  ASSERT_EQ(cfg.order, 2);
  const CpuCompileResult r = compile_cpu_kernel(t.render(spec, cfg, amx), {false, true});
  for (const char* insn : {"ldtilecfg", "tileloadd", "tdpbf16ps", "tilestored", "tilezero", "tilerelease", "vcvtne2ps2bf16"})
    EXPECT_NE(r.asm_text.find(insn), std::string::npos) << insn;
}

// Every config in the search space on one small problem (uneven lengths, causal, GQA).
TEST(PrefillCpu, EveryConfigOfTheSearchSpace) {
  const PrefillCase c = mk(DType::BF16, 64, causal(), 1, 4, 2, 100, 130);
  Backend& be = shared_cpu_backend();
  const ProblemSpec spec = c.spec();
  const auto& t = select_template(spec, be.target());
  auto space = t.search_space(spec, be.target());
  ASSERT_GE(space.size(), 8u);
  std::set<std::string> sources;
  for (const TileConfig& cfg : space) {
    SCOPED_TRACE(c.name(cfg));
    sources.insert(t.render(spec, cfg, be.target()).hash);
    run_prefill_case(c, &cfg);
  }
  // threads is a launch knob: configs differing only in it share a source.
  EXPECT_LT(sources.size(), space.size());
}

}  // namespace
}  // namespace attnjit::test
