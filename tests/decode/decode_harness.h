// Runs one decode case on a Backend straight through the template (so a test can force the
// config and the split count) and compares it with the float64 reference.
//
// Inputs are drawn in [-1, 1], rounded to the kernel dtype, and fed to the reference as those
// rounded values. Everything the kernel must not read is poison: contiguous rows past a
// sequence's length, unused pages and unused block-table entries (-1, which would fault). The
// outputs are poisoned with NaN bytes first, so an element left unwritten fails.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "codegen/decode/plan.h"
#include "codegen/kernel_template.h"
#include "codegen/registry.h"
#include "codegen/snippet.h"
#include "common/user_case.h"
#include "runtime/backend.h"
#include "runtime/fp8.h"
#include "runtime/half.h"
#include "runtime/reference_attention.h"
#include "templates/decode/params.h"
#include "templates/prefill/params.h"

namespace attnjit::testing {

struct DecodeCase {
  DType dtype = DType::BF16;
  int head_dim = 128;
  MaskSpec mask;
  int64_t heads_kv = 2;
  int64_t group = 1;
  int64_t q_tokens = 1;
  std::vector<int64_t> seqlens = {100};  // one per sequence
  int page_size = 0;
  int splits = 0;                       // 0 = the rule
  int combine_group = -1;               // -1 = the rule (decode_combine_group), 0 = one level
  bool run_one_level = false;           // the workspace laid out for combine_group, the kernel told
                                        // 0 (bench-decode --one-level-combine's prefix layout)
  std::optional<TileConfig> config;     // nullopt = the template's default
  int block_m = 0;                      // > 0: overrides the config's query rows per CTA / item
  bool with_lse = true;
  uint64_t seed = 1;
  int launches = 1;  // > 1: launch again on the same workspace (counters must have been reset)
  double softcap = 0;   // logit soft-cap (0 = off)
  float q_gain = 1.f;   // Q drawn in [-1, 1] * q_gain: large scores that soft-capping bends
  KvDType kv_dtype = KvDType::Same;  // fp8: K/V quantised with f32 scales (every 4th value tiny:
  bool per_head_scale = false;       // subnormal codes), the reference on the dequantised values
  bool alibi = false;                // ALiBi slopes 2^(-8 (h + 1) / heads_q), or per batch entry:
  bool alibi_per_batch = false;      //   [batch, heads_q] at stride heads_q + 1, scaled per entry
  bool sink = false;                 // sinks drawn in [-2, 6] (every 4th head: -inf, no sink)
  UserCase user;                     // score_mod / mask_mod snippets, their aux tensors and reference lambdas

