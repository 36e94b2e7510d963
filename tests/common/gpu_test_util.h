// Backend-agnostic prefill correctness harness: builds a case (inputs rounded to the dtype, any
// strides), runs it through attnjit::Runtime on whatever backend the test was given (CUDA or
// CPU), and checks the result against the float64 reference with a tolerance derived from a
// same-precision host implementation.
//
// Tolerance (flash-attention's rule, hopper/test_flash_attn.py): the kernel's max abs error
// against the float64 reference may be at most 2x the max abs error of a straightforward
// implementation in the kernel's precision — scores in fp32 from dtype-rounded inputs, softmax
// in fp32, P rounded to the dtype before P·V (as the tensor-core kernels do), fp32 row sums,
// output rounded to the dtype — plus an absolute slack of one dtype ulp at 0.3 (2^-9 bf16,
// 2^-12 f16), which covers rows where the baseline happens to round exactly. fp32 (CPU) gets
// 1e-5: the online-softmax rescaling and vectorised exp differ from the baseline's order by a
// few fp32 ulps of the running sums.
// LSE: 2x the baseline's LSE error + 5e-4 absolute: the kernels evaluate exp2/log2 with
// hardware approximations (ex2.approx: 2 ulp) over up to 4k terms in another order.
//
// Always: every output element must be written (outputs are poisoned with NaN bytes first, the
// padding around strided outputs must stay poisoned), NaN/inf never passes, and a row with no
// visible key must be exactly O = 0, LSE = -inf.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/backend.h"
#include "codegen/kernel_template.h"
#include "codegen/registry.h"
#include "api/config_provider.h"
#include "attnjit/attnjit.h"
#include "runtime/cuda_driver.h"
#include "runtime/half.h"
#include "runtime/reference_attention.h"
#include "codegen/prefill/arguments.h"
#include "common/test_name.h"
#include "common/user_case.h"

namespace attnjit::testing {

// ---- Backends ------------------------------------------------------------------------------

// Creates a Runtime of `kind` with its own disk cache directory unset (the default), or null
// with the reason when the backend is unavailable here.
inline std::unique_ptr<Runtime> try_runtime(BackendKind kind, std::string* why) {
  if (kind == BackendKind::Cuda && !cuda::cuda_available(why)) return nullptr;
  try {
    return Runtime::create(kind);
  } catch (const BackendError& e) {
    *why = e.what();
    return nullptr;
  }
}

// A gtest parameter name for a backend (tests/common/test_name.h).
inline std::string backend_param_name(const ::testing::TestParamInfo<BackendKind>& info) {
  return test_name({.backend = info.param});
}

// ---- Cases ---------------------------------------------------------------------------------

enum class Layout {
  BSHD,    // dense [b, s, h, d]
  BHSD,    // dense [b, h, s, d]
  Padded,  // BSHD with gaps: rows, heads and batches padded (a view into a bigger tensor)
};

inline const char* layout_name(Layout l) {
  switch (l) {
    case Layout::BSHD: return "bshd";
    case Layout::BHSD: return "bhsd";
    case Layout::Padded: return "padded";
  }
  return "?";
}

struct PrefillCase {
  DType dtype = DType::BF16;
  int head_dim = 128;
  MaskSpec mask;
  int64_t batch = 1, heads_q = 1, heads_kv = 1, seqlen_q = 1, seqlen_k = 1;
  double scale = 0;
  double softcap = 0;  // logit soft-cap (0 = off)
  bool alibi = false;            // random ALiBi slopes ([heads_q], or [batch, heads_q] if per_batch)
  bool alibi_per_batch = false;
  bool sink = false;             // random attention-sink logits, one per query head
  Layout layout = Layout::BSHD;
  bool with_lse = true;
  uint64_t seed = 1;
  UserCase user;       // score_mod / mask_mod / block mask (tests/common/user_case.h)

