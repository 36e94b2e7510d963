// An application of an installed attnjit: one causal GQA prefill on the CPU backend, checked
// against this file's own float64 attention (so the package, not attnjit's tests, is judged).
#include <attnjit/attnjit.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

namespace {

constexpr int kB = 1, kHq = 4, kHkv = 2, kSq = 19, kSk = 23, kD = 32;

double reference(const std::vector<float>& q, const std::vector<float>& k,
                 const std::vector<float>& v, int h, int i, int d) {
  const int hk = h / (kHq / kHkv);
  const int last = i + kSk - kSq;  // bottom-right aligned causal: keys <= last
  std::vector<double> s(kSk);
  double mx = -INFINITY;
  for (int j = 0; j <= last; ++j) {
    double dot = 0;
    for (int e = 0; e < kD; ++e) dot += double(q[(i * kHq + h) * kD + e]) * k[(j * kHkv + hk) * kD + e];
    s[j] = dot / std::sqrt(double(kD));
    mx = std::max(mx, s[j]);
  }
  double num = 0, den = 0;
  for (int j = 0; j <= last; ++j) {
    const double p = std::exp(s[j] - mx);
    den += p;
    num += p * v[(j * kHkv + hk) * kD + d];
  }
  return num / den;
}

}  // namespace

int main() {
  std::vector<float> q(kB * kSq * kHq * kD), k(kB * kSk * kHkv * kD), v(k.size());
  std::vector<float> o(q.size(), std::numeric_limits<float>::quiet_NaN());
  unsigned x = 12345;
  for (auto* t : {&q, &k, &v})
    for (float& e : *t) e = float((x = x * 1664525u + 1013904223u) >> 8) / float(1 << 24) - 0.5f;

  attnjit::RuntimeOptions opts;
  opts.disk_cache = false;
  auto rt = attnjit::Runtime::create(attnjit::BackendKind::Cpu, opts);
  attnjit::PrefillArgs a;
  a.problem = {.dtype = attnjit::DType::F32, .head_dim = kD, .mask = {attnjit::MaskKind::Causal},
               .batch = kB, .heads_q = kHq, .heads_kv = kHkv, .seqlen_q = kSq, .seqlen_k = kSk};
  a.q = attnjit::TensorView::bshd(q.data(), kSq, kHq, kD);
  a.k = attnjit::TensorView::bshd(k.data(), kSk, kHkv, kD);
  a.v = attnjit::TensorView::bshd(v.data(), kSk, kHkv, kD);
  a.o = attnjit::TensorView::bshd(o.data(), kSq, kHq, kD);
  rt->prefill(a);

  double worst = 0;
  for (int i = 0; i < kSq; ++i)
    for (int h = 0; h < kHq; ++h)
      for (int d = 0; d < kD; ++d) {
        const double got = o[(i * kHq + h) * kD + d];
        const double err = std::fabs(got - reference(q, k, v, h, i, d));
        if (!(err <= worst)) worst = std::isnan(err) ? INFINITY : err;
      }
  const attnjit::PreparedKernel pk = rt->prepare_prefill(a.problem);
  std::printf("consumer: %s with %s on %s: max abs error %.3g\n", pk.spec.key().c_str(),
              pk.config.key().c_str(), rt->target().key().c_str(), worst);
  return worst < 1e-4 ? 0 : 1;
}
