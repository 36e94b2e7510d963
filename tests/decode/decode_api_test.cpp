// Runtime::decode: input validation (SpecError naming the field) and end-to-end calls on the
// CPU backend through the public API, including the Runtime-owned split workspace growing and
// being reused across calls.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "runtime/backend.h"
#include "codegen/kernel_template.h"
#include "codegen/decode/arguments.h"
#include "attnjit/attnjit.h"
#include "runtime/reference_attention.h"

#ifdef ATTNJIT_WITH_LLVM
#include "runtime/cpu/cpu_backend.h"
#endif

namespace attnjit {
namespace {

// A paged f32 decode call on host memory (what the CPU backend reads directly).
struct PagedCall {
  int64_t batch, heads_kv, group, q_tokens, head_dim = 64;
  int page = 16;
  std::vector<int64_t> lens;
  std::vector<float> q, cache_k, cache_v, o, lse;
  std::vector<int32_t> lens32, table;
  std::vector<double> dense_k, dense_v;  // [batch, max_len, heads_kv, d] for the reference
  int64_t max_len = 0, max_pages = 0, num_pages = 0;
  DecodeArgs args;

  PagedCall(int64_t b, int64_t hkv, int64_t g, int64_t qt, std::vector<int64_t> l, uint64_t seed)
      : batch(b), heads_kv(hkv), group(g), q_tokens(qt), lens(std::move(l)) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> uni(-1.f, 1.f);
    const int64_t hq = hkv * g, d = head_dim, row = hkv * d;
    max_len = *std::max_element(lens.begin(), lens.end());
    max_pages = (max_len + page - 1) / page;
    num_pages = batch * max_pages;
    q.resize(batch * qt * hq * d);
    for (auto& x : q) x = uni(rng);
    dense_k.assign(batch * max_len * row, 0);
    dense_v.assign(batch * max_len * row, 0);
    cache_k.assign(num_pages * page * row, std::numeric_limits<float>::quiet_NaN());
    cache_v = cache_k;
    table.assign(batch * max_pages, -1);
    std::vector<int32_t> perm(num_pages);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    int64_t next = 0;
    for (int64_t s = 0; s < batch; ++s) {
      lens32.push_back(int32_t(lens[s]));
      for (int64_t j = 0; j < lens[s]; ++j) {
        if (j % page == 0) table[s * max_pages + j / page] = perm[next++];
        const int64_t dst = (int64_t(table[s * max_pages + j / page]) * page + j % page) * row;
        for (int64_t e = 0; e < row; ++e) {
          const float kx = uni(rng), vx = uni(rng);
          dense_k[(s * max_len + j) * row + e] = kx;
          dense_v[(s * max_len + j) * row + e] = vx;
          cache_k[dst + e] = kx;
          cache_v[dst + e] = vx;
        }
      }
    }
    o.assign(q.size(), std::numeric_limits<float>::quiet_NaN());
    lse.assign(batch * hq * qt, std::numeric_limits<float>::quiet_NaN());
    args.problem = {.dtype = DType::F32, .head_dim = int(d), .batch = batch, .heads_q = hq, .heads_kv = hkv,
                    .q_tokens = qt, .max_seqlen_k = max_len, .kv_capacity = max_pages * page, .page_size = page,
                    .num_pages = num_pages};
    args.q = TensorView::bshd(q.data(), qt, hq, d);
    args.o = TensorView::bshd(o.data(), qt, hq, d);
    args.k = {cache_k.data(), page * row, row, d};
    args.v = {cache_v.data(), page * row, row, d};
    args.lse = LseView::dense(lse.data(), hq, qt);
    args.seqlens_k = lens32.data();
    args.block_table = table.data();
    args.block_table_stride = max_pages;
  }

