// Runs the layout probes (sm90_probes.cuh) on an sm_90 GPU and writes the golden files of
// tests/emu/golden/ into the folder given as argv[1], marked `verified` with the GPU's name.
// Built and run by scripts/gpu-probes/run.sh (from scripts/gpu-check.sh sm90).
#include <cuda.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "probe_format.h"
#include "sm90_probes.cuh"

namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "probe: %s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}
void check(CUresult e, const char* what) {
  if (e != CUDA_SUCCESS) {
    const char* s = nullptr;
    cuGetErrorString(e, &s);
    std::fprintf(stderr, "probe: %s: %s\n", what, s ? s : "?");
    std::exit(1);
  }
}

void write(const std::string& dir, const std::string& name, const std::string& header, const std::string& body) {
  std::ofstream f(dir + "/" + name);
  f << header << body;
  if (!f) {
    std::fprintf(stderr, "probe: cannot write %s/%s\n", dir.c_str(), name.c_str());
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <output folder>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  using namespace attnjit::probes;
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  if (prop.major != 9) {
    std::fprintf(stderr, "probe: %s is sm_%d%d, not sm_90\n", prop.name, prop.major, prop.minor);
    return 1;
  }
  const std::string header = std::string("# verified: scripts/gpu-probes on ") + prop.name + "\n";

  // wgmma accumulator layout.
  float* d_acc = nullptr;
  check(cudaMalloc(&d_acc, 128 * 8 * sizeof(float)), "cudaMalloc");
  probe_wgmma_acc<<<1, 128, 16384>>>(d_acc);
  check(cudaDeviceSynchronize(), "probe_wgmma_acc");
  std::vector<float> acc(128 * 8);
  check(cudaMemcpy(acc.data(), d_acc, acc.size() * 4, cudaMemcpyDeviceToHost), "cudaMemcpy");
  write(dir, "wgmma_acc_m64n16.txt", header, format_wgmma_acc(acc.data(), 8));

  // TMA swizzles: g[r][c] = 256 r + c over 8 rows x 64 columns.
  std::vector<uint16_t> g(8 * 64);
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 64; ++c) g[r * 64 + c] = static_cast<uint16_t>(256 * r + c);
  uint16_t *d_g = nullptr, *d_img = nullptr;
  check(cudaMalloc(&d_g, g.size() * 2), "cudaMalloc");
  check(cudaMalloc(&d_img, 1024), "cudaMalloc");
  check(cudaMemcpy(d_g, g.data(), g.size() * 2, cudaMemcpyHostToDevice), "cudaMemcpy");
  const struct {
    unsigned span;
    CUtensorMapSwizzle sw;
  } modes[] = {{32, CU_TENSOR_MAP_SWIZZLE_32B}, {64, CU_TENSOR_MAP_SWIZZLE_64B}, {128, CU_TENSOR_MAP_SWIZZLE_128B}};
  for (const auto& m : modes) {
    alignas(64) attnjit::sm90::TensorMap map;
    const cuuint64_t dims[2] = {64, 8}, strides[1] = {128};
    const cuuint32_t box[2] = {m.span / 2, 8}, es[2] = {1, 1};
    check(cuTensorMapEncodeTiled(reinterpret_cast<CUtensorMap*>(&map), CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, d_g,
                                 dims, strides, box, es, CU_TENSOR_MAP_INTERLEAVE_NONE, m.sw,
                                 CU_TENSOR_MAP_L2_PROMOTION_NONE, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE),
          "cuTensorMapEncodeTiled");
    probe_tma_swizzle<<<1, 128, 8192>>>(map, m.span, d_img);
    check(cudaDeviceSynchronize(), "probe_tma_swizzle");
    std::vector<uint16_t> img(8 * m.span / 2);
    check(cudaMemcpy(img.data(), d_img, img.size() * 2, cudaMemcpyDeviceToHost), "cudaMemcpy");
    write(dir, "tma_swizzle_" + std::to_string(m.span) + "B.txt", header, format_tma_swizzle(img.data(), m.span));
  }

  // mbarrier phases.
  int* d_ph = nullptr;
  check(cudaMalloc(&d_ph, 2 * kMbarSteps * sizeof(int)), "cudaMalloc");
  probe_mbarrier<<<1, 128, 1024>>>(d_ph);
  check(cudaDeviceSynchronize(), "probe_mbarrier");
  std::vector<int> ph(2 * kMbarSteps);
  check(cudaMemcpy(ph.data(), d_ph, ph.size() * sizeof(int), cudaMemcpyDeviceToHost), "cudaMemcpy");
  write(dir, "mbarrier_phases.txt", header, format_mbarrier(ph.data(), kMbarSteps));
  std::printf("probe: wrote 5 golden files to %s (%s)\n", dir.c_str(), prop.name);
  return 0;
}