  std::string describe() const {
    std::string s = std::string(to_string(dtype)) + " hd" + std::to_string(head_dim) + " hkv" +
                    std::to_string(heads_kv) + " g" + std::to_string(group) + " qt" + std::to_string(q_tokens) +
                    " page" + std::to_string(page_size) + " splits" + std::to_string(splits) +
                    (combine_group >= 0 ? " group" + std::to_string(combine_group) : std::string()) +
                    (run_one_level ? " run-one-level" : "") + " lens";
    for (auto l : seqlens) s += " " + std::to_string(l);
    if (mask.kind == MaskKind::Causal) s += " causal";
    if (mask.kind == MaskKind::SlidingWindow)
      s += " sw" + std::to_string(mask.window_left) + "-" + std::to_string(mask.window_right);
    if (config) s += " cfg " + config->key();
    if (block_m) s += " bm" + std::to_string(block_m);
    if (softcap != 0) s += " sc" + softcap_string(softcap) + " x" + std::to_string(q_gain);
    if (kv_dtype != KvDType::Same) s += std::string(" kv-") + std::string(to_string(kv_dtype)) + (per_head_scale ? " per-head" : "");
    if (alibi) s += alibi_per_batch ? " alibi[b,h]" : " alibi";
    if (sink) s += " sink";
    if (!user.name.empty()) s += " user " + user.name;
    return s;
  }
};

struct DecodeResult {
  std::vector<float> o, lse;              // kernel outputs (o as float)
  std::vector<double> ref_o, ref_lse;     // reference
  int splits = 0;                         // what ran
  int combine_group = 0;                  // splits per first-level combine group (0: one level)
  double max_abs_err = 0, max_lse_err = 0;
  int64_t nan_count = 0;
};

inline double output_tolerance(DType d) {
  // The output rounding (half an ulp of values up to 1) dominates for 16-bit outputs.
  switch (d) {
    case DType::BF16: return 1e-2;
    case DType::F16: return 2e-3;
    case DType::F32: return 2e-5;
  }
  return 0;
}

inline DecodeResult run_decode_case(Backend& backend, const DecodeCase& c) {
  const Target& target = backend.target();
  const int64_t B = static_cast<int64_t>(c.seqlens.size()), Hkv = c.heads_kv, Hq = Hkv * c.group;
  const int64_t QT = c.q_tokens, D = c.head_dim;
  const int64_t maxL = std::max<int64_t>(1, *std::max_element(c.seqlens.begin(), c.seqlens.end()));
  const int P = c.page_size;
  ProblemSpec spec = ProblemSpec::for_shape(Family::Decode, c.dtype, c.head_dim, c.mask, Hq, Hkv, QT,
                                            *std::max_element(c.seqlens.begin(), c.seqlens.end()), P);
  spec.softcap = c.softcap;
  spec.kv_dtype = c.kv_dtype;
  spec.alibi = c.alibi;
  spec.sink = c.sink;
  if (!c.user.score_mod.empty()) spec.score_mod = register_snippet(c.user.score_mod, "score_mod");
  if (!c.user.mask_mod.empty()) spec.mask_mod = register_snippet(c.user.mask_mod, "mask_mod");
  const bool mods = !spec.score_mod.empty() || !spec.mask_mod.empty();
  const KernelTemplate& tmpl = select_template(spec, target);
  TileConfig cfg = c.config ? *c.config : tmpl.default_config(spec, target);
  cfg.splits = c.splits;
  if (c.block_m > 0) cfg.block_m = c.block_m;
  if (auto why = tmpl.can_implement(spec, cfg, target)) throw SpecError("test config: " + *why);
  RunShape shape{B, Hq, Hkv, QT, *std::max_element(c.seqlens.begin(), c.seqlens.end())};
  const int splits = decode_num_splits(spec, cfg, target, shape);
  const LaunchGeometry geo = tmpl.geometry(spec, cfg, target, shape);
  auto kernel = backend.get_kernel(tmpl.render(spec, cfg, target));

  const int esz = dtype_bytes(c.dtype);
  std::mt19937_64 rng(c.seed);
  std::uniform_real_distribution<float> uni(-1.f, 1.f);
  auto draw = [&](std::vector<double>& ref, int64_t n, float gain = 1.f) {
    ref.resize(n);
    for (auto& x : ref) x = round_to(c.dtype, uni(rng) * gain);
  };
  std::vector<double> q, k, v;  // dense, rounded: q [B, QT, Hq, D], k/v [B, maxL, Hkv, D]
  draw(q, B * QT * Hq * D, c.q_gain);
  draw(k, B * maxL * Hkv * D);
  draw(v, B * maxL * Hkv * D);
  // fp8: codes of value / scale (the head's scale), the reference on code * scale exactly.
  const bool fp8 = c.kv_dtype != KvDType::Same;
  const int kvsz = kv_dtype_bytes(c.dtype, c.kv_dtype);
  std::vector<float> kscale(Hkv, 1.f), vscale(Hkv, 1.f);
  std::vector<uint8_t> kcode, vcode;
  if (fp8) {
    for (int64_t h = 0; h < Hkv; ++h) {
      const double base = 1.0 / (0.9 * fp8_max(c.kv_dtype)) * (c.per_head_scale ? 1.0 + 0.25 * h : 1.0);
      kscale[h] = float(base * 1.5);
      vscale[h] = float(base * 0.75);
    }
    auto quantise = [&](std::vector<double>& x, std::vector<uint8_t>& code, const std::vector<float>& sc) {
      code.resize(x.size());
      for (size_t i = 0; i < x.size(); ++i) {
        const float s = sc[size_t((int64_t(i) / D) % Hkv)];
        const double val = i % 4 == 3 ? x[i] * 1e-3 : x[i];  // small values: subnormal codes
        code[i] = fp8_from_float(c.kv_dtype, float(val / s));
        x[i] = fp8_dequantize(c.kv_dtype, code[i], s);
      }
    };
    quantise(k, kcode, kscale);
    quantise(v, vcode, vscale);
  }

  auto to_bytes = [&](const std::vector<double>& src, std::vector<unsigned char>& dst) {
    dst.resize(src.size() * esz);
    for (size_t i = 0; i < src.size(); ++i) store_from_float(c.dtype, dst.data(), int64_t(i), float(src[i]));
  };
  auto poison_elems = [&](std::vector<unsigned char>& dst, int64_t first, int64_t count) {
    for (int64_t i = first; i < first + count; ++i)
      if (fp8) dst[size_t(i)] = 0x7f;  // NaN (e4m3, e5m2): the sm_80 path reads 480 / 122880
      else store_from_float(c.dtype, dst.data(), i, std::numeric_limits<float>::quiet_NaN());
  };
  // Element dst of a K/V buffer from dense element src.
  auto put_kv = [&](std::vector<unsigned char>& dst, int64_t di, const std::vector<double>& x,
                    const std::vector<uint8_t>& code, int64_t si) {
    if (fp8) dst[size_t(di)] = code[size_t(si)];
    else store_from_float(c.dtype, dst.data(), di, float(x[size_t(si)]));
  };
  std::vector<unsigned char> hq, hk, hv;
  to_bytes(q, hq);
  std::vector<int32_t> table, lens(c.seqlens.begin(), c.seqlens.end());
  int64_t max_pages = 0, num_pages = 0;
  const int64_t row = Hkv * D;  // elements per cache row
  if (P == 0) {
    if (fp8) {
      hk.assign(kcode.begin(), kcode.end());
      hv.assign(vcode.begin(), vcode.end());
    } else {
      to_bytes(k, hk);
      to_bytes(v, hv);
    }
    for (int64_t b = 0; b < B; ++b) {  // rows past the length: never read
      poison_elems(hk, (b * maxL + c.seqlens[b]) * row, (maxL - c.seqlens[b]) * row);
      poison_elems(hv, (b * maxL + c.seqlens[b]) * row, (maxL - c.seqlens[b]) * row);
    }
  } else {
    max_pages = (maxL + P - 1) / P;
    int64_t used = 0;
    for (auto l : c.seqlens) used += (l + P - 1) / P;
    num_pages = used + 3;  // spare pages stay poison
    std::vector<int32_t> perm(num_pages);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    table.assign(B * max_pages, -1);  // unused entries would fault if read
    hk.assign(num_pages * P * row * kvsz, 0);
    hv.assign(num_pages * P * row * kvsz, 0);
    poison_elems(hk, 0, num_pages * P * row);
    poison_elems(hv, 0, num_pages * P * row);
    int64_t next = 0;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t pg = 0; pg < (c.seqlens[b] + P - 1) / P; ++pg) {
        const int32_t page = perm[next++];
        table[b * max_pages + pg] = page;
        for (int64_t r = 0; r < P && pg * P + r < c.seqlens[b]; ++r)
          for (int64_t e = 0; e < row; ++e) {
            const int64_t src = (b * maxL + pg * P + r) * row + e, dst = (int64_t(page) * P + r) * row + e;
            put_kv(hk, dst, k, kcode, src);
            put_kv(hv, dst, v, vcode, src);
          }
      }
  }

