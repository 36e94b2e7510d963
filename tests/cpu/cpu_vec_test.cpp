// templates/common/cpu_vec.h, JIT-compiled for this host as the kernels are: vexp2's accuracy over
// the whole range the softmax feeds it, its exact zero at and below -127, and vmax's lanes.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "codegen/cpu_template.h"
#include "codegen/embedded_templates.h"
#include "runtime/cpu/cpu_compiler.h"
#include "runtime/cpu/cpu_jit.h"

namespace attnjit::test {
namespace {

struct VecParams {
  const float* x;
  const float* y;
  float* out;
  int op;  // 0: vexp2(x), 1: vmax(x, y), 2: vexp2_bf16(x)
};

// The kernels' clang options (protected: only templates render sources).
struct KernelOptions : CpuKernelTemplate {
  using CpuKernelTemplate::compile_options;
};

// Items are vectors of the host's widest lanes: out[i] for i in [item * V, item * V + V).
class CpuVecKernel {
 public:
  CpuVecKernel() {
    const Target target = host_cpu_target();
    lanes_ = std::max(4, target.vector_bits / 32);
    KernelSource s;
    s.platform = Platform::Cpu;
    s.name = "test/cpu_vec";
    s.entry = "attnjit_test_cpu_vec";
    s.text = "#include \"common/cpu_vec.h\"\n"
             "using namespace attnjit::cpu;\n"
             "typedef Vec<" + std::to_string(lanes_) + "> W;\n"
             "struct P { const float* x; const float* y; float* out; int op; };\n"
             "extern \"C\" void attnjit_test_cpu_vec(const void* pv, long long b, long long e) {\n"
             "  const P& p = *(const P*)pv;\n"
             "  for (long long i = b; i < e; ++i) {\n"
             "    W::F x, y;\n"
             "    __builtin_memcpy(&x, p.x + i * sizeof(W::F) / 4, sizeof(x));\n"
             "    __builtin_memcpy(&y, p.y + i * sizeof(W::F) / 4, sizeof(y));\n"
             "    const W::F r = p.op == 0 ? vexp2<W::F, W::I>(x) : p.op == 2 ? vexp2_bf16<W::F, W::I>(x) : vmax(x, y);\n"
             "    __builtin_memcpy(p.out + i * sizeof(W::F) / 4, &r, sizeof(r));\n"
             "  }\n"
             "}\n";
    s.headers = templates::headers("common/cpu_vec.h");
    s.options = KernelOptions::compile_options(target);
    s.arch = target.arch;
    s.finalize();
    const CpuCompileResult r = compile_cpu_kernel(s);
    EXPECT_EQ(r.log, "") << "cpu_vec.h compiles with warnings";
    module_ = std::make_unique<CpuJitModule>(r.object, s.entry, s.name);
  }
  // op over x (and y), padded to whole vectors.
  std::vector<float> run(int op, std::vector<float> x, std::vector<float> y = {}) {
    const size_t n = x.size();
    const size_t padded = (n + lanes_ - 1) / lanes_ * lanes_;
    x.resize(padded, 0.f);
    y.resize(padded, 0.f);
    std::vector<float> out(padded, std::numeric_limits<float>::quiet_NaN());
    const VecParams p{x.data(), y.data(), out.data(), op};
    module_->entry()(&p, 0, static_cast<long long>(padded / lanes_));
    out.resize(n);
    return out;
  }

 private:
  int lanes_ = 4;
  std::unique_ptr<CpuJitModule> module_;
};

// Worst relative error of op (0 or 2) against exp2 in double over [-126, 127].
double exp2_worst(CpuVecKernel& k, int op, float& at) {
  // Dense over [-126, 127], plus every integer and half-integer (where k's rounding flips).
  std::vector<float> x;
  for (int i = 0; i <= 253 * 1000; ++i) x.push_back(-126.f + i * 0.001f);
  for (int i = -252; i <= 254; ++i) x.push_back(i * 0.5f);
  for (float v : {-1e-7f, 1e-7f, -0.49999997f, 0.49999997f, 126.99999f}) x.push_back(v);
  const std::vector<float> y = k.run(op, x);
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i] < -126.f || x[i] > 127.f) continue;
    const double ref = std::exp2(static_cast<double>(x[i]));
    const double rel = std::fabs(y[i] - ref) / ref;
    if (!(rel <= worst)) {
      worst = rel;
      at = x[i];
    }
  }
  return worst;
}

TEST(CpuVec, Exp2AccurateOverTheSoftmaxRange) {
  CpuVecKernel k;
  float at = 0;
  const double worst = exp2_worst(k, 0, at);
  // Within one float ulp (2^-23 = 1.19e-7 relative; measured 6.5e-8): a scale off by one ulp or a
  // k rounded the wrong way fails.
  EXPECT_LE(worst, 1.19e-7) << "at x = " << at;
}

TEST(CpuVec, Exp2ForBf16ProbabilitiesIsWellBelowBf16Rounding) {
  // vexp2_bf16 (degree 5, for P rounded to bf16 by the AMX kernels): measured 2.4e-6, against
  // bf16's 2^-9 = 2e-3; degree 4 would be 4e-5, a wrong coefficient far more.
  CpuVecKernel k;
  float at = 0;
  const double worst = exp2_worst(k, 2, at);
  EXPECT_LE(worst, 4e-6) << "at x = " << at;
  EXPECT_GE(worst, 1e-7) << "no less exact than it says";
}

TEST(CpuVec, Exp2IsExactlyZeroAtAndBelowMinus127) {
  CpuVecKernel k;
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> x = {-127.f, -127.25f, -128.f, -1000.f, -3.4e38f, -inf};
  for (int op : {0, 2}) {
    for (float y : k.run(op, x)) {
      EXPECT_EQ(y, 0.f);
      EXPECT_FALSE(std::signbit(y));
    }
    // One step above: 2^-126 times the polynomial at 0 (1), a normal float.
    EXPECT_FLOAT_EQ(k.run(op, {-126.f})[0], std::ldexp(1.f, -126));
    EXPECT_EQ(k.run(op, {0.f})[0], 1.f);
  }
}

TEST(CpuVec, MaxPicksTheLargerLaneAndMinusInfinityLoses) {
  CpuVecKernel k;
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> a = {1.f, -2.f, -inf, 3.f, -inf, 0.f, -0.5f, 7.f};
  const std::vector<float> b = {2.f, -3.f, 4.f, -inf, -inf, -1.f, -0.25f, 7.f};
  const std::vector<float> m = k.run(1, a, b);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(m[i], std::max(a[i], b[i])) << "lane " << i;
}

}  // namespace
}  // namespace attnjit::test
