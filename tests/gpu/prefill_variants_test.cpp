// The attention variants (issue #18) on a real GPU through the public Runtime — the sm80
// template, which serves them on every arch, and the sm90 template on sm_90a: varlen and paged
// prefill against the float64 varlen reference, ALiBi, sinks, user score_mod / mask_mod snippets
// and block-sparse masks (the block mask built by the GPU kernel) against the float64 reference.
// Outputs are poisoned before each run. Skipped with the reason when no CUDA device is present.
#include <gtest/gtest.h>

#include "common/gpu_test_util.h"
#include "variants/ragged_harness.h"
#include "variants/user_cases.h"

namespace attnjit {
namespace {

using testing::PrefillCase;
using testing::causal;
using testing::window;

Runtime* cuda_runtime(std::string* why) {
  static std::string reason;
  static std::unique_ptr<Runtime> rt = testing::try_runtime(BackendKind::Cuda, &reason);
  *why = reason;
  return rt.get();
}

#define REQUIRE_CUDA()                                   \
  std::string why;                                       \
  Runtime* rt = cuda_runtime(&why);                      \
  if (!rt) GTEST_SKIP() << "CUDA backend unavailable: " << why;

// Runs a ragged case on the device: every host image and index array copied over, the args
// pointed at the copies, the outputs read back into the case's images for check_ragged.
void run_ragged(Runtime& rt, const variants_test::RaggedCase& c) {
  SCOPED_TRACE(c.name());
  variants_test::RaggedData x = variants_test::make_ragged(c);
  Backend& be = rt.backend();
  std::vector<std::unique_ptr<DeviceBuffer>> keep;
  auto up = [&](const void* host, size_t bytes) -> void* {
    if (!host) return nullptr;
    keep.push_back(std::make_unique<DeviceBuffer>(be, std::max<size_t>(bytes, 4)));
    if (bytes) be.copy_to_device(keep.back()->get(), host, bytes);
    return keep.back()->get();
  };
  PrefillArgs a = x.args;
  a.q.data = up(x.q_img.data(), x.q_img.size());
  a.k.data = up(x.k_img.data(), x.k_img.size());
  a.v.data = up(x.v_img.data(), x.v_img.size());
  void* o = up(x.o_img.data(), x.o_img.size());  // the poisoned image: NaN in every dtype
  a.o.data = o;
  float* lse = x.lse_img.empty() ? nullptr : static_cast<float*>(up(x.lse_img.data(), x.lse_img.size() * 4));
  if (a.lse.data) a.lse.data = lse;
  auto up_i32 = [&](const int32_t* p, const std::vector<int32_t>& v) {
    return p ? static_cast<const int32_t*>(up(v.data(), v.size() * 4)) : nullptr;
  };
  a.cu_seqlens_q = up_i32(x.args.cu_seqlens_q, x.cu_q);
  a.cu_seqlens_k = up_i32(x.args.cu_seqlens_k, x.cu_k);
  a.seqused_k = up_i32(x.args.seqused_k, x.seqused_k);
  a.block_table = up_i32(x.args.block_table, x.block_table);
  rt.prefill(a);
  be.synchronize();
  be.copy_to_host(x.o_img.data(), o, x.o_img.size());
  if (lse) be.copy_to_host(x.lse_img.data(), lse, x.lse_img.size() * 4);
  const testing::CheckReport r = variants_test::check_ragged(x);
  EXPECT_TRUE(r.ok) << r.message;
}

variants_test::RaggedCase mk(DType dt, int hd, MaskSpec m, int64_t hq, int64_t hkv, std::vector<int64_t> sq,
                             std::vector<int64_t> sk, bool varlen = true, int page = 0) {
  return variants_test::ragged_case(dt, hd, m, hq, hkv, std::move(sq), std::move(sk), varlen, page);
}

void expect_ok(Runtime& rt, const PrefillCase& c) {
  SCOPED_TRACE(c.name());
  const testing::CheckReport r = testing::run_and_check(rt, c);
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(VariantsGpu, VarlenMixedLengths) {
  REQUIRE_CUDA();
  const DType F = DType::F16, B = DType::BF16, H = DType::F16;  // GPUs run 16-bit types only
  for (const auto& c : {mk(F, 64, causal(), 2, 2, {300, 1, 0, 77, 128}, {300, 1, 0, 77, 128}),
                        mk(B, 128, causal(), 4, 2, {33, 0, 150}, {33, 0, 150}),
                        mk(H, 64, {}, 2, 1, {17, 64, 5}, {40, 3, 100}),
                        mk(B, 64, causal(), 1, 1, {90, 20, 7}, {30, 20, 0}),
                        mk(H, 96, window(16, 4), 3, 1, {70, 129, 1}, {100, 129, 65}),
                        mk(B, 256, window(40, 0), 1, 1, {65, 3}, {65, 80}),
                        mk(B, 128, causal(), 2, 2, {1000, 513, 2048}, {1000, 513, 2048})})
    run_ragged(*rt, c);
}

// Hands out one sm90 config (or sm90's default) for every problem: the sm90 template serves varlen
// and paged K/V by tuning or by choice until this test has passed on an sm_90a GPU
// (PrefillSm90::default_for).
class Sm90Only final : public ConfigProvider {
 public:
  explicit Sm90Only(std::string cfg) : cfg_(std::move(cfg)) {}
  ConfigChoice choose(const KernelTemplate&, const ProblemSpec& spec, const Target& target) override {
    if (!cfg_.empty()) return {TileConfig::parse(cfg_), "fixed sm90"};
    TileConfig named;
    named.tmpl = "sm90";
    return {template_for(spec, target, named).default_config(spec, target), "sm90 default"};
  }

 private:
  std::string cfg_;
};

// Fails a problem the runtime would serve with anything but sm90 (a refused fixed config falls
// back to the default, sm80, which would pass without testing sm90).
void expect_sm90_serves(Runtime& rt, const PrefillProblem& p) {
  const PreparedKernel pk = rt.prepare_prefill(p);
  EXPECT_EQ(pk.config.tmpl, "sm90") << pk.config.key() << " (" << pk.config_source << ")";
}

TEST(VariantsGpu, VarlenAndPagedOnSm90) {
  REQUIRE_CUDA();
  if (rt->target().arch != "sm_90a") GTEST_SKIP() << "the sm90 template needs sm_90a; this device is " << rt->target().key();
  const auto before = rt->config_provider();
  const DType F = DType::F16, B = DType::BF16;
  // Its default per head dim, then the persistent kernel (idle tile numbers between real ones),
  // with O in its own buffer and the overlap, and order 1.
  for (const char* cfg : {"", "sm90_bm128_bn128_w4_s2_wg2_pp1_ps1", "sm90_bm128_bn128_w4_s2_wg2_pp1_ov1_ps2",
                          "sm90_bm128_bn128_w4_s3_o1_wg2_pp1"}) {
    rt->set_config_provider(std::make_shared<Sm90Only>(cfg));
    for (const auto& c : {mk(F, 64, causal(), 2, 2, {300, 1, 0, 77, 128}, {300, 1, 0, 77, 128}),
                          mk(B, 128, causal(), 4, 2, {33, 0, 150}, {33, 0, 150}),
                          mk(F, 128, {}, 2, 1, {17, 64, 5}, {40, 3, 100}),
                          mk(B, 128, window(40, 0), 1, 1, {65, 3, 700}, {65, 80, 700}),
                          mk(B, 128, causal(), 2, 2, {1000, 513, 2048}, {1000, 513, 2048})}) {
      if (*cfg == 0 || c.head_dim == 128) {
        expect_sm90_serves(*rt, variants_test::make_ragged(c).args.problem);
        run_ragged(*rt, c);
      }
    }
    for (int hd : {64, 96, 192, 256})
      if (*cfg == 0) {
        const auto c = mk(B, hd, causal(), 2, 1, {90, 20, 300}, {30, 20, 300});
        expect_sm90_serves(*rt, variants_test::make_ragged(c).args.problem);
        run_ragged(*rt, c);
      }
    // Paged K/V (pages of 8..256 rows), dense and varlen queries.
    for (int page : {8, 16, 64, 256})
      for (const auto& c : {mk(B, 128, causal(), 2, 1, {40, 40, 40}, {300, 40, 97}, false, page),
                            mk(F, 128, window(24, 0), 2, 2, {33, 0, 170}, {100, 9, 170}, true, page)}) {
        expect_sm90_serves(*rt, variants_test::make_ragged(c).args.problem);
        run_ragged(*rt, c);
      }
  }
  rt->set_config_provider(before);
}

TEST(VariantsGpu, PagedEveryPageSize) {
  REQUIRE_CUDA();
  for (int page : {1, 2, 4, 8, 16, 32, 64, 128, 256})
    run_ragged(*rt, mk(DType::BF16, 64, causal(), 2, 1, {40, 40, 40}, {300, 40, 97}, false, page));
  run_ragged(*rt, mk(DType::BF16, 128, causal(), 4, 1, {20, 20}, {150, 9}, false, 16));
  run_ragged(*rt, mk(DType::F16, 64, window(24, 0), 2, 2, {33, 33}, {33, 200}, false, 8));
}

TEST(VariantsGpu, VarlenQueriesAgainstPagedCache) {
  REQUIRE_CUDA();
  for (int page : {1, 16, 256})
    run_ragged(*rt, mk(DType::BF16, 64, causal(), 4, 2, {50, 0, 7, 130}, {260, 5, 7, 130}, true, page));
  run_ragged(*rt, mk(DType::F16, 64, {}, 2, 1, {1, 64, 17}, {0, 64, 100}, true, 4));
}

TEST(VariantsGpu, AlibiAndSinks) {
  REQUIRE_CUDA();
  expect_ok(*rt, PrefillCase::make(DType::BF16, 64, {}, 70, 45, 2, 4, 2).with_alibi(true));
  expect_ok(*rt, PrefillCase::make(DType::BF16, 64, causal(), 100, 130, 1, 2, 1).with_alibi());
  expect_ok(*rt, PrefillCase::make(DType::F16, 128, window(20, 3), 65, 65, 1, 2, 2).with_alibi());
  expect_ok(*rt, PrefillCase::make(DType::BF16, 128, causal(), 1024, 1024, 1, 4, 1).with_alibi());
  expect_ok(*rt, PrefillCase::make(DType::BF16, 64, {}, 70, 45, 2, 4, 2).with_sink());
  expect_ok(*rt, PrefillCase::make(DType::BF16, 64, causal(), 127, 33, 1, 2, 1).with_sink());  // masked rows
  expect_ok(*rt, PrefillCase::make(DType::F16, 64, window(8, 0), 140, 40, 1, 2, 2).with_sink());
  expect_ok(*rt, PrefillCase::make(DType::BF16, 128, {}, 33, 100, 1, 4, 1).with_alibi().with_sink());
}

TEST(VariantsGpu, UserModsAndBlockSparse) {
  REQUIRE_CUDA();
  using testing::with;
  const DType F = DType::F16, B = DType::BF16;  // GPUs run 16-bit types only
  for (const PrefillCase& c : {
           with(testing::mk(B, 64, {}, 1, 2, 2, 70, 45), testing::relative_bias()),
           with(testing::mk(B, 64, causal(), 2, 4, 2, 100, 130), testing::head_bias(4)),
           with(testing::mk(F, 64, {}, 1, 2, 2, 200, 200), testing::document(200, {37, 90, 73}, 0)),
           with(testing::mk(B, 64, {}, 2, 4, 1, 200, 200), testing::document(200, {37, 90, 73}, 64)),
           with(testing::mk(B, 64, causal(), 1, 2, 2, 256, 256), testing::document(256, {64}, 64)),
           with(testing::mk(B, 128, {}, 1, 2, 2, 1000, 1000), testing::document(1000, {300, 123}, 128)),
           with(testing::mk(B, 64, {}, 1, 2, 1, 190, 190), testing::longformer(20, 3, 64)),
           with(testing::mk(B, 64, {}, 2, 2, 2, 77, 61), testing::holes()),
       })
    expect_ok(*rt, c);
}

// The same kinds of snippets on the sm90 template (block masks at 128: its blocks must divide the
// tile), at its default and with the persistent kernel, the overlap and order 1.
TEST(VariantsGpu, UserModsAndBlockSparseOnSm90) {
  REQUIRE_CUDA();
  if (rt->target().arch != "sm_90a") GTEST_SKIP() << "the sm90 template needs sm_90a; this device is " << rt->target().key();
  using testing::with;
  const auto before = rt->config_provider();
  const DType F = DType::F16, B = DType::BF16;
  for (const char* cfg : {"", "sm90_bm128_bn128_w4_s2_wg2_pp1_ps2", "sm90_bm128_bn128_w4_s3_wg2_pp1_ov1",
                          "sm90_bm128_bn128_w4_s2_o1_wg2_pp1"}) {
    rt->set_config_provider(std::make_shared<Sm90Only>(cfg));
    for (const PrefillCase& c : {
             with(testing::mk(B, 128, {}, 1, 2, 2, 70, 45), testing::relative_bias()),
             with(testing::mk(B, 128, causal(), 2, 4, 2, 100, 130), testing::head_bias(4)),
             with(testing::mk(F, 128, {}, 1, 2, 2, 200, 200), testing::document(200, {37, 90, 73}, 0)),
             with(testing::mk(B, 128, causal(), 1, 2, 2, 256, 256), testing::document(256, {64}, 128)),
             with(testing::mk(B, 128, {}, 1, 2, 2, 1000, 1000), testing::document(1000, {300, 123}, 128)),
             with(testing::mk(B, 128, {}, 1, 2, 1, 190, 190), testing::longformer(20, 3, 128)),
         }) {
      if (c.user.block_sparse && std::string(cfg).find("_o1") != std::string::npos) continue;  // refused
      expect_sm90_serves(*rt, c.problem());
      expect_ok(*rt, c);
    }
  }
  rt->set_config_provider(before);
}

}  // namespace
}  // namespace attnjit