  auto upload = [&](const void* src, size_t bytes) {
    DeviceBuffer buf(backend, std::max<size_t>(bytes, 16));
    if (bytes) backend.copy_to_device(buf.get(), src, bytes);
    return buf;
  };
  DeviceBuffer dq = upload(hq.data(), hq.size()), dk = upload(hk.data(), hk.size()),
               dv = upload(hv.data(), hv.size());
  DeviceBuffer dlens = upload(lens.data(), lens.size() * 4);
  DeviceBuffer dtable = upload(table.data(), table.size() * 4);
  DeviceBuffer dks = upload(kscale.data(), kscale.size() * 4), dvs = upload(vscale.data(), vscale.size() * 4);
  // Score variants: slopes [B, Hq] at stride Hq + 1 (or one [Hq] vector), sinks [Hq].
  const int64_t slope_stride = c.alibi_per_batch ? Hq + 1 : 0;
  std::vector<float> slopes(size_t(c.alibi_per_batch ? B * slope_stride : Hq), 0.f), sinks(size_t(Hq), 0.f);
  for (int64_t b = 0; b < (c.alibi_per_batch ? B : 1); ++b)
    for (int64_t h = 0; h < Hq; ++h) slopes[size_t(b * slope_stride + h)] = float(std::exp2(-8.0 * double(h + 1) / double(Hq)) * (1.0 + 0.5 * double(b)));
  std::uniform_real_distribution<float> sink_dist(-2.f, 6.f);
  for (int64_t h = 0; h < Hq; ++h) sinks[size_t(h)] = h % 4 == 3 ? -std::numeric_limits<float>::infinity() : sink_dist(rng);
  DeviceBuffer dslopes = upload(slopes.data(), slopes.size() * 4), dsinks = upload(sinks.data(), sinks.size() * 4);
  DeviceBuffer daux_i = upload(c.user.aux_i32.data(), c.user.aux_i32.size() * 4),
               daux_f = upload(c.user.aux_f32.data(), c.user.aux_f32.size() * 4);
  const size_t o_elems = size_t(B * QT * Hq * D), lse_elems = size_t(B * Hq * QT);
  DeviceBuffer dout(backend, o_elems * esz), dlse(backend, lse_elems * 4);
  backend.fill_bytes(dout.get(), 0xff, o_elems * esz);  // NaN in every dtype
  backend.fill_bytes(dlse.get(), 0xff, lse_elems * 4);
  const int group = c.combine_group >= 0 ? c.combine_group : decode_combine_group(spec, cfg, target, splits);
  const DecodeWorkspace ws = decode_workspace(spec, cfg, shape, splits, group);
  DeviceBuffer dpo(backend, std::max<int64_t>(ws.partial_o_bytes, 16)),
      dpl(backend, std::max<int64_t>(ws.partial_lse_bytes, 16)), dcnt(backend, std::max<int64_t>(ws.counter_bytes, 16));
  backend.fill_bytes(dpo.get(), 0xff, dpo.size());  // partials are always written before read
  backend.fill_bytes(dpl.get(), 0xff, dpl.size());
  backend.fill_bytes(dcnt.get(), 0, dcnt.size());

