// Varlen (packed) and paged-KV prefill cases: inputs rounded to the dtype, the packed / paged
// images a kernel reads (unused cache rows hold 1000, so a kernel that reads them fails), a
// shuffled block table, outputs poisoned with NaN bytes, and a per-sequence check against the
// float64 varlen reference with the project's tolerance rule (tests/common/gpu_test_util.h:
// 2x a same-precision straightforward implementation + one dtype ulp; exact O = 0 / LSE = -inf
// for rows with no visible key; every element written).
#pragma once

#include <algorithm>
#include <filesystem>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/gpu_test_util.h"
#include "runtime/reference_varlen.h"

namespace attnjit::variants_test {

using testing::CheckReport;

// The CPU kernels' disk cache of this folder's tests, in the build tree (each ctest test is a
// process of its own; the cache writes atomically, so concurrent tests share it safely).
inline std::filesystem::path kernel_cache_dir() {
  return std::filesystem::path(ATTNJIT_BINARY_DIR) / "tests" / "variants-kernel-cache";
}

struct RaggedCase {
  DType dtype = DType::F32;
  int head_dim = 64;
  MaskSpec mask;
  int64_t heads_q = 1, heads_kv = 1;
  std::vector<int64_t> seqlens_q, seqlens_k;  // per sequence
  bool varlen = true;   // packed q; false: dense [b, sq, h, d] (every seqlens_q equal)
  int page_size = 0;    // 0: contiguous packed K/V (varlen only); else paged with a shuffled table
  bool with_lse = true;
  uint64_t seed = 1;

  int64_t batch() const { return static_cast<int64_t>(seqlens_q.size()); }
  int64_t max_q() const { return *std::max_element(seqlens_q.begin(), seqlens_q.end()); }
  int64_t max_k() const { return *std::max_element(seqlens_k.begin(), seqlens_k.end()); }
  int64_t total_q() const { return std::accumulate(seqlens_q.begin(), seqlens_q.end(), int64_t{0}); }
  int64_t total_k() const { return std::accumulate(seqlens_k.begin(), seqlens_k.end(), int64_t{0}); }

