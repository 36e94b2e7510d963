// DeviceInfo: the identity of one machine that tuning results were measured on.
//
// Results are keyed by the device *fingerprint*, a content hash over every identifying field
// (target, name, compute capability, SM count, memory, driver and compiler versions, CPU ISA),
// so a driver or NVRTC upgrade starts a fresh device row instead of silently reusing configs
// measured under another compiler. The target key ("sm_90a", "cpu-icelake-client", see
// codegen/target.h) groups devices of one arch for the SameArch lookup fallback.
#pragma once

#include <cstdint>
#include <string>

#include "codegen/target.h"

namespace attnjit {

struct DeviceInfo {
  std::string target;            // Target::key(): "sm_90a" | "cpu-icelake-client"
  std::string name;              // "NVIDIA H100 80GB HBM3" | CPU model string
  int cc_major = 0;              // GPU compute capability (0 for CPUs)
  int cc_minor = 0;
  int sm_count = 0;              // GPU SMs | CPU hardware threads
  int64_t memory_bytes = 0;      // GPU global memory | host RAM
  std::string driver_version;    // "580.65.06" | "" (CPUs)
  std::string compiler_version;  // Backend::compiler_version(): "nvrtc-13.0" | "llvm-14.0.6"
  std::string isa;               // CPU: LLVM feature string ("+avx2,+avx512f,..."); GPU: ""

  // 16 lowercase hex digits: XXH3-64 over the identifying fields above, in a fixed order.
  std::string fingerprint() const;
  bool is_cpu() const { return target.rfind("cpu-", 0) == 0; }

  // Fills target, name, cc, sm_count and isa from a Target; the rest from the arguments.
  static DeviceInfo from_target(const Target& t, std::string compiler_version,
                                std::string driver_version = {}, int64_t memory_bytes = 0);

  bool operator==(const DeviceInfo&) const = default;
};

}  // namespace attnjit