  DecodeParams p{};
  p.q = dq.get();
  p.k = dk.get();
  p.v = dv.get();
  p.o = dout.get();
  p.lse = c.with_lse ? static_cast<float*>(dlse.get()) : nullptr;
  p.block_table = P ? static_cast<const int*>(dtable.get()) : nullptr;
  p.seqlens_k = static_cast<const int*>(dlens.get());
  p.partial_o = static_cast<float*>(dpo.get());
  p.partial_lse = static_cast<float*>(dpl.get());
  p.counters = static_cast<int*>(dcnt.get());
  p.q_batch_stride = QT * Hq * D;
  p.q_row_stride = Hq * D;
  p.q_head_stride = D;
  p.k_batch_stride = p.v_batch_stride = P ? P * row : maxL * row;
  p.k_row_stride = p.v_row_stride = row;
  p.k_head_stride = p.v_head_stride = D;
  p.o_batch_stride = QT * Hq * D;
  p.o_row_stride = Hq * D;
  p.o_head_stride = D;
  p.lse_batch_stride = Hq * QT;
  p.lse_head_stride = QT;
  p.block_table_stride = max_pages;
  p.batch = int(B);
  p.heads_q = int(Hq);
  p.heads_kv = int(Hkv);
  p.q_tokens = int(QT);
  p.seqlen_k = int(maxL);
  p.page_size = P;
  p.num_splits = splits;
  p.row_chunks = int(decode_row_chunks(spec, cfg));
  p.combine_group = c.run_one_level ? 0 : ws.combine_group;
  p.scale = float(1.0 / std::sqrt(double(D)));
  p.scale_log2 = float(1.0 / std::sqrt(double(D)) * 1.4426950408889634);
  if (fp8) {
    p.k_scale = static_cast<const float*>(dks.get());
    p.v_scale = static_cast<const float*>(dvs.get());
    p.kv_scale_stride = c.per_head_scale ? 1 : 0;
  }