  // A case of these sizes, seeded by them (so different shapes draw different inputs).
  static PrefillCase make(DType dtype, int head_dim, MaskSpec mask, int64_t seqlen_q, int64_t seqlen_k,
                          int64_t batch = 1, int64_t heads_q = 1, int64_t heads_kv = 1) {
    return {.dtype = dtype, .head_dim = head_dim, .mask = mask, .batch = batch, .heads_q = heads_q,
            .heads_kv = heads_kv, .seqlen_q = seqlen_q, .seqlen_k = seqlen_k,
            .seed = static_cast<uint64_t>(head_dim * 7919 + seqlen_q * 131 + seqlen_k)};
  }
  PrefillCase with_alibi(bool per_batch = false) const {
    PrefillCase c = *this;
    c.alibi = true;
    c.alibi_per_batch = per_batch;
    return c;
  }
  PrefillCase with_sink() const {
    PrefillCase c = *this;
    c.sink = true;
    return c;
  }

  PrefillProblem problem() const {
    return {.dtype = dtype, .head_dim = head_dim, .mask = mask, .batch = batch, .heads_q = heads_q,
            .heads_kv = heads_kv, .seqlen_q = seqlen_q, .seqlen_k = seqlen_k, .scale = scale, .softcap = softcap,
            .alibi = alibi, .sink = sink, .score_mod = user.score_mod, .mask_mod = user.mask_mod,
            .block_sparse = user.block_sparse};
  }

  RunShape shape() const { return {batch, heads_q, heads_kv, seqlen_q, seqlen_k}; }

