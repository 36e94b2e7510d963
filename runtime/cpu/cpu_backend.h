// CpuBackend: attnjit::Backend on the host CPU. Kernels are C++ sources compiled in process by
// clang (runtime/cpu/cpu_compiler.h) and JIT-linked with ORC (runtime/cpu/cpu_jit.h); memory is
// host memory; launches are synchronous and spread work items over a thread pool.
//
// Launch geometry on the CPU: grid[0] * grid[1] * grid[2] work items, block[0] worker threads
// (0 = 1). The kernel's entry (CpuEntry) is called with the params pointer and ranges of items.
// A launch whose work, by the same kernel's previous launch, is under ~20 us runs on the calling
// thread alone (CpuBackendOptions::inline_below_ns).
//
// Caches: in memory by KernelSource::hash (each kernel compiled once per process, concurrent
// callers wait for one compile); on disk (runtime/disk_cache.h, namespace "cpu-obj") as the
// object file, keyed by source hash + LLVM version + triple + host CPU name, so a second process
// links the cached object without compiling (CompiledKernel::from_disk_cache, compile_ms = 0).
// Built only with ATTNJIT_WITH_LLVM.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "runtime/backend.h"

namespace attnjit {

struct CpuBackendOptions {
  // Disk cache root ("" = default_cache_dir(); the backend runs without a disk cache when no
  // directory can be determined). Objects go to <root>/cpu-obj/.
  std::filesystem::path cache_dir;
  bool use_disk_cache = true;
  // Debug: write <hash>.ll (optimised IR) and <hash>.s (assembly) of every kernel compiled
  // here into this folder. "" = $ATTNJIT_CPU_DUMP_DIR if set, else off.
  std::filesystem::path dump_dir;
  // Keep the IR and assembly text on each compiled kernel (CpuCompiledKernel::ir / asm_text).
  bool keep_asm = false;
  // Worker threads besides the caller; -1 = hardware threads - 1.
  int workers = -1;
  // A launch whose work, by the same kernel's previous launch, is below this (ns) runs on the
  // calling thread: the pool's wake-up and join would cost more than they save. 0 = always pool.
  // On the 2-core VM two 10 us items took 24 us through the pool against 20.5 us on the caller
  // (bench/RESULTS.md, Python section).
  int64_t inline_below_ns = 20000;
};

Target host_cpu_target();

std::unique_ptr<Backend> make_cpu_backend(const CpuBackendOptions& options = {});

// What the CPU backend's get_kernel returns (dynamic_cast a CompiledKernel to read it).
struct CpuCompiledKernel : CompiledKernel {
  std::string ir;        // only with CpuBackendOptions::keep_asm and a fresh compile
  std::string asm_text;  // likewise
  struct Impl;
  std::shared_ptr<Impl> impl;  // the JIT module and its entry
};

// Counters of one CPU backend, for tests and diagnostics.
struct CpuBackendStats {
  uint64_t compiles = 0;         // clang invocations
  uint64_t disk_hits = 0;        // objects linked from the disk cache
  uint64_t disk_rejected = 0;    // cached objects that failed to link (removed, recompiled)
  uint64_t inline_launches = 0;  // launches of several items run on the caller alone (too small for the pool)
};
// Throws BackendError if `b` is not a CPU backend.
CpuBackendStats cpu_backend_stats(const Backend& b);

}  // namespace attnjit