  DecodeResult res;
  res.splits = splits;
  res.combine_group = ws.combine_group;
  std::vector<unsigned char> out_bytes(o_elems * esz);
  res.lse.assign(lse_elems, 0.f);
  for (int launch = 0; launch < c.launches; ++launch) {
    if (launch > 0) {  // re-poison so the second launch must write everything again
      backend.fill_bytes(dout.get(), 0xff, o_elems * esz);
      backend.fill_bytes(dlse.get(), 0xff, lse_elems * 4);
    }
    if (mods) {  // the user-mods kernels' parameter block: aux<int>(0), aux<float>(1)
      DecodeModParamsT<UserModParams> mp{};
      static_cast<DecodeParams&>(mp) = p;
      mp.alibi_slopes = c.alibi ? static_cast<const float*>(dslopes.get()) : nullptr;
      mp.alibi_batch_stride = slope_stride;
      mp.sinks = c.sink ? static_cast<const float*>(dsinks.get()) : nullptr;
      mp.user.aux[0] = daux_i.get();
      mp.user.aux_size[0] = int64_t(c.user.aux_i32.size());
      mp.user.aux[1] = daux_f.get();
      mp.user.aux_size[1] = int64_t(c.user.aux_f32.size());
      backend.launch(*kernel, geo, &mp, sizeof mp);
    } else if (c.alibi || c.sink) {  // the variant kernels' parameter block
      DecodeVariantParams vp{};
      static_cast<DecodeParams&>(vp) = p;
      vp.alibi_slopes = c.alibi ? static_cast<const float*>(dslopes.get()) : nullptr;
      vp.alibi_batch_stride = slope_stride;
      vp.sinks = c.sink ? static_cast<const float*>(dsinks.get()) : nullptr;
      backend.launch(*kernel, geo, &vp, sizeof vp);
    } else {
      backend.launch(*kernel, geo, &p, sizeof p);
    }
    backend.synchronize();
  }
  backend.copy_to_host(out_bytes.data(), dout.get(), out_bytes.size());
  backend.copy_to_host(res.lse.data(), dlse.get(), lse_elems * 4);
  res.o.resize(o_elems);
  for (size_t i = 0; i < o_elems; ++i) res.o[i] = load_as_float(c.dtype, out_bytes.data(), int64_t(i));
  if (ws.counter_bytes > 0) {  // the last split must have reset every counter it used
    std::vector<int32_t> cnt(size_t(ws.counter_bytes / 4));
    backend.copy_to_host(cnt.data(), dcnt.get(), ws.counter_bytes);
    for (size_t i = 0; i < cnt.size(); ++i) EXPECT_EQ(cnt[i], 0) << "counter " << i << " not reset; " << c.describe();
  }

  ReferenceProblem rp;
  rp.batch = B;
  rp.heads_q = Hq;
  rp.heads_kv = Hkv;
  rp.seqlen_q = QT;
  rp.seqlen_k = maxL;
  rp.head_dim = D;
  rp.mask = c.mask;
  rp.softcap = c.softcap;
  rp.seqlens_k = c.seqlens;
  if (c.alibi) {
    rp.alibi_slopes.assign(slopes.begin(), slopes.end());
    rp.alibi_batch_stride = slope_stride;
  }
  if (c.sink) rp.sinks.assign(sinks.begin(), sinks.end());
  rp.score_mod = c.user.score_ref;  // independent C++ lambdas (the snippets' meaning)
  rp.mask_mod = c.user.mask_ref;
  res.ref_o.resize(o_elems);
  res.ref_lse.resize(lse_elems);
  reference_attention(rp, q.data(), k.data(), v.data(), res.ref_o.data(), res.ref_lse.data());
  for (size_t i = 0; i < o_elems; ++i) {
    if (std::isnan(res.o[i])) ++res.nan_count;
    else res.max_abs_err = std::max(res.max_abs_err, std::abs(double(res.o[i]) - res.ref_o[i]));
  }
  if (c.with_lse)
    for (size_t i = 0; i < lse_elems; ++i) {
      const double got = res.lse[i], want = res.ref_lse[i];
      if (std::isnan(got)) {
        ++res.nan_count;
      } else if (std::isinf(want)) {
        if (got != want) res.max_lse_err = std::numeric_limits<double>::infinity();
      } else {
        res.max_lse_err = std::max(res.max_lse_err, std::abs(got - want) / std::max(1.0, std::abs(want)));
      }
    }
  return res;
}

// Runs the case and checks it against the reference (the common assertion of every e2e test).
inline DecodeResult expect_decode_matches(Backend& backend, const DecodeCase& c) {
  DecodeResult r = run_decode_case(backend, c);
  EXPECT_EQ(r.nan_count, 0) << c.describe();
  EXPECT_LE(r.max_abs_err, output_tolerance(c.dtype)) << c.describe() << " (splits " << r.splits << ")";
  EXPECT_LE(r.max_lse_err, 1e-4) << c.describe() << " (splits " << r.splits << ")";
  return r;
}

}  // namespace attnjit::testing
