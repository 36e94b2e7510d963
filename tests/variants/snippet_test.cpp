// Snippet naming (SHA-256 of the normalised text), the store, error mapping, and the problem
// key's user-variant fields read back exactly.
#include <gtest/gtest.h>

#include "codegen/problem_spec.h"
#include "codegen/sha256.h"
#include "codegen/snippet.h"

namespace attnjit {
namespace {

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Snippet, NormalisationKeepsTheHash) {
  const std::string a = "return score;\n  // c\n";
  EXPECT_EQ(snippet_hash(a), snippet_hash("\r\n\nreturn score;  \r\n  // c\t\r\n\n"));
  EXPECT_NE(snippet_hash(a), snippet_hash("return  score;\n  // c\n"));
  EXPECT_EQ(normalize_snippet("\n x \n\n"), " x");
  EXPECT_EQ(snippet_hash(a), sha256_hex("return score;\n  // c").substr(0, 16));
  EXPECT_THROW(normalize_snippet(" \n\t\n", "score_mod"), SpecError);
  EXPECT_THROW(normalize_snippet(std::string("a\0b", 3)), SpecError);
  EXPECT_THROW(normalize_snippet(std::string(kMaxSnippetBytes + 1, 'x')), SpecError);
}

TEST(Snippet, StoreFindsTextByHash) {
  const std::string h = register_snippet("return q_idx >= kv_idx;  \n");
  EXPECT_EQ(find_snippet(h).value(), "return q_idx >= kv_idx;");
  EXPECT_FALSE(find_snippet("0123456789abcdef"));
  try {
    snippet_text("mask_mod", "0123456789abcdef");
    ADD_FAILURE();
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("mask_mod: snippet 0123456789abcdef is unknown"), std::string::npos);
  }
}

TEST(Snippet, ErrorsMapToSnippetLines) {
  const std::string sm = "float x = 1;\nreturn scor + x;";
  // clang's and NVRTC's spellings.
  auto e = explain_snippet_errors("score_mod:2:8: error: use of undeclared identifier 'scor'\nx.cpp:1:1: note: n", sm, "");
  ASSERT_TRUE(e);
  EXPECT_EQ(*e, "score_mod line 2: error: use of undeclared identifier 'scor'\n    2 | return scor + x;");
  e = explain_snippet_errors("mask_mod(1): error: identifier \"foo\" is undefined", "", "return foo;");
  ASSERT_TRUE(e);
  EXPECT_EQ(*e, "mask_mod line 1: error: identifier \"foo\" is undefined\n    1 | return foo;");
  EXPECT_FALSE(explain_snippet_errors("kernel.cu(3): error: x", sm, ""));
}

TEST(ProblemKey, UserVariantsReadBackExactly) {
  ProblemSpec s;
  s.mask = {MaskKind::Causal, 0, 0};
  s.score_mod = "0123456789abcdef";
  s.mask_mod = "fedcba9876543210";
  s.block_sparse = 128;
  s.softcap = 30.5;
  const std::string k = s.key();
  EXPECT_EQ(k, "prefill_bf16_hd128_causal_sc30.5_sm0123456789abcdef_mmfedcba9876543210_bs128_g1_q16_k16");
  EXPECT_EQ(ProblemSpec::parse(k), s);
  for (const char* key : {"prefill_f16_hd64_none_mm0123456789abcdef_g2_q64_k64_even",
                          "prefill_f16_hd64_none_sm0123456789abcdef_g1_q64_k64",
                          "prefill_f32_hd64_sw3-4_bs16_g1_q64_k64",
                          "decode_f16_hd64_none_mm0123456789abcdef_g1_q1_k64_p0"})  // decode takes snippets
    EXPECT_EQ(ProblemSpec::parse(key).key(), key);
  // Misplaced, malformed or out of range: SpecError naming the field.
  for (const char* bad : {"prefill_f16_hd64_none_mm0123456789abcdef_sm0123456789abcdef_g1_q64_k64",
                          "prefill_f16_hd64_none_bs128_sm0123456789abcdef_g1_q64_k64",
                          "prefill_f16_hd64_none_sm0123456789ABCDEF_g1_q64_k64",
                          "prefill_f16_hd64_none_sm0123_g1_q64_k64",
                          "prefill_f16_hd64_none_bs48_g1_q64_k64",
                          "prefill_f16_hd64_none_bs256_g1_q64_k64",
                          "decode_f16_hd64_none_bs64_g1_q1_k64_p0"})  // block masks: prefill only
    EXPECT_THROW(ProblemSpec::parse(bad), SpecError) << bad;
}

}  // namespace
}  // namespace attnjit
