// tests/common/test_name.h over every form of the key grammar (codegen's keys): names are legal
// GoogleTest names, read back as the keys they were made from, and differ wherever keys differ;
// plus the README's example.
#include "common/test_name.h"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <regex>
#include <set>
#include <sstream>
#include <vector>

namespace attnjit::testing {
namespace {

const std::regex kGtestName("[A-Za-z0-9_]+");

// Every valid combination of the grammar's fields over a few values each: both families, every
// dtype, every mask kind (windows with 0, both and large widths), soft-caps (Gemma 2's, 30.5,
// tiny and huge), ALiBi, sinks, snippet hashes, block sparsity, page sizes, fp8, varlen, even.
std::vector<ProblemSpec> every_key_form() {
  const MaskSpec masks[] = {{}, {MaskKind::Causal, 0, 0}, {MaskKind::SlidingWindow, 0, 0},
                            {MaskKind::SlidingWindow, 1024, 0}, {MaskKind::SlidingWindow, 5, 7}};
  const double caps[] = {0, 50, 30.5, 1e-05, 1e100};
  const std::string h1 = "0123456789abcdef", h2 = "fedcba9876543210";
  const std::function<void(ProblemSpec&)> extras[] = {
      [](ProblemSpec&) {},
      [](ProblemSpec& s) { s.alibi = true; },
      [](ProblemSpec& s) { s.sink = true; },
      [](ProblemSpec& s) { s.alibi = s.sink = true; },
      [&](ProblemSpec& s) { s.score_mod = h1; },
      [&](ProblemSpec& s) { s.mask_mod = h2; },
      [&](ProblemSpec& s) { s.score_mod = h1, s.mask_mod = h2, s.block_sparse = 64; },
      [](ProblemSpec& s) { s.block_sparse = 16; },
      [](ProblemSpec& s) { s.block_sparse = 128; },
      [](ProblemSpec& s) { s.page_size = 1; },
      [](ProblemSpec& s) { s.page_size = 16; },
      [](ProblemSpec& s) { s.page_size = 256; },
      [](ProblemSpec& s) { s.kv_dtype = KvDType::E4M3; },
      [](ProblemSpec& s) { s.kv_dtype = KvDType::E5M2, s.page_size = 64; },
      [](ProblemSpec& s) { s.varlen = true; },
      [](ProblemSpec& s) { s.varlen = true, s.page_size = 16; },
      [](ProblemSpec& s) { s.even = true; },
      [](ProblemSpec& s) { s.alibi = s.sink = s.even = true, s.block_sparse = 32; },
  };
  std::vector<ProblemSpec> out;
  for (Family f : {Family::Prefill, Family::Decode})
    for (DType d : {DType::F16, DType::BF16, DType::F32})
      for (const MaskSpec& m : masks)
        for (double c : caps)
          for (const auto& extra : extras) {
            ProblemSpec s{.family = f, .dtype = d, .head_dim = d == DType::F32 ? 32 : 128, .mask = m,
                          .group = out.size() % 2 ? 8 : 1, .seqlen_q = f == Family::Prefill ? 4096 : 16,
                          .seqlen_k = 32768, .softcap = c};
            extra(s);
            try {
              s.validate();
            } catch (const SpecError&) {
              continue;  // a combination the grammar refuses (decode with varlen, ...)
            }
            out.push_back(s);
          }
  return out;
}

std::vector<TestCaseName> every_name_form() {
  const RunShape shapes[] = {{2, 32, 8, 4096, 4096, 0}, {3, 32, 8, 1024, 1024, 1401}, {1, 1, 1, 1, 0, 0}};
  const TileConfig configs[] = {TileConfig::parse("sm80_bm128_bn64_w4_s2"),
                                TileConfig::parse("sm80_bm64_bn64_w4_s2_sp8"),
                                TileConfig::parse("cpu_bm32_bn64_w1_s1_v16_t2"),
                                TileConfig::parse("bm128_bn64_w4_s2"),  // written before configs named their template
                                TileConfig{.block_m = 128, .block_n = 128, .warps = 12, .stages = 2,
                                           .warpgroups = 2, .pingpong = 1, .overlap = 1, .tmpl = "sm90"}};
  std::vector<TestCaseName> out;
  size_t i = 0;
  for (const ProblemSpec& s : every_key_form()) {
    ++i;
    out.push_back({.problem = s});
    out.push_back({.problem = s, .shape = shapes[i % 3]});
    out.push_back({.problem = s, .shape = shapes[i % 3], .config = configs[i % 5], .detail = "bhsd_nolse"});
    out.push_back({.problem = s, .config = configs[(i + 2) % 5], .backend = BackendKind::Cpu});
  }
  for (BackendKind b : {BackendKind::Cuda, BackendKind::Cpu, BackendKind::Auto}) out.push_back({.backend = b});
  out.push_back({.shape = shapes[1], .detail = "q37-90-73_k40-100-80"});
  out.push_back({.config = configs[4]});
  out.push_back({.detail = "bf16_padded"});
  out.push_back({.detail = "scale0.25_x8"});
  return out;
}

TEST(TestName, EveryKeyFormRoundTripsAsALegalName) {
  const std::vector<TestCaseName> names = every_name_form();
  ASSERT_GT(names.size(), 3000u) << "the grammar's forms were filtered away";
  for (const TestCaseName& n : names) {
    const std::string name = test_name(n);
    SCOPED_TRACE(name);
    EXPECT_TRUE(std::regex_match(name, kGtestName));
    EXPECT_EQ(parse_test_name(name), n);
  }
}

TEST(TestName, NamesAreUniqueWhereKeysAre) {
  const std::vector<ProblemSpec> specs = every_key_form();
  std::set<std::string> keys, names;
  for (const ProblemSpec& s : specs) {
    keys.insert(s.key());
    names.insert(test_name({.problem = s}));
  }
  EXPECT_EQ(names.size(), keys.size());
  // Every part matters: the same problem with another shape, config, backend or detail.
  const ProblemSpec p = ProblemSpec::parse("prefill_bf16_hd128_causal_g4_q4096_k4096");
  const RunShape r{2, 32, 8, 4096, 4096, 0};
  const TileConfig c = TileConfig::parse("sm80_bm128_bn64_w4_s2");
  const std::set<std::string> variants = {
      test_name({.problem = p}), test_name({.problem = p, .shape = r}), test_name({.problem = p, .config = c}),
      test_name({.problem = p, .shape = r, .config = c}), test_name({.problem = p, .backend = BackendKind::Cuda}),
      test_name({.problem = p, .detail = "bhsd"}), test_name({.problem = p, .shape = r, .detail = "bhsd"})};
  EXPECT_EQ(variants.size(), 7u);
}

TEST(TestName, SpellsDashAndDotAsCapitals) {
  EXPECT_EQ(test_name({.problem = ProblemSpec::parse("prefill_f16_hd64_sw1024-0_g1_q8192_k8192_even")}),
            "prefill_f16_hd64_sw1024M0_g1_q8192_k8192_even");
  EXPECT_EQ(test_name({.problem = ProblemSpec::parse("prefill_bf16_hd256_causal_sc30.5_g2_q8192_k8192")}),
            "prefill_bf16_hd256_causal_sc30P5_g2_q8192_k8192");
  EXPECT_EQ(test_name({.problem = ProblemSpec::parse("decode_bf16_hd128_none_g8_q1_k32768_p16_kv-e4m3"),
                       .shape = RunShape{4, 64, 8, 1, 32768, 0}}),
            "decode_bf16_hd128_none_g8_q1_k32768_p16_kvMe4m3__b4_hq64_hkv8_sq1_sk32768");
  EXPECT_EQ(test_name({.backend = BackendKind::Cuda}), "cuda");
  EXPECT_EQ(key_to_test_name("sc1e-05"), "sc1eM05");
  EXPECT_EQ(test_name_to_key("sc1eM05"), "sc1e-05");
}

TEST(TestName, RefusesWhatWouldNotReadBack) {
  EXPECT_THROW(test_name({}), std::invalid_argument);
  EXPECT_THROW(test_name({.detail = "Bshd"}), std::invalid_argument);       // a capital
  EXPECT_THROW(test_name({.detail = "a__b"}), std::invalid_argument);       // a part boundary
  EXPECT_THROW(test_name({.detail = "a,b"}), std::invalid_argument);
  EXPECT_THROW(test_name({.detail = "cpu"}), std::invalid_argument);        // reads as a backend
  EXPECT_THROW(test_name({.detail = "b2_hq32_hkv8_sq4096_sk4096"}), std::invalid_argument);
  try {
    test_name({.detail = "prefill_bf16_hd128_causal_g4_q4096_k4096"});
    ADD_FAILURE() << "a detail that is a problem key was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("test detail"), std::string::npos) << e.what();
  }
  for (const char* bad : {"", "__cuda", "cuda__", "cuda____cpu", "prefill_bf16_hd128_causal_g4_q4096_k4096__b2__cpu",
                          "cpu__prefill_bf16_hd128_causal_g4_q4096_k4096",    // parts out of order
                          "prefill_bf16_hd128_causal_g4_q4096_k4096__cuda__cpu", "bshd-x", "Sm90"})
    EXPECT_THROW(parse_test_name(bad), std::invalid_argument) << bad;
}

std::string readme() {
  std::ifstream in(std::string(ATTNJIT_SOURCE_DIR) + "/README.md");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// README.md, "Keys": the example of a key and run shape becoming a test name.
TEST(TestName, ReadmeExample) {
  const std::string s = readme();
  ASSERT_FALSE(s.empty()) << "cannot read README.md";
  std::smatch m;
  ASSERT_TRUE(std::regex_search(s, m, std::regex(R"(\n(\S+) \+ (\S+) +-> +(\S+)\n)")))
      << "README.md lost its 'key + run shape -> test name' example";
  const TestCaseName n{.problem = ProblemSpec::parse(m[1].str()), .shape = RunShape::parse(m[2].str())};
  EXPECT_EQ(test_name(n), m[3].str());
  EXPECT_EQ(parse_test_name(m[3].str()), n);
}

// README.md, "Keys": every problem, config and run-shape key of the block parses and reads back.
TEST(TestName, ReadmeKeysParse) {
  const std::string s = readme();
  const size_t at = s.find("\n## Keys\n");
  ASSERT_NE(at, std::string::npos) << "README.md lost its Keys section";
  const size_t open = s.find("```\n", at), close = s.find("\n```", open + 4);
  ASSERT_TRUE(open != std::string::npos && close != std::string::npos) << "README.md's Keys section has no key block";
  std::istringstream block(s.substr(open + 4, close - open - 4));
  int problems = 0, configs = 0, shapes = 0;
  for (std::string line; std::getline(block, line);) {
    const std::string key = line.substr(0, line.find(' '));
    SCOPED_TRACE(key);
    if (key.rfind("prefill_", 0) == 0 || key.rfind("decode_", 0) == 0) {
      EXPECT_EQ(ProblemSpec::parse(key).key(), key);
      ++problems;
    } else if (key.rfind("b", 0) == 0) {
      EXPECT_EQ(RunShape::parse(key).key(), key);
      ++shapes;
    } else {
      EXPECT_EQ(TileConfig::parse(key).key(), key);
      ++configs;
    }
  }
  EXPECT_GE(problems, 5);
  EXPECT_GE(configs, 2);
  EXPECT_GE(shapes, 2);
}

}  // namespace
}  // namespace attnjit::testing