  void expect_matches_reference() const {
    ReferenceProblem rp;
    rp.batch = batch;
    rp.heads_q = heads_kv * group;
    rp.heads_kv = heads_kv;
    rp.seqlen_q = q_tokens;
    rp.seqlen_k = std::max<int64_t>(1, max_len);
    rp.head_dim = head_dim;
    rp.mask = args.problem.mask;
    rp.seqlens_k = lens;
    std::vector<double> qd(q.begin(), q.end()), ro(q.size()), rl(lse.size());
    reference_attention(rp, qd.data(), dense_k.data(), dense_v.data(), ro.data(), rl.data());
    for (size_t i = 0; i < o.size(); ++i) ASSERT_NEAR(o[i], ro[i], 2e-5) << "o[" << i << "]";
    for (size_t i = 0; i < lse.size(); ++i) {
      if (std::isinf(rl[i])) {
        EXPECT_EQ(lse[i], -std::numeric_limits<float>::infinity());
      } else {
        ASSERT_NEAR(lse[i], rl[i], 1e-4 * std::max(1.0, std::abs(rl[i]))) << "lse[" << i << "]";
      }
    }
  }
};

template <class F>
void expect_spec_error(F&& f, const std::string& field) {
  try {
    f();
    ADD_FAILURE() << "expected SpecError naming " << field;
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
  }
}

TEST(DecodeApi, ValidationNamesTheField) {
  PagedCall c(2, 1, 2, 1, {20, 40}, 1);
  auto check = [&](auto mutate, const std::string& field, Platform platform = Platform::Cpu) {
    DecodeArgs a = c.args;
    mutate(a);
    expect_spec_error([&] { make_decode_params(a, platform); }, field);
  };
  check([](DecodeArgs& a) { a.problem.q_tokens = 17; }, "q_tokens");
  check([](DecodeArgs& a) { a.problem.page_size = 24; }, "page_size");
  check([](DecodeArgs& a) { a.problem.max_seqlen_k = a.problem.kv_capacity + 1; }, "max_seqlen_k");
  check([](DecodeArgs& a) { a.problem.kv_capacity += 3; }, "kv_capacity");
  check([](DecodeArgs& a) { a.problem.heads_kv = 3; }, "heads_q");
  check([](DecodeArgs& a) { a.problem.head_dim = 80; }, "head_dim");
  check([](DecodeArgs& a) { a.problem.num_pages = 0; }, "num_pages");
  check([](DecodeArgs& a) { a.block_table = nullptr; }, "block_table");
  check([](DecodeArgs& a) { a.block_table_stride = 1; }, "block_table_stride");
  check([](DecodeArgs& a) { a.q.data = nullptr; }, "q.data");
  check([](DecodeArgs& a) { a.k.seq_stride = -1; }, "k.seq_stride");
  check([](DecodeArgs& a) { a.o.head_stride = 1; }, "o.head_stride");  // overlapping output rows
  check([](DecodeArgs& a) { a.lse.head_stride = 0; }, "lse.head_stride");
  check([](DecodeArgs& a) { a.problem.mask = {MaskKind::Causal, 5, 0}; }, "window_left");
  // GPU rules: 16-byte aligned rows.
  check([](DecodeArgs& a) { a.k.seq_stride = 66; }, "k.seq_stride", Platform::Cuda);
  // CPU: lengths and page indices are host memory and checked one by one.
  std::vector<int32_t> long_lens = {20, 41};
  check([&](DecodeArgs& a) { a.seqlens_k = long_lens.data(); }, "seqlens_k[1]");
  std::vector<int32_t> bad_table = c.table;
  bad_table[1] = int32_t(c.num_pages);
  check([&](DecodeArgs& a) { a.block_table = bad_table.data(); }, "block_table[0][1]");
  // Contiguous caches take no pages.
  check([](DecodeArgs& a) { a.problem.page_size = 0; a.problem.num_pages = 0; }, "block_table");
  EXPECT_NO_THROW(make_decode_params(c.args, Platform::Cpu));
}

#ifdef ATTNJIT_WITH_LLVM

std::unique_ptr<Runtime> cpu_runtime() {
  CpuBackendOptions o;
  o.use_disk_cache = false;
  return std::make_unique<Runtime>(make_cpu_backend(o));
}

TEST(DecodeApi, CpuEndToEndWithSplitsAndAGrowingWorkspace) {
  auto rt = cpu_runtime();
  // One sequence and one KV head: the split rule splits the 5000 keys over the worker threads
  // (when the machine has more than one), so the workspace path runs.
  PagedCall small(1, 1, 4, 2, {5000}, 7);
  small.args.problem.mask.kind = MaskKind::Causal;
  rt->decode(small.args);
  small.expect_matches_reference();
  const PreparedKernel pk = rt->prepare_decode(small.args.problem);
  EXPECT_EQ(pk.tmpl->name(), "decode_cpu");
  // A larger call (more sequences: a bigger workspace), then the small one again on the reused
  // workspace: its counters must have been left at 0.
  PagedCall big(3, 2, 2, 1, {4000, 0, 2500}, 8);
  rt->decode(big.args);
  big.expect_matches_reference();
  std::fill(small.o.begin(), small.o.end(), std::numeric_limits<float>::quiet_NaN());
  rt->decode(small.args);
  small.expect_matches_reference();
}

TEST(DecodeApi, ContiguousCacheWithoutLengthsAndEmptyBatch) {
  auto rt = cpu_runtime();
  PagedCall c(2, 1, 1, 1, {300, 300}, 9);
  // Re-express the same keys as a contiguous cache [batch, 300, 1, 64] without seqlens_k.
  std::vector<float> k(c.dense_k.begin(), c.dense_k.end()), v(c.dense_v.begin(), c.dense_v.end());
  DecodeArgs a = c.args;
  a.problem.page_size = 0;
  a.problem.num_pages = 0;
  a.problem.kv_capacity = 300;
  a.k = TensorView::bshd(k.data(), 300, 1, 64);
  a.v = TensorView::bshd(v.data(), 300, 1, 64);
  a.block_table = nullptr;
  a.block_table_stride = 0;
  a.seqlens_k = nullptr;
  rt->decode(a);
  c.expect_matches_reference();
  DecodeArgs empty = a;
  empty.problem.batch = 0;
  EXPECT_NO_THROW(rt->decode(empty));
}

#endif  // ATTNJIT_WITH_LLVM

}  // namespace
}  // namespace attnjit
