// Shared by the prefill_sm80 compile checks (default run) and the full sweep: compiles a set
// of (spec, config, target) jobs through NVRTC on a few threads and checks each kernel's
// resources and PTX. No GPU needed; skipped when NVRTC cannot be opened.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>
#include <vector>

#include "codegen/kernel_template.h"
#include "runtime/nvrtc_compiler.h"
#include "common/prefill_problem.h"

namespace attnjit {

const KernelTemplate& prefill_sm80_template();

namespace testing {

struct CompileJob {
  ProblemSpec spec;
  TileConfig cfg;
  Target target;
  bool require_no_spill = true;
};

struct CompileOutcome {
  std::string error;  // empty when every check passed
  double compile_ms = 0;
  ResourceUsage res;
};

inline std::string job_name(const CompileJob& j) {
  return j.spec.key() + "/" + j.cfg.key() + "/" + j.target.key();
}

// Compiles one job and checks: NVRTC succeeds, the kernel's PTX uses mma.sync, ldmatrix and
// cp.async (the tensor-core path was not optimized away), shared memory (dynamic + static)
// fits the target, and no spills when required.
inline CompileOutcome compile_and_check(const CompileJob& j) {
  CompileOutcome out;
  try {
    const KernelTemplate& t = prefill_sm80_template();
    const KernelSource src = t.render(j.spec, j.cfg, j.target);
    const NvrtcResult r = Nvrtc::get().compile(src, /*want_cubin=*/true, /*want_ptx=*/true);
    out.compile_ms = r.compile_ms;
    out.res = r.resources;
    std::string err;
    for (const char* insn : {"mma.sync.aligned.m16n8k16", "ldmatrix.sync.aligned", "cp.async.cg"})
      if (r.ptx.find(insn) == std::string::npos) err += std::string(" PTX lacks ") + insn + ";";
    if (r.cubin.empty()) err += " empty CUBIN;";
    RunShape shape;
    shape.heads_q = j.spec.group;
    shape.heads_kv = 1;
    shape.seqlen_q = shape.seqlen_k = 1024;
    if (j.spec.varlen) shape.total_q = 1024;  // varlen grids count packed rows
    const LaunchGeometry g = t.geometry(j.spec, j.cfg, j.target, shape);
    const int64_t smem = int64_t{g.dynamic_smem} + r.resources.smem_static_bytes;
    if (smem > j.target.smem_per_block)
      err += " shared memory " + std::to_string(smem) + " > " + std::to_string(j.target.smem_per_block) + ";";
    if (r.resources.registers <= 0 || r.resources.registers > 255)
      err += " registers " + std::to_string(r.resources.registers) + " not parsed / out of range;";
    if (j.require_no_spill && (r.resources.spill_store_bytes || r.resources.spill_load_bytes))
      err += " spills " + std::to_string(r.resources.spill_store_bytes) + "/" +
             std::to_string(r.resources.spill_load_bytes) + " bytes;";
    out.error = err;
  } catch (const std::exception& e) {
    out.error = std::string(" ") + e.what();
  }
  return out;
}

// Worker threads: ATTNJIT_COMPILE_THREADS, else 2 (the CI machines have 2 cores).
inline unsigned compile_threads() {
  if (const char* s = std::getenv("ATTNJIT_COMPILE_THREADS")) {
    const int n = std::atoi(s);
    if (n >= 1 && n <= 256) return static_cast<unsigned>(n);
  }
  return 2;
}

// Runs every job, reports each failure as a test failure, prints timing. Returns the outcomes.
inline std::vector<CompileOutcome> run_compile_jobs(const std::vector<CompileJob>& jobs,
                                                    const char* label) {
  std::vector<CompileOutcome> outs(jobs.size());
  std::atomic<size_t> next{0};
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::future<void>> workers;
  for (unsigned w = 0; w < compile_threads(); ++w)
    workers.push_back(std::async(std::launch::async, [&] {
      for (size_t i; (i = next++) < jobs.size();) outs[i] = compile_and_check(jobs[i]);
    }));
  for (auto& f : workers) f.get();
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::vector<double> ms;
  size_t spilling = 0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (!outs[i].error.empty()) ADD_FAILURE() << job_name(jobs[i]) << ":" << outs[i].error;
    if (outs[i].compile_ms > 0) ms.push_back(outs[i].compile_ms);
    if (outs[i].res.spill_store_bytes || outs[i].res.spill_load_bytes) ++spilling;
  }
  std::sort(ms.begin(), ms.end());
  if (!ms.empty()) {
    double total = 0;
    for (double m : ms) total += m;
    std::printf("[ %-8s ] %zu kernels, cold NVRTC compile ms: min %.0f, median %.0f, max %.0f, "
                "sum %.1f s; wall %.1f s on %u threads; %zu with spills\n",
                label, jobs.size(), ms.front(), ms[ms.size() / 2], ms.back(), total / 1000,
                wall_s, compile_threads(), spilling);
  }
  return outs;
}

#define ATTNJIT_REQUIRE_NVRTC()                                                 \
  do {                                                                          \
    std::string why_;                                                           \
    if (!::attnjit::Nvrtc::available(&why_)) GTEST_SKIP() << "NVRTC unavailable: " << why_; \
  } while (0)

inline const MaskSpec* compile_masks() {
  static const MaskSpec m[] = {{MaskKind::None, 0, 0}, {MaskKind::Causal, 0, 0},
                               {MaskKind::SlidingWindow, 256, 0}};
  return m;
}
inline constexpr int kCompileMaskCount = 3;

inline ProblemSpec compile_spec(DType dt, int hd, const MaskSpec& m, bool even) {
  return testing::make_prefill_spec(dt, hd, m, 1, 1024, even);
}

}  // namespace testing
}  // namespace attnjit
