// Test harness for the CPU prefill kernels: one shared CPU backend per test process (its disk
// cache in a private temp dir, so every kernel is compiled once per process and none leaks into
// the user's cache), random inputs rounded to the kernel dtype, poisoned outputs, and a check
// against the float64 reference.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "codegen/kernel_template.h"
#include "codegen/registry.h"
#include "runtime/backend.h"
#include "runtime/cpu/cpu_backend.h"
#include "runtime/half.h"
#include "runtime/reference_attention.h"
#include "templates/prefill/params.h"
#include "common/test_name.h"

namespace attnjit::test {

// A fresh directory under $TMPDIR (or /tmp), removed at process exit.
inline std::filesystem::path make_temp_dir(const char* tag) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/attnjit-" + tag + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) throw std::runtime_error("mkdtemp(" + tmpl + ") failed");
  return std::filesystem::path(buf.data());
}

struct TempDirGuard {
  std::filesystem::path path;
  ~TempDirGuard() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

inline Backend& shared_cpu_backend() {
  static TempDirGuard dir{make_temp_dir("cpu-test-cache")};
  static std::unique_ptr<Backend> b = [] {
    CpuBackendOptions o;
    o.cache_dir = dir.path;
    return make_cpu_backend(o);
  }();
  return *b;
}

struct PrefillCase {
  DType dtype = DType::F32;
  int head_dim = 64;
  MaskSpec mask;
  int64_t batch = 1, heads_q = 1, heads_kv = 1, seqlen_q = 17, seqlen_k = 17;
  bool with_lse = true;
  uint32_t seed = 1;
  // Elements of padding after every token row (all heads) of Q, K, V and O: strided tensors.
  // Input padding holds NaN and output padding must stay untouched.
  int64_t row_pad = 0;
  double softcap = 0;   // logit soft-cap (0 = off)
  float q_gain = 1.f;   // Q values in [-2, 2] * q_gain: large scores that soft-capping bends