  // The case's test name (tests/common/test_name.h): its problem key, run shape, the config if
  // given, and what the keys lack. A case that is no valid problem is named by the rest.
  std::string name(const std::optional<TileConfig>& config = {}) const {
    std::optional<ProblemSpec> spec;
    try {
      spec = prefill_spec(problem());
    } catch (const std::exception&) {
    }
    std::string detail = layout == Layout::BSHD ? "" : layout_name(layout);
    auto add = [&](const std::string& word) { detail += (detail.empty() ? "" : "_") + word; };
    if (!with_lse) add("nolse");
    if (scale != 0) add("scale" + softcap_string(scale));
    if (alibi_per_batch) add("alibi_per_batch");
    if (!user.name.empty()) add(user.name);
    return test_name({.problem = spec, .shape = shape(), .config = config, .detail = detail});
  }
};

// A case from its problem fields, seeded by its shape (every case its own data).
inline PrefillCase make_case(DType dtype, int hd, MaskSpec mask, int64_t sq, int64_t sk, int64_t b = 1,
                      int64_t hq = 1, int64_t hkv = 1) {
  PrefillCase c{.dtype = dtype, .head_dim = hd, .mask = mask, .batch = b, .heads_q = hq,
                .heads_kv = hkv, .seqlen_q = sq, .seqlen_k = sk};
  c.seed = static_cast<uint64_t>(hd * 1000003 + sq * 131 + sk);
  return c;
}

inline MaskSpec causal() { return {MaskKind::Causal, 0, 0}; }
inline MaskSpec window(int64_t l, int64_t r) { return {MaskKind::SlidingWindow, l, r}; }

// Strides of a [b, s, h, d] tensor in a layout, and the buffer size (elements) they span.
struct Strides {
  int64_t batch, seq, head;
  int64_t elems;
};

inline Strides make_strides(Layout l, int64_t b, int64_t s, int64_t h, int64_t d) {
  switch (l) {
    case Layout::BSHD: return {s * h * d, h * d, d, b * s * h * d};
    case Layout::BHSD: return {h * s * d, d, s * d, b * h * s * d};
    case Layout::Padded: {
      // Head pitch d + 8 (keeps 16-byte alignment for 2-byte types), row pitch one extra head,
      // batch pitch one extra row: nothing is contiguous beyond head_dim.
      const int64_t hs = d + 8, rs = hs * (h + 1), bs = rs * (s + 1);
      return {bs, rs, hs, std::max<int64_t>(b * bs, 1)};
    }
  }
  return {0, 0, 0, 0};
}

// Host side of a case: inputs (rounded to the dtype) in dense BSHD order as doubles for the
// reference, and the strided device-image bytes.
struct PrefillData {
  PrefillCase c;
  Strides qs, ks, os;  // v uses ks
  std::vector<double> q, k, v;  // dense [b, s, h, d], exact dtype values
  std::vector<unsigned char> q_img, k_img, v_img;
  int64_t lse_batch_stride = 0, lse_head_stride = 0, lse_elems = 0;
  // Score variants (empty = off): slopes of (b, h) at [b * slope_batch_stride + h], sinks [h].
  std::vector<float> slopes, sinks;
  int64_t slope_batch_stride = 0;
  // One row's visibility: false when the mask leaves query i no key (O = 0 exactly).
  bool row_sees_a_key(int64_t i) const {
    for (int64_t j = 0; j < c.seqlen_k; ++j)
      if (mask_allows(c.mask, i, j, c.seqlen_q, c.seqlen_k)) return true;
    return false;
  }
};

inline void store_elem(DType d, std::vector<unsigned char>& img, int64_t i, float v) {
  store_from_float(d, img.data(), i, v);
}

inline PrefillData make_data(const PrefillCase& c) {
  PrefillData x;
  x.c = c;
  const int64_t D = c.head_dim;
  x.qs = make_strides(c.layout, c.batch, c.seqlen_q, c.heads_q, D);
  x.ks = make_strides(c.layout, c.batch, c.seqlen_k, c.heads_kv, D);
  x.os = x.qs;
  const int eb = dtype_bytes(c.dtype);
  std::mt19937_64 rng(c.seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  auto fill = [&](std::vector<double>& dense, std::vector<unsigned char>& img, const Strides& st,
                  int64_t s_len, int64_t heads) {
    dense.assign(static_cast<size_t>(c.batch * s_len * heads * D), 0.0);
    img.assign(static_cast<size_t>(std::max<int64_t>(st.elems, 1) * eb), 0);
    // Padding gets values too: a kernel that reads it would produce a wrong answer.
    for (int64_t i = 0; i < st.elems; ++i) store_elem(c.dtype, img, i, 1000.f);
    for (int64_t b = 0; b < c.batch; ++b)
      for (int64_t s = 0; s < s_len; ++s)
        for (int64_t h = 0; h < heads; ++h)
          for (int64_t e = 0; e < D; ++e) {
            const float r = round_to(c.dtype, nd(rng));
            dense[static_cast<size_t>(((b * s_len + s) * heads + h) * D + e)] = r;
            store_elem(c.dtype, img, b * st.batch + s * st.seq + h * st.head + e, r);
          }
  };
  fill(x.q, x.q_img, x.qs, c.seqlen_q, c.heads_q);
  fill(x.k, x.k_img, x.ks, c.seqlen_k, c.heads_kv);
  fill(x.v, x.v_img, x.ks, c.seqlen_k, c.heads_kv);
  // Slopes in [1/256, 1/2] (ALiBi's for 8..64 heads), sinks N(0, 2): both move the result far
  // beyond the tolerance. Drawn after the tensors, so cases without them keep their inputs.
  if (c.alibi) {
    std::uniform_real_distribution<float> u(1.f / 256, 0.5f);
    x.slope_batch_stride = c.alibi_per_batch ? c.heads_q : 0;
    x.slopes.resize(static_cast<size_t>(c.alibi_per_batch ? c.batch * c.heads_q : c.heads_q));
    for (float& e : x.slopes) e = u(rng);
  }
  if (c.sink) {
    x.sinks.resize(static_cast<size_t>(c.heads_q));
    for (float& e : x.sinks) e = 2.f * nd(rng);
  }
  if (c.with_lse) {
    // Padded layout: one spare row per head and one spare head per batch.
    const int64_t pad = c.layout == Layout::Padded ? 1 : 0;
    x.lse_head_stride = c.seqlen_q + pad;
    x.lse_batch_stride = x.lse_head_stride * (c.heads_q + pad);
    x.lse_elems = std::max<int64_t>(c.batch * x.lse_batch_stride, 1);
  }
  return x;
}

// ---- Same-precision baseline -----------------------------------------------------------------

struct Outputs {
  std::vector<double> o;    // dense [b, sq, hq, d]
  std::vector<double> lse;  // dense [b, hq, sq]
};

inline Outputs reference_outputs(const PrefillData& x) {
  const PrefillCase& c = x.c;
  ReferenceProblem p = reference_problem_at(c.shape(), c.head_dim, c.mask, c.softcap);
  p.scale = c.scale;
  p.alibi_slopes.assign(x.slopes.begin(), x.slopes.end());
  p.alibi_batch_stride = x.slope_batch_stride;
  p.sinks.assign(x.sinks.begin(), x.sinks.end());
  p.score_mod = c.user.score_ref;
  p.mask_mod = c.user.mask_ref;
  Outputs r;
  r.o.assign(static_cast<size_t>(c.batch * c.seqlen_q * c.heads_q * c.head_dim), 0.0);
  r.lse.assign(static_cast<size_t>(c.batch * c.heads_q * c.seqlen_q), 0.0);
  reference_attention(p, x.q.data(), x.k.data(), x.v.data(), r.o.data(), r.lse.data());
  return r;
}

// What a straightforward kernel in the dtype computes (see the header comment).
inline Outputs baseline_outputs(const PrefillData& x) {
  const PrefillCase& c = x.c;
  const int64_t D = c.head_dim, sq = c.seqlen_q, sk = c.seqlen_k;
  const float scale = static_cast<float>(c.scale != 0 ? c.scale : 1.0 / std::sqrt(double(D)));
  const int64_t group = c.heads_q / c.heads_kv;
  Outputs r;
  r.o.assign(static_cast<size_t>(c.batch * sq * c.heads_q * D), 0.0);
  r.lse.assign(static_cast<size_t>(c.batch * c.heads_q * sq), 0.0);
  std::vector<float> s(static_cast<size_t>(sk)), acc(static_cast<size_t>(D));
  std::vector<float> qf(static_cast<size_t>(D));
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t h = 0; h < c.heads_q; ++h) {
      const int64_t hk = h / group;
      for (int64_t i = 0; i < sq; ++i) {
        const size_t qoff = static_cast<size_t>(((b * sq + i) * c.heads_q + h) * D);
        for (int64_t e = 0; e < D; ++e) qf[e] = static_cast<float>(x.q[qoff + e]);
        float m = -std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j < sk; ++j) {
          if (!mask_allows(c.mask, i, j, sq, sk) || (c.user.mask_ref && !c.user.mask_ref(b, h, i, j))) {
            s[j] = -std::numeric_limits<float>::infinity();
            continue;
          }
          const size_t koff = static_cast<size_t>(((b * sk + j) * c.heads_kv + hk) * D);
          float dot = 0.f;
          for (int64_t e = 0; e < D; ++e) dot += qf[e] * static_cast<float>(x.k[koff + e]);
          s[j] = dot * scale;
          if (c.softcap > 0) s[j] = float(c.softcap) * std::tanh(s[j] / float(c.softcap));
          if (c.alibi)
            s[j] -= x.slopes[static_cast<size_t>(b * x.slope_batch_stride + h)] * std::abs(float(i + sk - sq - j));
          if (c.user.score_ref) s[j] = static_cast<float>(c.user.score_ref(s[j], b, h, i, j));
          m = std::max(m, s[j]);
        }
        const size_t lidx = static_cast<size_t>((b * c.heads_q + h) * sq + i);
        if (m == -std::numeric_limits<float>::infinity()) {
          r.lse[lidx] = c.sink ? x.sinks[static_cast<size_t>(h)] : -std::numeric_limits<double>::infinity();
          continue;  // O stays 0
        }
        std::fill(acc.begin(), acc.end(), 0.f);
        float l = 0.f;
        for (int64_t j = 0; j < sk; ++j) {
          if (s[j] == -std::numeric_limits<float>::infinity()) continue;
          const float p = std::exp(s[j] - m);
          l += p;
          const float pr = round_to(c.dtype, p);
          const size_t voff = static_cast<size_t>(((b * sk + j) * c.heads_kv + hk) * D);
          for (int64_t e = 0; e < D; ++e) acc[e] += pr * static_cast<float>(x.v[voff + e]);
        }
        if (c.sink) l += std::exp(x.sinks[static_cast<size_t>(h)] - m);
        for (int64_t e = 0; e < D; ++e) r.o[qoff + e] = round_to(c.dtype, acc[e] / l);
        r.lse[lidx] = static_cast<double>(m + std::log(l));
      }
    }
  return r;
}

