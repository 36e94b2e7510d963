// Every fp8 code through the CPU decode kernel's in-register dequantisation, exactly: one key per
// sequence makes the output that key's value row (softmax of one score is 1, scale 1), and each
// finite e4m3 / e5m2 value is exact in f32, f16 and bf16 outputs. Two sequences of 128 values
// hold all 256 codes; the three query dtypes cover both lane orders (f32 / f16: halves of a
// segment; bf16: even / odd elements). NaN codes (and e5m2 infinities) are left out: the kernel
// does not promise them.
#ifdef ATTNJIT_WITH_LLVM

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "attnjit/attnjit.h"
#include "runtime/cpu/cpu_backend.h"
#include "runtime/fp8.h"
#include "runtime/half.h"

namespace attnjit {
namespace {

TEST(DecodeFp8Codes, EveryFiniteCodeDequantisesExactly) {
  CpuBackendOptions opts;
  opts.use_disk_cache = false;
  Runtime rt(make_cpu_backend(opts));
  constexpr int64_t B = 2, D = 128;
  for (KvDType kind : {KvDType::E4M3, KvDType::E5M2})
    for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
      const int eb = dtype_bytes(dt);
      std::vector<unsigned char> q(B * D * eb, 0), o(B * D * eb, 0xff);  // q = 0: every score 0
      std::vector<uint8_t> k(B * D, 0), v(B * D);
      for (int64_t i = 0; i < B * D; ++i) v[size_t(i)] = uint8_t(i);  // sequence b, element d: code b*128+d
      std::vector<int32_t> lens{1, 1};
      std::vector<float> one{1.f};
      DecodeArgs a;
      DecodeProblem& p = a.problem;
      p.dtype = dt;
      p.head_dim = int(D);
      p.batch = B;
      p.heads_q = 1;
      p.heads_kv = 1;
      p.q_tokens = 1;
      p.max_seqlen_k = 1;
      p.kv_capacity = 1;
      p.kv_dtype = kind;
      a.q = TensorView::bshd(q.data(), 1, 1, D);
      a.o = TensorView::bshd(o.data(), 1, 1, D);
      a.k = TensorView::bshd(k.data(), 1, 1, D);
      a.v = TensorView::bshd(v.data(), 1, 1, D);
      a.seqlens_k = lens.data();
      a.k_scale = a.v_scale = one.data();
      rt.decode(a);
      int checked = 0;
      for (int c = 0; c < 256; ++c) {
        if (!fp8_is_finite(kind, uint8_t(c))) continue;
        const double want = fp8_to_double(kind, uint8_t(c));
        EXPECT_EQ(double(load_as_float(dt, o.data(), c)), want)
            << to_string(kind) << " code " << c << " through " << to_string(dt) << " queries";
        ++checked;
      }
      EXPECT_EQ(checked, kind == KvDType::E4M3 ? 254 : 248);
    }
}

}  // namespace
}  // namespace attnjit

#endif