  // The case's test name (tests/common/test_name.h): its problem key, run shape, the config if
  // given, and what the keys lack.
  std::string name(const std::optional<TileConfig>& config = {}) const {
    std::string detail = with_lse ? "" : "nolse";
    auto add = [&](const std::string& word) { detail += (detail.empty() ? "" : "_") + word; };
    if (row_pad != 0) add("pad" + std::to_string(row_pad));
    if (q_gain != 1.f) add("x" + softcap_string(q_gain));
    return testing::test_name({.problem = spec(), .shape = RunShape{batch, heads_q, heads_kv, seqlen_q, seqlen_k},
                               .config = config, .detail = detail});
  }
  ProblemSpec spec() const {
    ProblemSpec s = ProblemSpec::for_shape(Family::Prefill, dtype, head_dim, mask, heads_q,
                                           heads_kv, seqlen_q, seqlen_k);
    s.softcap = softcap;
    return s;
  }
};

struct PrefillOutcome {
  double max_err_o = 0, max_err_lse = 0;  // over rows with a visible key
  int64_t masked_rows = 0;                // rows with no visible key (checked exactly)
};

inline double tolerance_o(DType d) {
  // Output rounding dominates: half an ulp of the stored dtype at |O| <= ~1, with margin.
  switch (d) {
    case DType::F32: return 2e-5;
    case DType::BF16: return 8e-3;
    case DType::F16: return 1e-3;
  }
  return 0;
}

// Runs `c` with config `cfg` (default config if null) on `backend` and compares every output
// element with the reference. Adds gtest failures; returns the measured errors.
inline PrefillOutcome run_prefill_case(const PrefillCase& c, const TileConfig* cfg = nullptr,
                                       Backend* backend = nullptr) {
  Backend& be = backend ? *backend : shared_cpu_backend();
  const Target& target = be.target();
  const ProblemSpec spec = c.spec();
  const KernelTemplate& t = select_template(spec, target);
  const TileConfig config = cfg ? *cfg : t.default_config(spec, target);
  KernelSource src = t.render(spec, config, target);
  auto kernel = be.get_kernel(src);

  const int64_t D = c.head_dim;
  const size_t nq = size_t(c.batch * c.seqlen_q * c.heads_q * D);
  const size_t nk = size_t(c.batch * c.seqlen_k * c.heads_kv * D);
  const size_t nl = size_t(c.batch * c.heads_q * c.seqlen_q);
  std::mt19937 rng(c.seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  const int64_t pad = c.row_pad;
  // Dense element i of a [rows, row_len] tensor -> its place in the padded layout.
  auto at = [pad](size_t i, int64_t row_len) {
    return int64_t(i / size_t(row_len)) * (row_len + pad) + int64_t(i % size_t(row_len));
  };
  auto make = [&](size_t n, int64_t row_len, std::vector<double>& ref, std::vector<unsigned char>& raw,
                  float gain = 1.f) {
    ref.resize(n);
    raw.assign((n / size_t(row_len)) * size_t(row_len + pad) * size_t(dtype_bytes(c.dtype)), 0xff);
    for (size_t i = 0; i < n; ++i) {
      // Values in [-2, 2] so the softmax is far from uniform (exercises the running max).
      float x = dist(rng) * 2.f * gain;
      store_from_float(c.dtype, raw.data(), at(i, row_len), x);
      ref[i] = load_as_float(c.dtype, raw.data(), at(i, row_len));
    }
  };
  std::vector<double> q, k, v;
  std::vector<unsigned char> qr, kr, vr;
  make(nq, c.heads_q * D, q, qr, c.q_gain);
  make(nk, c.heads_kv * D, k, kr);
  make(nk, c.heads_kv * D, v, vr);

  DeviceBuffer dq(be, qr.size()), dk(be, kr.size()), dv(be, vr.size()), dout(be, qr.size()),
      dl(be, nl * sizeof(float));
  if (!qr.empty()) be.copy_to_device(dq.get(), qr.data(), qr.size());
  if (!kr.empty()) be.copy_to_device(dk.get(), kr.data(), kr.size());
  if (!vr.empty()) be.copy_to_device(dv.get(), vr.data(), vr.size());
  be.fill_bytes(dout.get(), 0xff, dout.size());  // NaN in every dtype
  be.fill_bytes(dl.get(), 0xff, dl.size());

  PrefillParams p{};
  p.q = dq.get();
  p.k = dk.get();
  p.v = dv.get();
  p.o = dout.get();
  p.lse = c.with_lse ? static_cast<float*>(dl.get()) : nullptr;
  p.q_row_stride = c.heads_q * D + pad;
  p.q_head_stride = D;
  p.q_batch_stride = c.seqlen_q * p.q_row_stride;
  p.k_row_stride = p.v_row_stride = c.heads_kv * D + pad;
  p.k_head_stride = p.v_head_stride = D;
  p.k_batch_stride = p.v_batch_stride = c.seqlen_k * p.k_row_stride;
  p.o_row_stride = p.q_row_stride;
  p.o_head_stride = D;
  p.o_batch_stride = p.q_batch_stride;
  p.lse_head_stride = c.seqlen_q;
  p.lse_batch_stride = c.heads_q * c.seqlen_q;
  p.batch = int(c.batch);
  p.heads_q = int(c.heads_q);
  p.heads_kv = int(c.heads_kv);
  p.seqlen_q = int(c.seqlen_q);
  p.seqlen_k = int(c.seqlen_k);
  p.scale = float(1.0 / std::sqrt(double(D)));
  p.scale_log2 = float(p.scale * 1.4426950408889634);

  RunShape shape{c.batch, c.heads_q, c.heads_kv, c.seqlen_q, c.seqlen_k};
  LaunchGeometry g = t.geometry(spec, config, target, shape);
  be.launch(*kernel, g, &p, sizeof p);

  std::vector<unsigned char> out(qr.size());
  std::vector<float> lse(nl);
  be.copy_to_host(out.data(), dout.get(), out.size());
  be.copy_to_host(lse.data(), dl.get(), lse.size() * sizeof(float));

  ReferenceProblem rp = reference_problem_at(shape, D, c.mask, c.softcap);
  rp.scale = p.scale;  // the kernel's (float) scale
  std::vector<double> ro(nq), rl(nl);
  reference_attention(rp, q.data(), k.data(), v.data(), ro.data(), rl.data());

  PrefillOutcome res;
  const double tol_o = tolerance_o(c.dtype), tol_l = 1e-4;
  int reported = 0;
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t h = 0; h < c.heads_q; ++h)
      for (int64_t i = 0; i < c.seqlen_q; ++i) {
        const size_t li = size_t((b * c.heads_q + h) * c.seqlen_q + i);
        const bool empty = std::isinf(rl[li]);
        if (empty) ++res.masked_rows;
        if (c.with_lse) {
          const double got = lse[li];
          const bool ok = empty ? (std::isinf(got) && got < 0) : std::abs(got - rl[li]) <= tol_l;
          if (!empty && !std::isnan(got)) res.max_err_lse = std::max(res.max_err_lse, std::abs(got - rl[li]));
          if (!ok && reported++ < 5)
            ADD_FAILURE() << c.name(config) << ": lse[b" << b << ",h" << h << ",i" << i
                          << "] = " << got << ", reference " << rl[li];
        }
        for (int64_t d = 0; d < D; ++d) {
          const size_t oi = size_t(((b * c.seqlen_q + i) * c.heads_q + h) * D + d);
          const double got = load_as_float(c.dtype, out.data(), at(oi, c.heads_q * D));
          const double err = std::abs(got - ro[oi]);
          const bool ok = empty ? got == 0.0 : err <= tol_o;  // NaN fails both
          if (!empty && !std::isnan(got)) res.max_err_o = std::max(res.max_err_o, err);
          if (!ok && reported++ < 5)
            ADD_FAILURE() << c.name(config) << ": o[b" << b << ",i" << i << ",h" << h
                          << ",d" << d << "] = " << got << ", reference " << ro[oi];
        }
      }
  if (pad > 0) {
    int64_t touched = 0;
    for (size_t r = 0; r < size_t(c.batch * c.seqlen_q); ++r)
      for (int64_t e = 0; e < pad * dtype_bytes(c.dtype); ++e)
        touched += out[(r * size_t(c.heads_q * D + pad) + size_t(c.heads_q * D)) * size_t(dtype_bytes(c.dtype)) + size_t(e)] != 0xff;
    EXPECT_EQ(touched, 0) << c.name() << ": the kernel wrote into the padding between rows";
  }
  return res;
}

}  // namespace attnjit::test
