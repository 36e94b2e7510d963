// Runs the FA3-shaped sm_90a test kernel of tests/emu (sm90_fa3_kernel.cuh) on the GPU for one
// shape and compares O with a float64 reference on the same bf16 inputs: the device half of the
// proof that the emulator's verdict on that kernel holds. Usage: fa3_check <seqlen_q> <seqlen_k>
// <heads>; exit status 0 when max |error| < 0.03 and every output is finite.
#include <cuda.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "sm90_fa3_kernel.cuh"

namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "fa3_check: %s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}
void check(CUresult e, const char* what) {
  if (e != CUDA_SUCCESS) {
    const char* s = nullptr;
    cuGetErrorString(e, &s);
    std::fprintf(stderr, "fa3_check: %s: %s\n", what, s ? s : "?");
    std::exit(1);
  }
}
uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7fff + ((u >> 16) & 1);  // round to nearest even (inputs are finite)
  return static_cast<uint16_t>(u >> 16);
}
float from_bf16(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s <seqlen_q> <seqlen_k> <heads>\n", argv[0]);
    return 2;
  }
  const int sq = std::atoi(argv[1]), sk = std::atoi(argv[2]), heads = std::atoi(argv[3]);
  if (sq < 1 || sk < 1 || heads < 1) {
    std::fprintf(stderr, "fa3_check: seqlen_q, seqlen_k and heads must be positive\n");
    return 2;
  }
  using namespace attnjit::sm90_test;
  constexpr int d = kHeadDim;
  std::mt19937 rng(sq * 7 + sk);
  std::normal_distribution<float> nd(0.f, 1.f);
  auto make = [&](int seq) {
    std::vector<uint16_t> h(static_cast<size_t>(seq) * heads * d);
    for (auto& x : h) x = to_bf16(nd(rng));
    return h;
  };
  std::vector<uint16_t> q = make(sq), k = make(sk), v = make(sk), o(static_cast<size_t>(sq) * heads * d, 0x7fff);
  uint16_t *dq, *dk, *dv, *dout;
  check(cudaMalloc(&dq, q.size() * 2), "cudaMalloc");
  check(cudaMalloc(&dk, k.size() * 2), "cudaMalloc");
  check(cudaMalloc(&dv, v.size() * 2), "cudaMalloc");
  check(cudaMalloc(&dout, o.size() * 2), "cudaMalloc");
  check(cudaMemcpy(dq, q.data(), q.size() * 2, cudaMemcpyHostToDevice), "cudaMemcpy");
  check(cudaMemcpy(dk, k.data(), k.size() * 2, cudaMemcpyHostToDevice), "cudaMemcpy");
  check(cudaMemcpy(dv, v.data(), v.size() * 2, cudaMemcpyHostToDevice), "cudaMemcpy");
  check(cudaMemcpy(dout, o.data(), o.size() * 2, cudaMemcpyHostToDevice), "cudaMemcpy");
  // Layout [seq][head][d]; maps over (d, seq, head).
  auto encode = [&](attnjit::sm90::TensorMap* m, void* p, int seq, unsigned rows) {
    const cuuint64_t dims[3] = {d, static_cast<cuuint64_t>(seq), static_cast<cuuint64_t>(heads)};
    const cuuint64_t strides[2] = {static_cast<cuuint64_t>(heads) * d * 2, d * 2};
    const cuuint32_t box[3] = {d, rows, 1}, es[3] = {1, 1, 1};
    check(cuTensorMapEncodeTiled(reinterpret_cast<CUtensorMap*>(m), CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 3, p, dims,
                                 strides, box, es, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                                 CU_TENSOR_MAP_L2_PROMOTION_NONE, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE),
          "cuTensorMapEncodeTiled");
  };
  alignas(64) attnjit::sm90::TensorMap tq, tk, tv, to;
  encode(&tq, dq, sq, kBlockM);
  encode(&tk, dk, sk, kBlockN);
  encode(&tv, dv, sk, kBlockN);
  encode(&to, dout, sq, 64);
  auto kernel = fa3_test_kernel<Bf16>;
  check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes),
        "cudaFuncSetAttribute");
  const Fa3Params p{sq, sk, static_cast<float>(1.0 / std::sqrt(64.0) * 1.4426950408889634)};
  kernel<<<dim3((sq + kBlockM - 1) / kBlockM, heads), kThreads, kSmemBytes>>>(tq, tk, tv, to, p);
  check(cudaGetLastError(), "launch");
  check(cudaDeviceSynchronize(), "fa3_test_kernel");
  check(cudaMemcpy(o.data(), dout, o.size() * 2, cudaMemcpyDeviceToHost), "cudaMemcpy");

  double max_err = 0;
  bool finite = true;
  std::vector<double> s(sk);
  for (int h = 0; h < heads; ++h)
    for (int i = 0; i < sq; ++i) {
      double mx = -INFINITY, sum = 0;
      for (int j = 0; j < sk; ++j) {
        double dot = 0;
        for (int c = 0; c < d; ++c)
          dot += double(from_bf16(q[(size_t(i) * heads + h) * d + c])) * from_bf16(k[(size_t(j) * heads + h) * d + c]);
        s[j] = dot / 8.0;  // 1/sqrt(64)
        mx = std::max(mx, s[j]);
      }
      for (int j = 0; j < sk; ++j) sum += (s[j] = std::exp(s[j] - mx));
      for (int c = 0; c < d; ++c) {
        double ref = 0;
        for (int j = 0; j < sk; ++j) ref += s[j] * from_bf16(v[(size_t(j) * heads + h) * d + c]);
        ref /= sum;
        const double got = from_bf16(o[(size_t(i) * heads + h) * d + c]);
        if (!std::isfinite(got)) finite = false;
        max_err = std::max(max_err, std::abs(got - ref));
      }
    }
  const bool ok = finite && max_err < 0.03;
  std::printf("fa3_check sq %d sk %d heads %d: max |err| %.3e%s -> %s\n", sq, sk, heads, max_err,
              finite ? "" : " (non-finite outputs)", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
