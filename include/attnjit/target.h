// Target: the machine a kernel is generated for — a CUDA arch or a host CPU — with the limits
// that can_implement() checks before anything is compiled.
//
// key(): "sm_80", "sm_86", "sm_89", "sm_90a" for GPUs (the NVRTC arch name);
//        "cpu-<llvm cpu name>" for CPUs, e.g. "cpu-icelake-client", so tuning results from
//        different CPUs never mix. The device's own identity (name, SM count, driver) is the
//        database's device fingerprint, not part of this key.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "attnjit/types.h"

namespace attnjit {

struct Target {
  Platform platform = Platform::Cuda;
  std::string arch;            // "sm_90a" | LLVM CPU name, e.g. "icelake-client"
  std::string device_name;     // "NVIDIA H100 80GB HBM3" | CPU model string ("" if unknown)
  int cc_major = 0, cc_minor = 0;   // GPU compute capability
  int sm_count = 0;                 // GPU SMs | CPU hardware threads
  int64_t smem_per_block = 0;       // GPU: max dynamic shared memory per block (opt-in), bytes
  int64_t smem_per_sm = 0;          // GPU: shared memory per SM, bytes
  int regs_per_sm = 65536;
  int max_regs_per_thread = 255;
  int max_threads_per_block = 1024;
  std::string cpu_features;         // CPU: LLVM feature string, e.g. "+avx2,+avx512f,..."
  int vector_bits = 0;              // CPU: widest SIMD register in bits (128/256/512)

  std::string key() const;

  // The built-in table of GPU archs we generate for. Throws SpecError listing the allowed
  // archs for an unknown name. Accepts "sm_90" as "sm_90a".
  static Target cuda(std::string_view arch);
  // Every GPU arch we generate for, in order.
  static const std::vector<std::string>& cuda_archs();
  // A CPU target with the given LLVM CPU name (the host's is found by the CPU backend).
  static Target cpu(std::string_view cpu_name, std::string features = {}, int vector_bits = 256);
};

}  // namespace attnjit
