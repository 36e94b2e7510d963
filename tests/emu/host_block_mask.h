// A case's variant tensors in host memory, where the emulator's kernels read them: ALiBi slopes,
// sinks, the snippets' aux tensors and the block mask (FlexAttention's BlockMask, built with the
// CPU backend's builder). Shared by the sm80 and sm90 emulator harnesses.
#pragma once

#include <memory>
#include <vector>

#include "attnjit/block_mask.h"
#include "attnjit/runtime.h"
#include "attnjit/tensors.h"
#include "common/gpu_test_util.h"
#if defined(ATTNJIT_WITH_LLVM)
#include "runtime/cpu/cpu_backend.h"
#endif

namespace attnjit::emu_test {

// BackendError without LLVM (the builder is a JIT-compiled CPU kernel).
inline BlockMask host_block_mask(const PrefillProblem& p, const AuxTensor (&aux)[kMaxAux], int tile) {
#if defined(ATTNJIT_WITH_LLVM)
  static std::unique_ptr<Runtime> rt = [] {
    CpuBackendOptions o;
    o.use_disk_cache = false;
    return std::make_unique<Runtime>(make_cpu_backend(o));
  }();
  return build_block_mask(*rt, p, aux, tile);
#else
  (void)p, (void)aux, (void)tile;
  throw BackendError("block masks in host memory need the CPU backend (LLVM)");
#endif
}

// Points a's variant tensors at host copies of the case's (kept alive by this object).
struct HostVariants {
  std::vector<float> slopes_sinks;
  std::vector<int32_t> aux_i32;
  std::vector<float> aux_f32;
  BlockMask block_mask;

  void attach(const testing::PrefillCase& c, const testing::PrefillData& x, PrefillArgs& a) {
    slopes_sinks = x.slopes;
    slopes_sinks.insert(slopes_sinks.end(), x.sinks.begin(), x.sinks.end());
    testing::attach_variants(x, slopes_sinks.data(), a);
    aux_i32 = c.user.aux_i32;
    aux_f32 = c.user.aux_f32;
    a.aux[0] = {aux_i32.data(), AuxType::I32, static_cast<int64_t>(aux_i32.size())};
    a.aux[1] = {aux_f32.data(), AuxType::F32, static_cast<int64_t>(aux_f32.size())};
    if (c.user.block_sparse > 0) {
      block_mask = host_block_mask(a.problem, a.aux, c.user.block_sparse);
      a.block_mask = block_mask.view;
    }
  }
};

}  // namespace attnjit::emu_test
