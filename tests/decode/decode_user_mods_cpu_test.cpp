// User score_mod / mask_mod on the CPU decode template (clang JIT) against the float64 reference
// with independent reference lambdas (decode_user_cases.h), outputs poisoned: every split count,
// GQA, pages (1 and 16), query tokens 1 and 4 (causal), uneven lengths with an empty sequence, a
// document mask and a bias table read from aux tensors, blocks no row sees (skipped), whole rows
// masked (O = 0, LSE = -inf, or the sink). Through the public API: decode equals prefill with seqlen_q = q_tokens and
// seqlen_k = L and the same snippets; DecodeArgs' aux tensors get prefill's checks.
#ifdef ATTNJIT_WITH_LLVM
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "attnjit/attnjit.h"
#include "decode/decode_cpu_backend.h"
#include "decode/decode_harness.h"
#include "decode/decode_user_cases.h"
#include "runtime/cpu/cpu_backend.h"

namespace attnjit::testing {
namespace {

DecodeCase base(int64_t group, int64_t qt, std::vector<int64_t> lens, int page) {
  DecodeCase c{.dtype = DType::F32, .head_dim = 64, .heads_kv = 2, .group = group, .q_tokens = qt,
               .seqlens = std::move(lens), .page_size = page,
               .config = TileConfig::parse("cpu_bm4_bn16_w1_s1_v8")};
  return c;
}

TEST(DecodeUserModsCpu, DocumentMaskAndBiasEverySplitCount) {
  DecodeCase c = base(4, 1, {0, 1, 37, 100}, 0);
  c.user = decode_documents(c.seqlens, 1, 100, 24);
  add_bias_table(c.user, 8);
  for (int splits = 1; splits <= 8; ++splits) {  // 100 keys in blocks of 16: 7 blocks
    c.splits = splits;
    c.seed = uint64_t(splits);
    const DecodeResult r = expect_decode_matches(decode_cpu_backend(), c);
    for (size_t i = 0; i < size_t(4 * 64); ++i) ASSERT_EQ(r.o[i], 0.f) << c.describe();  // empty sequence
  }
}

TEST(DecodeUserModsCpu, QueryTokensCausalPagedGqa) {
  for (int page : {1, 16})
    for (int64_t qt : {1, 4}) {
      DecodeCase c = base(2, qt, {70, 3, 0, 33}, page);
      c.mask.kind = MaskKind::Causal;
      c.config = TileConfig::parse(qt == 4 ? "cpu_bm8_bn16_w1_s1_v8" : "cpu_bm2_bn32_w1_s1_v8");
      c.user = decode_documents(c.seqlens, qt, 70, 16);
      add_bias_table(c.user, 4);
      for (int splits : {1, 3}) {
        c.splits = splits;
        expect_decode_matches(decode_cpu_backend(), c);
      }
    }
}

// Blocks that no row of an item sees are skipped before they are read (decode/cpu.h
// block_visible): documents of 256 keys, so most blocks are; the 4 query tokens of the second
// sequence (positions 1279..1282) and of the third (253..256) straddle a document boundary that
// starts a block, so a block the first token does not see but the others do must still be read;
// up to 8 splits leave whole splits with nothing visible. bf16 GQA 4 on the default tiles, pages
// of 16, causal tokens.
TEST(DecodeUserModsCpu, SkipsBlocksNoRowSees) {
  DecodeCase c{.dtype = DType::BF16, .head_dim = 128, .mask = {.kind = MaskKind::Causal}, .heads_kv = 2, .group = 4,
               .q_tokens = 4, .seqlens = {2000, 1283, 257}, .page_size = 16};
  c.user = decode_documents(c.seqlens, 4, 2000, 256);
  for (int splits : {1, 3, 8}) {
    c.splits = splits;
    expect_decode_matches(decode_cpu_backend(), c);
  }
}

TEST(DecodeUserModsCpu, WholeRowsMaskedWithAndWithoutSinks) {
  for (bool sink : {false, true}) {
    DecodeCase c = base(2, 2, {50, 9}, 0);
    c.user = masked_rows();
    c.sink = sink;
    c.config = TileConfig::parse("cpu_bm4_bn16_w1_s1_v8");
    for (int splits : {1, 2}) {
      c.splits = splits;
      const DecodeResult r = expect_decode_matches(decode_cpu_backend(), c);
      // Sequence 1, query head 1, both tokens: O = 0; LSE -inf without sinks (checked exactly).
      for (int64_t t = 0; t < 2; ++t) {
        for (int64_t d = 0; d < 64; ++d) ASSERT_EQ(r.o[size_t(((1 * 2 + t) * 4 + 1) * 64 + d)], 0.f) << c.describe();
        if (!sink) ASSERT_EQ(r.lse[size_t((1 * 4 + 1) * 2 + t)], -std::numeric_limits<float>::infinity());
      }
    }
  }
}

// The same data through Runtime::decode and Runtime::prefill (per sequence: seqlen_q = q_tokens,
// seqlen_k = its length): equal outputs and LSEs, for both snippets and a sliding window.
TEST(DecodeUserModsCpu, DecodeEqualsPrefill) {
  CpuBackendOptions opt;
  opt.use_disk_cache = false;
  Runtime rt(make_cpu_backend(opt));
  constexpr int64_t Hkv = 2, G = 2, Hq = Hkv * G, D = 64, QT = 3, L = 45;
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> q(QT * Hq * D), k(L * Hkv * D), v(k.size()), od(q.size()), op(q.size()), ld(Hq * QT), lp(Hq * QT);
  for (auto* t : {&q, &k, &v})
    for (float& x : *t) x = u(rng);
  std::vector<float> table(Hq * 8);
  for (size_t i = 0; i < table.size(); ++i) table[i] = 0.1f * float(i % 7) - 0.3f;
  std::vector<int32_t> docs(L);
  for (int64_t j = 0; j < L; ++j) docs[size_t(j)] = int32_t(j / 10);
  const std::string sm = "return score * 0.75f + aux<float>(1)[h * 8 + kv_idx % 8] + 0.125f * q_idx;";
  const std::string mm = "const int* d = aux<int>(0);\nreturn d[kv_idx] != 1 && (b + q_idx + kv_idx) % 5 != 0;";
  const MaskSpec mask{MaskKind::SlidingWindow, 30, 0};

  DecodeArgs a;
  a.problem.dtype = DType::F32;
  a.problem.head_dim = int(D);
  a.problem.mask = mask;
  a.problem.heads_q = Hq;
  a.problem.heads_kv = Hkv;
  a.problem.q_tokens = QT;
  a.problem.max_seqlen_k = a.problem.kv_capacity = L;
  a.problem.score_mod = sm;
  a.problem.mask_mod = mm;
  a.q = TensorView::bshd(q.data(), QT, Hq, D);
  a.o = TensorView::bshd(od.data(), QT, Hq, D);
  a.k = TensorView::bshd(k.data(), L, Hkv, D);
  a.v = TensorView::bshd(v.data(), L, Hkv, D);
  a.lse = LseView::dense(ld.data(), Hq, QT);
  a.aux[0] = {docs.data(), AuxType::I32, L};
  a.aux[1] = {table.data(), AuxType::F32, int64_t(table.size())};
  rt.decode(a);

  PrefillArgs p;
  p.problem.dtype = DType::F32;
  p.problem.head_dim = int(D);
  p.problem.mask = mask;
  p.problem.heads_q = Hq;
  p.problem.heads_kv = Hkv;
  p.problem.seqlen_q = QT;
  p.problem.seqlen_k = L;
  p.problem.score_mod = sm;
  p.problem.mask_mod = mm;
  p.q = TensorView::bshd(q.data(), QT, Hq, D);
  p.o = TensorView::bshd(op.data(), QT, Hq, D);
  p.k = TensorView::bshd(k.data(), L, Hkv, D);
  p.v = TensorView::bshd(v.data(), L, Hkv, D);
  p.lse = LseView::dense(lp.data(), Hq, QT);
  p.aux[0] = a.aux[0];
  p.aux[1] = a.aux[1];
  rt.prefill(p);
  for (size_t i = 0; i < od.size(); ++i) ASSERT_NEAR(od[i], op[i], 2e-5) << i;
  for (size_t i = 0; i < ld.size(); ++i) ASSERT_NEAR(ld[i], lp[i], 2e-5) << i;

  // Without the mask_mod the result changes (the snippet is not ignored).
  a.problem.mask_mod.clear();
  std::vector<float> o2(od.size());
  a.o = TensorView::bshd(o2.data(), QT, Hq, D);
  rt.decode(a);
  double diff = 0;
  for (size_t i = 0; i < od.size(); ++i) diff = std::max(diff, double(std::abs(o2[i] - od[i])));
  EXPECT_GT(diff, 1e-3);
}

TEST(DecodeUserModsCpu, AuxErrorsNameTheArgument) {
  CpuBackendOptions opt;
  opt.use_disk_cache = false;
  Runtime rt(make_cpu_backend(opt));
  std::vector<float> q(64), k(8 * 64), o(64);
  DecodeArgs a;
  a.problem.dtype = DType::F32;
  a.problem.head_dim = 64;
  a.problem.max_seqlen_k = a.problem.kv_capacity = 8;
  a.problem.mask_mod = "return aux<int>(0)[kv_idx] == 0;";
  a.q = TensorView::bshd(q.data(), 1, 1, 64);
  a.o = TensorView::bshd(o.data(), 1, 1, 64);
  a.k = a.v = TensorView::bshd(k.data(), 8, 1, 64);
  auto message = [&] {
    try {
      rt.decode(a);
    } catch (const SpecError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  a.aux[0] = {nullptr, AuxType::I32, 8};
  EXPECT_NE(message().find("aux[0].data"), std::string::npos) << message();
  a.aux[0] = {k.data(), AuxType::I32, -1};
  EXPECT_NE(message().find("aux[0].size"), std::string::npos) << message();
  a.aux[2] = {reinterpret_cast<const char*>(k.data()) + 2, AuxType::F32, 1};
  a.aux[0] = {k.data(), AuxType::I32, 8};
  EXPECT_NE(message().find("aux[2].data"), std::string::npos) << message();
  a.aux[2] = {};
  a.problem.mask_mod = "return kv_idx <;";  // a snippet that does not compile: its line quoted
  const std::string m = message();
  EXPECT_NE(m.find("mask_mod line 1"), std::string::npos) << m;
  EXPECT_NE(m.find("1 | return kv_idx <;"), std::string::npos) << m;
}

}  // namespace
}  // namespace attnjit::testing
#endif  // ATTNJIT_WITH_LLVM
