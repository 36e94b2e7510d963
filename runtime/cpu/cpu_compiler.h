// The CPU compiler: a KernelSource (C++ text + in-memory headers + clang -cc1 options) compiled
// in process by clang's libraries to an optimised LLVM module for the host, then to an ELF
// object file in memory. No files are read except clang's resource headers; no libstdc++
// headers are visible to the kernel (cc1 adds no system include paths).
// Built only with ATTNJIT_WITH_LLVM.
#pragma once

#include <string>

#include "codegen/kernel_source.h"
#include "codegen/target.h"

namespace attnjit {

// The host as a Target: LLVM CPU name (llvm::sys::getHostCPUName), the LLVM feature string
// (sorted "+f"/"-f" list from getHostCPUFeatures), widest vector register, hardware threads
// (sm_count) and the CPU model string (/proc/cpuinfo) as device_name.
Target host_cpu_target();

// "14.0.6".
std::string llvm_version();
// The process triple, e.g. "x86_64-pc-linux-gnu".
std::string host_triple();

struct CpuCompileResult {
  std::string object;   // ELF relocatable object (the unit cached on disk and JIT-linked)
  std::string ir;       // optimised LLVM IR text, when asked for
  std::string asm_text; // host assembly, when asked for
  std::string log;      // clang's warnings (empty when clean)
  double compile_ms = 0;
};

struct CpuCompileRequest {
  bool want_ir = false;
  bool want_asm = false;
};

// Compiles `src` for the host CPU. Throws BackendError naming the kernel and carrying clang's
// diagnostics (file:line:col: error: ...) when the source does not compile, or the LLVM error
// when code generation fails. Thread-safe (each call has its own compiler instance).
CpuCompileResult compile_cpu_kernel(const KernelSource& src, const CpuCompileRequest& req = {});

}  // namespace attnjit