inline double dtype_atol(DType d) {
  switch (d) {
    case DType::BF16: return 1.0 / 512;   // ulp(0.3) in bf16 = 2^-9
    case DType::F16: return 1.0 / 4096;   // ulp(0.3) in f16 = 2^-12
    case DType::F32: return 1e-5;
  }
  return 0;
}

// ---- Checking ----------------------------------------------------------------------------------

struct CheckReport {
  bool ok = true;
  std::string message;  // first problems found
  double o_err = 0, o_baseline_err = 0, o_tol = 0;
  double lse_err = 0, lse_tol = 0;
  int64_t masked_rows = 0;

  void fail(const std::string& m) {
    ok = false;
    if (message.size() < 2000) message += m + "\n";
  }
};

// Compares kernel outputs (read back from the strided images) with reference and baseline.
// `o_img` / `lse_img` are the full device buffers, padding included.
inline CheckReport check_outputs(const PrefillData& x, const Outputs& ref, const Outputs& base,
                                 const std::vector<unsigned char>& o_img,
                                 const std::vector<float>& lse_img) {
  const PrefillCase& c = x.c;
  const int64_t D = c.head_dim, sq = c.seqlen_q;
  CheckReport rep;
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<bool> o_touched(static_cast<size_t>(x.os.elems), false);
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t i = 0; i < sq; ++i)
      for (int64_t h = 0; h < c.heads_q; ++h) {
        // No visible key: LSE -inf, or the sink's logit with sinks; O exactly 0 either way.
        const bool masked = ref.lse[static_cast<size_t>((b * c.heads_q + h) * sq + i)] == -inf ||
                            (c.sink && !x.row_sees_a_key(i));
        if (masked) ++rep.masked_rows;
        for (int64_t e = 0; e < D; ++e) {
          const int64_t at = b * x.os.batch + i * x.os.seq + h * x.os.head + e;
          o_touched[static_cast<size_t>(at)] = true;
          const double got = load_as_float(c.dtype, o_img.data(), at);
          const size_t di = static_cast<size_t>(((b * sq + i) * c.heads_q + h) * D + e);
          if (!std::isfinite(got)) {
            rep.fail("O[b" + std::to_string(b) + ",q" + std::to_string(i) + ",h" + std::to_string(h) +
                     ",d" + std::to_string(e) + "] = " + std::to_string(got) + " (not finite: unwritten or NaN)");
            continue;
          }
          if (masked && got != 0.0)
            rep.fail("O of fully masked row b" + std::to_string(b) + " q" + std::to_string(i) + " h" +
                     std::to_string(h) + " is " + std::to_string(got) + ", expected exactly 0");
          rep.o_err = std::max(rep.o_err, std::abs(got - ref.o[di]));
          rep.o_baseline_err = std::max(rep.o_baseline_err, std::abs(base.o[di] - ref.o[di]));
        }
      }
  rep.o_tol = 2 * rep.o_baseline_err + dtype_atol(c.dtype);
  if (rep.o_err > rep.o_tol)
    rep.fail("O max abs error " + std::to_string(rep.o_err) + " > tolerance " + std::to_string(rep.o_tol) +
             " (2 x baseline " + std::to_string(rep.o_baseline_err) + " + atol)");
  // Padding of a strided output must still hold the poison: nothing written outside the view.
  const int eb = dtype_bytes(c.dtype);
  for (int64_t at = 0; at < x.os.elems; ++at) {
    if (o_touched[static_cast<size_t>(at)]) continue;
    for (int byte = 0; byte < eb; ++byte)
      if (o_img[static_cast<size_t>(at * eb + byte)] != 0xff) {
        rep.fail("O padding element " + std::to_string(at) + " was overwritten (write outside the strided view)");
        at = x.os.elems;
        break;
      }
  }
  if (c.with_lse) {
    double base_err = 0;
    std::vector<bool> touched(static_cast<size_t>(x.lse_elems), false);
    for (int64_t b = 0; b < c.batch; ++b)
      for (int64_t h = 0; h < c.heads_q; ++h)
        for (int64_t i = 0; i < sq; ++i) {
          const int64_t at = b * x.lse_batch_stride + h * x.lse_head_stride + i;
          touched[static_cast<size_t>(at)] = true;
          const double got = lse_img[static_cast<size_t>(at)];
          const double want = ref.lse[static_cast<size_t>((b * c.heads_q + h) * sq + i)];
          const double bl = base.lse[static_cast<size_t>((b * c.heads_q + h) * sq + i)];
          if (want == -inf) {
            if (got != -inf)
              rep.fail("LSE of fully masked row b" + std::to_string(b) + " h" + std::to_string(h) + " q" +
                       std::to_string(i) + " is " + std::to_string(got) + ", expected -inf");
            continue;
          }
          if (!std::isfinite(got)) {
            rep.fail("LSE[b" + std::to_string(b) + ",h" + std::to_string(h) + ",q" + std::to_string(i) +
                     "] = " + std::to_string(got) + " (not finite)");
            continue;
          }
          rep.lse_err = std::max(rep.lse_err, std::abs(got - want));
          base_err = std::max(base_err, std::abs(bl - want));
        }
    rep.lse_tol = 2 * base_err + 5e-4;
    if (rep.lse_err > rep.lse_tol)
      rep.fail("LSE max abs error " + std::to_string(rep.lse_err) + " > tolerance " + std::to_string(rep.lse_tol));
    for (int64_t at = 0; at < x.lse_elems; ++at) {
      if (touched[static_cast<size_t>(at)]) continue;
      uint32_t bits;
      std::memcpy(&bits, &lse_img[static_cast<size_t>(at)], 4);
      if (bits != 0xffffffffu) {
        rep.fail("LSE padding element " + std::to_string(at) + " was overwritten");
        break;
      }
    }
  }
  return rep;
}

