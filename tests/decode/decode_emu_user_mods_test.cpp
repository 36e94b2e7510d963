// User score_mod / mask_mod in the sm_80 decode kernels (the scalar kernel and the tensor-core
// kernel, through their mods entries; finish_cta's split combine) on the CPU emulator against
// the float64 reference with independent lambdas: a document mask (aux<int>(0)) plus a bias
// table (aux<float>(1)) and a q_idx term, GQA, uneven lengths with an empty sequence, pages,
// four query tokens (causal), several split counts (splits no row sees are skipped), whole rows
// masked with sinks. The struct
// below is what codegen's prelude generates for these snippets (the same text, by macro).
#include "decode/decode_emu_backend.h"
#include "decode/decode_user_cases.h"

#define ATTNJIT_TEST_SCORE_MOD return score + aux<float>(1)[h * 8 + kv_idx % 8] - 0.25f * q_idx;
#define ATTNJIT_TEST_MASK_MOD \
  const int* doc = aux<int>(0); \
  return doc[b * 128 + kv_idx] == doc[512 + b * 4 + q_idx];
#define ATTNJIT_TEST_STR2(...) #__VA_ARGS__
#define ATTNJIT_TEST_STR(...) ATTNJIT_TEST_STR2(__VA_ARGS__)

namespace attnjit::testing {
namespace {

struct DocBias : variants::UserModsBase {
  enum : bool { kScoreMod = true, kMaskMod = true };
  template <class Score>
  Score score_mod(Score score, int b, int h, int q_idx, int kv_idx) const { ATTNJIT_TEST_SCORE_MOD }
  bool mask_mod(int b, int h, int q_idx, int kv_idx) const {
    (void)h;
    ATTNJIT_TEST_MASK_MOD
  }
};
struct Rows : variants::UserModsBase {
  enum : bool { kScoreMod = false, kMaskMod = true };
  bool mask_mod(int b, int h, int, int) const { return h != 1 || b == 0; }
};

using decode::Bf16;
using decode::F16;
using ScalarGqa = Cfg<Bf16, 64, 4, 1, 4, 2, 16, 3, 0, 0, 0, 0>;     // GQA 4, contiguous
using ScalarTokens = Cfg<F16, 64, 1, 4, 4, 4, 32, 2, 16, 1, 0, 0>;  // MHA x 4 tokens, paged 16, causal
using MmaGqa = Cfg<F16, 64, 8, 1, 16, 2, 16, 2, 0, 0, 0, 0>;        // GQA 8, contiguous
using MmaTokens = Cfg<Bf16, 128, 4, 4, 16, 4, 16, 3, 16, 1, 0, 0>;  // GQA 4 x 4 tokens, paged 16, causal

const std::map<std::string, Body>& registry(bool rows) {
  static const auto doc = kernels<User<ScalarGqa, DocBias>, User<ScalarTokens, DocBias>, User<MmaGqa, DocBias>,
                                  User<MmaTokens, DocBias>>();
  static const auto masked = kernels<User<Variant<ScalarGqa, false, true>, Rows>, User<Variant<MmaGqa, false, true>, Rows>>();
  return rows ? masked : doc;
}

// The document + bias case of the macros above (aux<int>(0): [4][128] key ids, then [4][4]
// query ids; 4 sequences, up to 4 tokens, 128 keys at most).
UserCase doc_bias(const std::vector<int64_t>& lens, int64_t qt, int64_t heads_q) {
  std::vector<int64_t> padded = lens;
  padded.resize(4, 0);
  UserCase u = decode_documents(padded, 4, 128, 20);
  if (qt != 4) {  // query ids of qt tokens, at the layout's 4-token stride
    for (int64_t b = 0; b < 4; ++b)
      for (int64_t t = 0; t < 4; ++t) {
        const int64_t pos = padded[size_t(b)] - qt + t;
        u.aux_i32[size_t(512 + b * 4 + t)] = t < qt && pos >= 0 ? int32_t(pos / 20) : -2;
      }
  }
  add_bias_table(u, heads_q);
  u.score_mod = ATTNJIT_TEST_STR(ATTNJIT_TEST_SCORE_MOD);
  u.mask_mod = ATTNJIT_TEST_STR(ATTNJIT_TEST_MASK_MOD);
  const auto d = u.aux_i32;
  u.mask_ref = [d](int64_t b, int64_t, int64_t q, int64_t k) { return d[size_t(b * 128 + k)] == d[size_t(512 + b * 4 + q)]; };
  return u;
}

TEST(DecodeEmuUserMods, BothKernelsGqaEverySplitCount) {
  EmuBackend be(emu::Order::Shuffle, registry(false));
  for (bool mma : {false, true})
    for (int splits = 1; splits <= 7; splits += 2) {
      DecodeCase c{.dtype = mma ? DType::F16 : DType::BF16, .head_dim = 64, .heads_kv = 2,
                   .group = mma ? 8 : 4, .seqlens = {0, 1, 37, 100},
                   .config = TileConfig::parse(mma ? "bm16_bn16_w2_s2_v8" : "bm4_bn16_w2_s3_v8")};
      c.user = doc_bias(c.seqlens, 1, c.heads_kv * c.group);
      c.splits = splits;
      c.seed = uint64_t(splits + 10 * mma);
      const DecodeResult r = expect_decode_matches(be, c);
      for (size_t i = 0; i < size_t(c.group * 2 * 64); ++i) ASSERT_EQ(r.o[i], 0.f) << c.describe();
    }
}

TEST(DecodeEmuUserMods, QueryTokensCausalPagedBothKernels) {
  EmuBackend be(emu::Order::Reverse, registry(false));
  for (bool mma : {false, true}) {
    DecodeCase c{.dtype = mma ? DType::BF16 : DType::F16, .head_dim = mma ? 128 : 64,
                 .mask = {.kind = MaskKind::Causal}, .heads_kv = mma ? 1 : 2, .group = mma ? 4 : 1,
                 .q_tokens = 4, .seqlens = {3, 0, 70, 82}, .page_size = 16,
                 .config = TileConfig::parse(mma ? "bm16_bn16_w4_s3_v8" : "bm4_bn32_w4_s2_v8")};
    c.user = doc_bias(c.seqlens, 4, c.heads_kv * c.group);
    // The last sequence's tokens (positions 78..81) straddle the document boundary at key 80, the
    // start of a block: with 6 splits (of 16 keys on the tensor-core kernel) one split holds only
    // keys its first token does not see, and the splits before 60 hold keys no token sees
    // (cta_sees_keys: those read nothing).
    for (int splits : {1, 3, 6}) {
      c.splits = splits;
      expect_decode_matches(be, c);
    }
  }
}

TEST(DecodeEmuUserMods, WholeRowsMaskedWithSinksBothKernels) {
  EmuBackend be(emu::Order::Forward, registry(true));
  for (bool mma : {false, true})
    for (int splits : {1, 2}) {
      DecodeCase c{.dtype = mma ? DType::F16 : DType::BF16, .head_dim = 64, .heads_kv = 2,
                   .group = mma ? 8 : 4, .seqlens = {40, 90}, .splits = splits,
                   .config = TileConfig::parse(mma ? "bm16_bn16_w2_s2_v8" : "bm4_bn16_w2_s3_v8"),
                   .sink = true, .user = masked_rows()};
      const DecodeResult r = expect_decode_matches(be, c);
      for (int64_t d = 0; d < 64; ++d) ASSERT_EQ(r.o[size_t((1 * c.group * 2 + 1) * 64 + d)], 0.f) << c.describe();
    }
}

}  // namespace
}  // namespace attnjit::testing