  // The case's test name (tests/common/test_name.h): the problem key and run shape of the call it
  // makes, then the per-sequence lengths the keys lack ("q37-90-73_k40-100-80").
  std::string name() const;
};

inline RaggedCase ragged_case(DType dt, int hd, MaskSpec m, int64_t hq, int64_t hkv, std::vector<int64_t> sq,
                              std::vector<int64_t> sk, bool varlen = true, int page = 0) {
  RaggedCase c{.dtype = dt, .head_dim = hd, .mask = m, .heads_q = hq, .heads_kv = hkv, .seqlens_q = std::move(sq),
               .seqlens_k = std::move(sk), .varlen = varlen, .page_size = page};
  c.seed = static_cast<uint64_t>(hd * 7 + page * 131 + c.seqlens_q.size());
  return c;
}

struct RaggedData {
  RaggedCase c;
  std::vector<double> q, k, v;  // packed logical [total, heads, d], exact dtype values
  std::vector<unsigned char> q_img, k_img, v_img, o_img;
  std::vector<float> lse_img;
  std::vector<int32_t> cu_q, cu_k, seqused_k, block_table;
  int64_t num_pages = 0, max_pages = 0, table_stride = 0;
  PrefillArgs args;  // pointing into the images above (host memory: the CPU backend's and the emulator's)
};

inline RaggedData make_ragged(const RaggedCase& c) {
  RaggedData x;
  x.c = c;
  const int64_t D = c.head_dim, B = c.batch(), tq = c.total_q(), tk = c.total_k();
  const int eb = dtype_bytes(c.dtype);
  std::mt19937_64 rng(c.seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  auto draw = [&](std::vector<double>& dense, int64_t n) {
    dense.resize(static_cast<size_t>(n));
    for (double& e : dense) e = round_to(c.dtype, nd(rng));
  };
  draw(x.q, tq * c.heads_q * D);
  draw(x.k, tk * c.heads_kv * D);
  draw(x.v, tk * c.heads_kv * D);
  x.cu_q.assign(1, 0);
  x.cu_k.assign(1, 0);
  for (int64_t b = 0; b < B; ++b) {
    x.cu_q.push_back(static_cast<int32_t>(x.cu_q.back() + c.seqlens_q[b]));
    x.cu_k.push_back(static_cast<int32_t>(x.cu_k.back() + c.seqlens_k[b]));
  }
  auto image = [&](const std::vector<double>& dense) {
    std::vector<unsigned char> img(std::max<size_t>(dense.size(), 1) * eb, 0);
    for (size_t i = 0; i < dense.size(); ++i) store_from_float(c.dtype, img.data(), int64_t(i), float(dense[i]));
    return img;
  };
  x.q_img = image(x.q);
  const int64_t row_k = c.heads_kv * D;
  if (c.page_size == 0) {
    x.k_img = image(x.k);
    x.v_img = image(x.v);
  } else {
    // Pages in shuffled order plus three spare ones; unused rows hold 1000.
    const int64_t P = c.page_size;
    for (int64_t b = 0; b < B; ++b) x.max_pages = std::max(x.max_pages, (c.seqlens_k[b] + P - 1) / P);
    x.max_pages = std::max<int64_t>(x.max_pages, 1);
    int64_t used = 0;
    for (int64_t b = 0; b < B; ++b) used += (c.seqlens_k[b] + P - 1) / P;
    x.num_pages = used + 3;
    std::vector<int32_t> order(static_cast<size_t>(x.num_pages));
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    x.table_stride = x.max_pages + 1;  // a padded table: the stride is not the width
    x.block_table.assign(static_cast<size_t>(B * x.table_stride), -1);
    x.k_img.assign(static_cast<size_t>(x.num_pages * P * row_k * eb), 0);
    x.v_img = x.k_img;
    for (int64_t i = 0; i < x.num_pages * P * row_k; ++i) {
      store_from_float(c.dtype, x.k_img.data(), i, 1000.f);
      store_from_float(c.dtype, x.v_img.data(), i, 1000.f);
    }
    int64_t next = 0;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t n = 0; n < c.seqlens_k[b]; ++n) {
        if (n % P == 0) x.block_table[static_cast<size_t>(b * x.table_stride + n / P)] = order[next++];
        const int64_t page = x.block_table[static_cast<size_t>(b * x.table_stride + n / P)];
        for (int64_t e = 0; e < row_k; ++e) {
          const int64_t at = (page * P + n % P) * row_k + e;
          const size_t src = static_cast<size_t>((x.cu_k[b] + n) * row_k + e);
          store_from_float(c.dtype, x.k_img.data(), at, float(x.k[src]));
          store_from_float(c.dtype, x.v_img.data(), at, float(x.v[src]));
        }
      }
    x.seqused_k.assign(c.seqlens_k.begin(), c.seqlens_k.end());
  }
  x.o_img.assign(std::max<size_t>(x.q_img.size(), 1), 0xff);  // NaN in every dtype
  x.lse_img.assign(c.with_lse ? static_cast<size_t>(std::max<int64_t>(c.heads_q * tq, 1)) : 0, 0.f);
  std::memset(x.lse_img.data(), 0xff, x.lse_img.size() * sizeof(float));

  PrefillArgs& a = x.args;
  PrefillProblem& p = a.problem;
  p.dtype = c.dtype;
  p.head_dim = c.head_dim;
  p.mask = c.mask;
  p.batch = B;
  p.heads_q = c.heads_q;
  p.heads_kv = c.heads_kv;
  p.seqlen_q = c.max_q();
  p.seqlen_k = c.max_k();
  p.varlen = c.varlen;
  p.total_q = c.varlen ? tq : 0;
  p.total_k = c.varlen && c.page_size == 0 ? tk : 0;
  p.page_size = c.page_size;
  p.num_pages = x.num_pages;
  p.max_pages = x.max_pages;
  const int64_t row_q = c.heads_q * D;
  a.q = {x.q_img.data(), c.varlen ? 0 : c.max_q() * row_q, row_q, D};
  a.o = {x.o_img.data(), c.varlen ? 0 : c.max_q() * row_q, row_q, D};
  if (c.page_size == 0) {
    a.k = {x.k_img.data(), 0, row_k, D};
    a.v = {x.v_img.data(), 0, row_k, D};
    a.cu_seqlens_k = x.cu_k.data();
  } else {
    a.k = {x.k_img.data(), c.page_size * row_k, row_k, D};
    a.v = {x.v_img.data(), c.page_size * row_k, row_k, D};
    a.seqused_k = x.seqused_k.data();
    a.block_table = x.block_table.data();
    a.block_table_stride = x.table_stride;
  }
  if (c.varlen) a.cu_seqlens_q = x.cu_q.data();
  // LSE: varlen [heads_q, total_q] (flash-attn); dense [b, heads_q, sq].
  if (c.with_lse)
    a.lse = c.varlen ? LseView{x.lse_img.data(), 0, tq} : LseView::dense(x.lse_img.data(), c.heads_q, c.max_q());
  return x;
}

inline std::string RaggedCase::name() const {
  std::optional<ProblemSpec> spec;
  std::optional<RunShape> shape;
  try {
    const PrefillProblem p = make_ragged(*this).args.problem;
    spec = prefill_spec(p);
    shape = prefill_shape(p);
  } catch (const std::exception&) {  // no valid problem: named by its lengths alone
  }
  auto list = [](const std::vector<int64_t>& v) {
    std::string s;
    for (int64_t n : v) s += (s.empty() ? "" : "-") + std::to_string(n);
    return s;
  };
  return testing::test_name({.problem = spec, .shape = shape,
                             .detail = "q" + list(seqlens_q) + "_k" + list(seqlens_k) + (with_lse ? "" : "_nolse")});
}

// Sequence b of x, whose rows start at rq in q / o / lse and rk in k / v, as a one-sequence dense
// case (the dense checker's input) with the kernel's outputs for it (LSE read from the varlen
// [hq, total_q] or the dense [b, hq, sq] layout).
struct SequenceView {
  testing::PrefillData data;
  std::vector<unsigned char> o;
  std::vector<float> lse;
};
inline SequenceView sequence_view(const RaggedData& x, int64_t b, int64_t rq, int64_t rk) {
  const RaggedCase& c = x.c;
  const int64_t D = c.head_dim, tq = c.total_q(), hq = c.heads_q, sq = c.seqlens_q[b], sk = c.seqlens_k[b];
  const int eb = dtype_bytes(c.dtype);
  SequenceView v;
  testing::PrefillData& s = v.data;
  s.c.dtype = c.dtype;
  s.c.head_dim = c.head_dim;
  s.c.mask = c.mask;
  s.c.heads_q = hq;
  s.c.heads_kv = c.heads_kv;
  s.c.seqlen_q = sq;
  s.c.seqlen_k = sk;
  s.c.with_lse = c.with_lse;
  s.qs = s.os = testing::make_strides(testing::Layout::BSHD, 1, sq, hq, D);
  s.q.assign(x.q.begin() + rq * hq * D, x.q.begin() + (rq + sq) * hq * D);
  s.k.assign(x.k.begin() + rk * c.heads_kv * D, x.k.begin() + (rk + sk) * c.heads_kv * D);
  s.v.assign(x.v.begin() + rk * c.heads_kv * D, x.v.begin() + (rk + sk) * c.heads_kv * D);
  s.lse_head_stride = sq;
  s.lse_batch_stride = sq * hq;
  s.lse_elems = sq * hq;
  v.o.assign(x.o_img.begin() + rq * hq * D * eb, x.o_img.begin() + (rq + sq) * hq * D * eb);
  v.lse.resize(static_cast<size_t>(c.with_lse ? hq * sq : 0));
  if (c.with_lse)
    for (int64_t h = 0; h < hq; ++h)
      for (int64_t i = 0; i < sq; ++i)
        v.lse[size_t(h * sq + i)] = c.varlen ? x.lse_img[size_t(h * tq + rq + i)] : x.lse_img[size_t((b * hq + h) * sq + i)];
  return v;
}

// Checks every non-empty sequence with `check(b, view)` and merges the reports.
template <class Check>
CheckReport check_sequences(const RaggedData& x, Check check) {
  const RaggedCase& c = x.c;
  CheckReport all;
  int64_t rq = 0, rk = 0;
  for (int64_t b = 0; b < c.batch(); ++b) {
    const int64_t sq = c.seqlens_q[b], sk = c.seqlens_k[b];
    if (sq > 0) {
      const CheckReport r = check(b, rq, sequence_view(x, b, rq, rk));
      all.masked_rows += r.masked_rows;
      all.o_err = std::max(all.o_err, r.o_err);
      all.lse_err = std::max(all.lse_err, r.lse_err);
      if (!r.ok) all.fail("sequence " + std::to_string(b) + " (q " + std::to_string(sq) + ", k " +
                          std::to_string(sk) + "): " + r.message);
    }
    rq += sq;
    rk += sk;
  }
  return all;
}

// Per sequence: the reference (float64 varlen oracle) against the kernel's rows, through the
// dense checker on a one-sequence view.
inline CheckReport check_ragged(const RaggedData& x) {
  const RaggedCase& c = x.c;
  const int64_t D = c.head_dim, tq = c.total_q(), hq = c.heads_q;
  VarlenReferenceProblem rp;
  rp.heads_q = hq;
  rp.heads_kv = c.heads_kv;
  rp.head_dim = D;
  rp.mask = c.mask;
  rp.seqlens_q = c.seqlens_q;
  rp.seqlens_k = c.seqlens_k;
  std::vector<double> ref_o(x.q.size()), ref_lse(static_cast<size_t>(hq * tq));
  reference_attention_varlen(rp, x.q.data(), x.k.data(), x.v.data(), ref_o.data(), ref_lse.data());
  return check_sequences(x, [&](int64_t b, int64_t rq, const SequenceView& v) {
    const int64_t sq = c.seqlens_q[b];
    testing::Outputs ref;
    ref.o.assign(ref_o.begin() + rq * hq * D, ref_o.begin() + (rq + sq) * hq * D);
    ref.lse.resize(static_cast<size_t>(hq * sq));
    for (int64_t h = 0; h < hq; ++h)
      for (int64_t i = 0; i < sq; ++i) ref.lse[size_t(h * sq + i)] = ref_lse[size_t(h * tq + rq + i)];
    return testing::check_outputs(v.data, ref, testing::baseline_outputs(v.data), v.o, v.lse);
  });
}

}  // namespace attnjit::variants_test