// ---- Running ---------------------------------------------------------------------------------

// Points a's score-variant tensors at `dev`, a copy of x.slopes followed by x.sinks.
inline void attach_variants(const PrefillData& x, const float* dev, PrefillArgs& a) {
  a.alibi_slopes = x.slopes.empty() ? nullptr : dev;
  a.alibi_batch_stride = x.slope_batch_stride;
  a.sinks = x.sinks.empty() ? nullptr : dev + x.slopes.size();
}

// What one run left in the device buffers (padding included), read back to the host.
struct RunOutput {
  PrefillData x;
  std::vector<unsigned char> o_img;
  std::vector<float> lse_img;
};

// Runs one case on `rt`, outputs poisoned first. Throws what the runtime throws (SpecError,
// BackendError).
inline RunOutput run_case(Runtime& rt, const PrefillCase& c) {
  Backend& be = rt.backend();
  RunOutput out;
  out.x = make_data(c);
  const PrefillData& x = out.x;
  DeviceBuffer q(be, x.q_img.size()), k(be, x.k_img.size()), v(be, x.v_img.size());
  const size_t o_bytes = static_cast<size_t>(x.os.elems) * dtype_bytes(c.dtype);
  DeviceBuffer o(be, o_bytes);
  DeviceBuffer lse(be, c.with_lse ? static_cast<size_t>(x.lse_elems) * 4 : 0);
  be.copy_to_device(q.get(), x.q_img.data(), x.q_img.size());
  be.copy_to_device(k.get(), x.k_img.data(), x.k_img.size());
  be.copy_to_device(v.get(), x.v_img.data(), x.v_img.size());
  // 0xff bytes: NaN in f16, bf16 and f32 — an element the kernel never writes cannot pass.
  be.fill_bytes(o.get(), 0xff, o_bytes);
  if (c.with_lse) be.fill_bytes(lse.get(), 0xff, lse.size());
  std::vector<float> variant_host(x.slopes);
  variant_host.insert(variant_host.end(), x.sinks.begin(), x.sinks.end());
  DeviceBuffer variant_dev(be, variant_host.size() * sizeof(float));
  if (!variant_host.empty())
    be.copy_to_device(variant_dev.get(), variant_host.data(), variant_host.size() * sizeof(float));

  PrefillArgs a;
  a.problem = c.problem();
  a.q = {q.get(), x.qs.batch, x.qs.seq, x.qs.head};
  a.k = {k.get(), x.ks.batch, x.ks.seq, x.ks.head};
  a.v = {v.get(), x.ks.batch, x.ks.seq, x.ks.head};
  a.o = {o.get(), x.os.batch, x.os.seq, x.os.head};
  if (c.with_lse) a.lse = {static_cast<float*>(lse.get()), x.lse_batch_stride, x.lse_head_stride};
  attach_variants(x, static_cast<const float*>(variant_dev.get()), a);
  // User variants: aux tensors in the backend's memory, and the block mask built there.
  DeviceBuffer aux_i32(be, c.user.aux_i32.size() * 4), aux_f32(be, c.user.aux_f32.size() * 4);
  if (!c.user.aux_i32.empty()) be.copy_to_device(aux_i32.get(), c.user.aux_i32.data(), aux_i32.size());
  if (!c.user.aux_f32.empty()) be.copy_to_device(aux_f32.get(), c.user.aux_f32.data(), aux_f32.size());
  a.aux[0] = {aux_i32.get(), AuxType::I32, static_cast<int64_t>(c.user.aux_i32.size())};
  a.aux[1] = {aux_f32.get(), AuxType::F32, static_cast<int64_t>(c.user.aux_f32.size())};
  BlockMask bm;
  if (c.user.block_sparse > 0) {
    bm = build_block_mask(rt, a.problem, a.aux, c.user.block_sparse);
    a.block_mask = bm.view;
  }
  rt.prefill(a);
  be.synchronize();

  out.o_img.resize(o_bytes);
  be.copy_to_host(out.o_img.data(), o.get(), o_bytes);
  out.lse_img.resize(c.with_lse ? static_cast<size_t>(x.lse_elems) : 0);
  if (c.with_lse) be.copy_to_host(out.lse_img.data(), lse.get(), lse.size());
  return out;
}

