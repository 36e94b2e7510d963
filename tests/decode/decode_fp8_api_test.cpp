// An fp8 KV cache through the public API: argument checks name the field (scales missing,
// given without fp8, not finite, misaligned; fp8 row strides on GPUs), and Runtime::decode on
// the CPU backend over e4m3 codes with per-head scales matches the same call on f32 K/V that
// hold the dequantised values (code * scale) — the kernel's dequantisation is exactly that.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "attnjit/attnjit.h"
#include "codegen/decode/arguments.h"
#include "runtime/fp8.h"

#ifdef ATTNJIT_WITH_LLVM
#include "runtime/cpu/cpu_backend.h"
#endif

namespace attnjit {
namespace {

// A contiguous decode call with f32 queries over an fp8 cache (host memory), and its f32 twin.
struct Fp8Call {
  static constexpr int64_t B = 2, Hkv = 2, G = 4, QT = 2, D = 64, L = 300;
  std::vector<float> q, o, o_twin, kf, vf, kscale{0.02f, 0.005f}, vscale{0.01f, 0.03f};
  std::vector<uint8_t> k8, v8;
  std::vector<int32_t> lens{300, 77};
  DecodeArgs args, twin;

  explicit Fp8Call(KvDType kind) {
    std::mt19937_64 rng(5);
    std::normal_distribution<float> nd(0.f, 1.f);
    q.resize(B * QT * Hkv * G * D);
    for (float& x : q) x = nd(rng);
    k8.resize(B * L * Hkv * D);
    v8.resize(k8.size());
    kf.resize(k8.size());
    vf.resize(k8.size());
    for (size_t i = 0; i < k8.size(); ++i) {
      const size_t h = (i / D) % Hkv;
      k8[i] = fp8_from_float(kind, nd(rng) * 20.f);
      v8[i] = fp8_from_float(kind, nd(rng) * 20.f);
      kf[i] = float(fp8_dequantize(kind, k8[i], kscale[h]));
      vf[i] = float(fp8_dequantize(kind, v8[i], vscale[h]));
    }
    o.assign(q.size(), std::numeric_limits<float>::quiet_NaN());
    o_twin = o;
    DecodeProblem& p = args.problem;
    p.dtype = DType::F32;
    p.head_dim = int(D);
    p.batch = B;
    p.heads_q = Hkv * G;
    p.heads_kv = Hkv;
    p.q_tokens = QT;
    p.max_seqlen_k = L;
    p.kv_capacity = L;
    p.mask.kind = MaskKind::Causal;
    twin.problem = p;
    p.kv_dtype = kind;
    args.q = twin.q = TensorView::bshd(q.data(), QT, Hkv * G, D);
    args.o = TensorView::bshd(o.data(), QT, Hkv * G, D);
    twin.o = TensorView::bshd(o_twin.data(), QT, Hkv * G, D);
    args.k = TensorView::bshd(k8.data(), L, Hkv, D);
    args.v = TensorView::bshd(v8.data(), L, Hkv, D);
    twin.k = TensorView::bshd(kf.data(), L, Hkv, D);
    twin.v = TensorView::bshd(vf.data(), L, Hkv, D);
    args.seqlens_k = twin.seqlens_k = lens.data();
    args.k_scale = kscale.data();
    args.v_scale = vscale.data();
    args.kv_scale_per_head = true;
  }
};

void expect_error(const DecodeArgs& a, Platform platform, const std::string& field) {
  try {
    make_decode_params(a, platform);
    ADD_FAILURE() << "no error for " << field;
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
  }
}

TEST(DecodeFp8Api, ValidationNamesTheField) {
  Fp8Call c(KvDType::E4M3);
  EXPECT_NO_THROW(make_decode_params(c.args, Platform::Cpu));
  DecodeParams p = make_decode_params(c.args, Platform::Cpu);
  EXPECT_EQ(p.k_scale, c.kscale.data());
  EXPECT_EQ(p.kv_scale_stride, 1);
  EXPECT_EQ(decode_spec(c.args.problem).key(), "decode_f32_hd64_causal_g4_q2_k512_p0_kv-e4m3");
  DecodeArgs a = c.args;
  a.k_scale = nullptr;
  expect_error(a, Platform::Cpu, "k_scale");
  a = c.args;
  a.v_scale = nullptr;
  expect_error(a, Platform::Cpu, "v_scale");
  a = c.twin;  // K/V in the query's dtype take no scales
  a.k_scale = c.kscale.data();
  expect_error(a, Platform::Cpu, "k_scale");
  a = c.twin;
  a.kv_scale_per_head = true;
  expect_error(a, Platform::Cpu, "kv_scale_per_head");
  std::vector<float> bad{1.f, std::numeric_limits<float>::infinity()};
  a = c.args;
  a.v_scale = bad.data();
  expect_error(a, Platform::Cpu, "v_scale[1]");
  a.kv_scale_per_head = false;  // one scale per tensor: only [0] is read
  EXPECT_NO_THROW(make_decode_params(a, Platform::Cpu));
  a = c.args;
  a.k_scale = reinterpret_cast<const float*>(reinterpret_cast<const char*>(c.kscale.data()) + 1);
  expect_error(a, Platform::Cpu, "k_scale");
  // fp8 rows are 1-byte elements: strides need 16 elements for the GPU's 16-byte copies.
  a = c.args;
  a.k.seq_stride = Fp8Call::Hkv * Fp8Call::D + 8;
  EXPECT_NO_THROW(make_decode_params(a, Platform::Cpu));
  expect_error(a, Platform::Cuda, "k.seq_stride");
}

#ifdef ATTNJIT_WITH_LLVM
TEST(DecodeFp8Api, CpuRuntimeMatchesTheDequantisedTwin) {
  CpuBackendOptions o;
  o.use_disk_cache = false;
  Runtime rt(make_cpu_backend(o));
  for (KvDType kind : {KvDType::E4M3, KvDType::E5M2}) {
    Fp8Call c(kind);
    rt.decode(c.args);
    rt.decode(c.twin);
    double worst = 0;
    for (size_t i = 0; i < c.o.size(); ++i) {
      ASSERT_FALSE(std::isnan(c.o[i])) << i;
      worst = std::max(worst, double(std::abs(c.o[i] - c.o_twin[i])));
    }
    EXPECT_LE(worst, 2e-5) << to_string(kind);
    EXPECT_GT(std::abs(c.o[0]), 0.f);
  }
}
#endif

}  // namespace
}  // namespace attnjit