// Host-side verdict on a run (the float64 reference dominates the cost: run several at once).
inline CheckReport check_run(const RunOutput& r) {
  return check_outputs(r.x, reference_outputs(r.x), baseline_outputs(r.x), r.o_img, r.lse_img);
}

inline CheckReport run_and_check(Runtime& rt, const PrefillCase& c) { return check_run(run_case(rt, c)); }

// Whether the runtime's backend has a template for the case (CPU backends may lack 16-bit
// types, GPUs lack f32): an unsupported case is skipped, not failed.
inline bool backend_supports(Runtime& rt, const PrefillCase& c) {
  try {
    PrefillProblem p = c.problem();
    ProblemSpec spec = ProblemSpec::for_shape(Family::Prefill, p.dtype, p.head_dim, p.mask, p.heads_q,
                                              p.heads_kv, std::max<int64_t>(p.seqlen_q, 1), p.seqlen_k);
    select_template(spec, rt.target());
    return true;
  } catch (const SpecError&) {
    return false;
  }
}

// A provider that hands out one fixed config: runs a chosen search-space point through the
// public API.
class FixedConfigProvider final : public ConfigProvider {
 public:
  explicit FixedConfigProvider(TileConfig cfg) : cfg_(cfg) {}
  ConfigChoice choose(const KernelTemplate&, const ProblemSpec&, const Target&) override {
    return {cfg_, "fixed"};
  }

 private:
  TileConfig cfg_;
};

// Runs `c` once with every config of its template's search space (each at an uneven shape and,
// as a second case, at an even one: "even" kernels drop bounds checks). Returns how many
// configs ran; failures are reported through gtest.
inline int run_every_config(Runtime& rt, PrefillCase c) {
  if (!backend_supports(rt, c)) return 0;
  PrefillProblem p = c.problem();
  const ProblemSpec spec = ProblemSpec::for_shape(Family::Prefill, p.dtype, p.head_dim, p.mask,
                                                  p.heads_q, p.heads_kv, p.seqlen_q, p.seqlen_k);
  const KernelTemplate& tmpl = select_template(spec, rt.target());
  const std::vector<TileConfig> space = tmpl.search_space(spec, rt.target());
  EXPECT_FALSE(space.empty()) << "empty search space for " << spec.key();
  int ran = 0;
  for (const TileConfig& cfg : space) {
    rt.set_config_provider(std::make_shared<FixedConfigProvider>(cfg));
    SCOPED_TRACE(c.name(cfg));
    try {
      const PreparedKernel pk = rt.prepare_prefill(p);
      EXPECT_EQ(pk.config, cfg) << "the runtime replaced a legal config: " << pk.config_source;
      CheckReport r = run_and_check(rt, c);
      EXPECT_TRUE(r.ok) << r.message;
      ++ran;
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
    }
  }
  rt.set_config_provider(nullptr);
  return ran;
}

}  // namespace attnjit::testing
