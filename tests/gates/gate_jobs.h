// The (template, problem, config, arch) jobs of the compile gates and the runner that compiles
// them with NVRTC on a few threads and applies every gate (gate_checks.h). The default run takes
// the default config of one problem per (template, arch) plus a fixed-seed sample of the rest;
// the sweep takes every config of every problem (gates_sweep_test).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <map>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "codegen/kernel_template.h"
#include "codegen/registry.h"
#include "codegen/snippet.h"
#include "gates/gate_checks.h"
#include "gates/sass_dump.h"
#include "runtime/nvrtc_compiler.h"
#include "common/prefill_problem.h"

namespace attnjit::gates {

struct Job {
  const KernelTemplate* tmpl = nullptr;
  ProblemSpec spec;
  TileConfig cfg;
  Target target;
  std::string name() const {
    return std::string(tmpl->name()) + "/" + spec.key() + "/" + cfg.key() + "/" + target.key();
  }
};

// Problems each CUDA template is gated on: prefill over dtype x head dim x mask x evenness,
// decode over dtype x head dim x (MHA, GQA 8) x (contiguous, paged).
inline std::vector<ProblemSpec> gate_problems(bool full) {
  std::vector<ProblemSpec> out;
  const MaskSpec masks[] = {{MaskKind::None, 0, 0}, {MaskKind::Causal, 0, 0}, {MaskKind::SlidingWindow, 256, 0}};
  for (DType dt : {DType::BF16, DType::F16})
    for (int hd : kHeadDims) {
      for (const MaskSpec& m : masks)
        for (bool even : {false, true}) {
          out.push_back(testing::make_prefill_spec(dt, hd, m, 1, 1024, even));
        }
      // The score variants that add registers to the hot loop (ALiBi) or the epilogue (sinks),
      // and varlen batches (per-tile lengths, direct O stores) and paged K/V (a box per page).
      if (dt == DType::BF16)
        for (const MaskSpec& m : {masks[1], masks[2]}) {
          ProblemSpec v = testing::make_prefill_spec(dt, hd, m, 1, 1024);
          v.alibi = v.sink = true;
          out.push_back(v);
          ProblemSpec packed = testing::make_prefill_spec(dt, hd, m, 1, 1024);
          packed.varlen = true;
          out.push_back(packed);
          ProblemSpec paged = testing::make_prefill_spec(dt, hd, m, 1, 1024);
          paged.page_size = 16;
          out.push_back(paged);
          // User variants: a score_mod reading an aux table and a document mask_mod, dense and
          // block-sparse at 128.
          for (int bs : {0, 128}) {
            ProblemSpec user = testing::make_prefill_spec(dt, hd, m, 1, 1024);
            user.score_mod = register_snippet("return score + aux<float>(1)[h] - 0.0625f * (q_idx - kv_idx);", "score_mod");
            user.mask_mod = register_snippet("const int* doc = aux<int>(0);\nreturn doc[q_idx] == doc[kv_idx];", "mask_mod");
            user.block_sparse = bs;
            out.push_back(user);
          }
        }
      for (int group : {1, 8})
        for (int page : {0, 16})
          out.push_back(ProblemSpec::for_shape(Family::Decode, dt, hd, {}, 4 * group, 4, 1, 8192, page));
    }
  if (full) return out;
  // The default run: one representative per family (bf16, head dim 128, causal prefill).
  std::vector<ProblemSpec> few;
  for (const ProblemSpec& s : out)
    if (s.dtype == DType::BF16 && s.head_dim == 128 &&
        ((s.family == Family::Prefill && s.mask.kind == MaskKind::Causal && !s.even) ||
         (s.family == Family::Decode && s.page_size == 0)))
      few.push_back(s);
  return few;
}

// ATTNJIT_GATES_ONLY: an ECMAScript regex a job's name must contain, to run one template's part
// of the sweep (e.g. "^prefill_sm90/"); unset or empty = every job.
inline std::vector<Job> only_matching(std::vector<Job> jobs) {
  const char* only = std::getenv("ATTNJIT_GATES_ONLY");
  if (!only || !*only) return jobs;
  const std::regex re(only);
  jobs.erase(std::remove_if(jobs.begin(), jobs.end(), [&](const Job& j) { return !std::regex_search(j.name(), re); }),
             jobs.end());
  return jobs;
}

inline std::vector<Job> gate_jobs(bool full, size_t sample) {
  std::vector<Job> defaults, rest;
  for (const KernelTemplate* t : all_templates())
    for (const std::string& arch : Target::cuda_archs()) {
      const Target target = Target::cuda(arch);
      for (const ProblemSpec& s : gate_problems(full)) {
        if (!t->supports(s, target)) continue;
        const TileConfig d = t->default_config(s, target);
        defaults.push_back({t, s, d, target});
        for (const TileConfig& c : t->search_space(s, target))
          if (!(c == d)) rest.push_back({t, s, c, target});
      }
    }
  if (!full) {
    std::mt19937 rng(20261203);  // fixed: the same sample on every run
    std::shuffle(rest.begin(), rest.end(), rng);
    rest.resize(std::min(rest.size(), sample));
  }
  defaults.insert(defaults.end(), rest.begin(), rest.end());
  return only_matching(std::move(defaults));
}

inline bool is_sm90_template(std::string_view name) { return name.find("sm90") != std::string_view::npos; }

struct GateOutcome {
  std::vector<std::string> violations;  // or the compile error
  double compile_ms = 0, compile_cpu_ms = 0;  // wall, and CPU of the compiling thread
  bool sass_checked = false;
};

// Compiles `src` and applies every gate; SASS gates run when `cuobjdump` is non-empty.
inline GateOutcome gate_source(const KernelSource& src, bool sm90, const std::string& cuobjdump) {
  GateOutcome out;
  try {
    const NvrtcResult r = Nvrtc::get().compile(src, /*want_cubin=*/true);
    out.compile_ms = r.compile_ms;
    out.compile_cpu_ms = r.compile_cpu_ms;
    const std::string sass = cuobjdump.empty() ? "" : sass_of(cuobjdump, r.cubin);
    out.sass_checked = !sass.empty();
    out.violations = all_gates(r, src.arch, sm90, sass);
  } catch (const std::exception& e) {
    out.violations.push_back(std::string("compile failed: ") + e.what());
  }
  return out;
}

inline unsigned gate_threads() {
  if (const char* s = std::getenv("ATTNJIT_COMPILE_THREADS")) {
    const int n = std::atoi(s);
    if (n >= 1 && n <= 256) return static_cast<unsigned>(n);
  }
  return 2;
}

// What NVRTC compiles, without the source's comment lines (its name): equal keys, equal kernels.
inline std::string compiled_content_key(KernelSource src) {
  std::string text;
  for (size_t a = 0; a < src.text.size();) {
    size_t b = src.text.find('\n', a);
    b = b == std::string::npos ? src.text.size() : b + 1;
    if (src.text.compare(a, 2, "//") != 0) text.append(src.text, a, b - a);
    a = b;
  }
  src.text = std::move(text);
  src.finalize();
  return src.hash;
}

// Runs every job on gate_threads() workers; each violation is a test failure naming the job.
// Jobs that render the same kernel (e.g. problems differing only in a field the template does
// not read, such as _even for sm90) are compiled once. `progress`: one line per kernel as it finishes (long sweeps).
inline void run_gates(const std::vector<Job>& jobs, const char* label, bool progress = false) {
  std::string why;
  const std::string cuobjdump = find_cuobjdump(&why);
  if (cuobjdump.empty()) std::printf("[ %-8s ] SASS gates skipped: %s\n", label, why.c_str());
  std::vector<KernelSource> sources;            // one per distinct source
  std::vector<size_t> source_of(jobs.size());   // job -> index into sources
  std::vector<bool> sm90;                       // per source: gate it as an sm90 kernel
  std::map<std::string, size_t> by_hash;
  for (size_t i = 0; i < jobs.size(); ++i) {
    KernelSource src = jobs[i].tmpl->render(jobs[i].spec, jobs[i].cfg, jobs[i].target);
    auto [it, fresh] = by_hash.emplace(compiled_content_key(src), sources.size());
    if (fresh) {
      sources.push_back(std::move(src));
      sm90.push_back(is_sm90_template(jobs[i].tmpl->name()));
    }
    source_of[i] = it->second;
  }
  std::vector<GateOutcome> outs(sources.size());
  std::atomic<size_t> next{0}, done{0};
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::future<void>> workers;
  for (unsigned w = 0; w < gate_threads(); ++w)
    workers.push_back(std::async(std::launch::async, [&] {
      for (size_t i; (i = next++) < sources.size();) {
        const KernelSource& src = sources[i];
        outs[i] = gate_source(src, sm90[i], cuobjdump);
        if (progress)
          std::printf("[ %-8s ] %zu/%zu %.0f ms (%.0f ms CPU) %s: %s\n", label, ++done, sources.size(),
                      outs[i].compile_ms, outs[i].compile_cpu_ms, src.name.c_str(),
                      outs[i].violations.empty() ? "ok" : outs[i].violations.front().c_str()),
              std::fflush(stdout);
      }
    }));
  for (auto& f : workers) f.get();
  double sum = 0, cpu_sum = 0, cpu_max = 0;
  std::vector<double> cpu;
  for (const GateOutcome& o : outs) {
    sum += o.compile_ms;
    cpu_sum += o.compile_cpu_ms;
    cpu_max = std::max(cpu_max, o.compile_cpu_ms);
    cpu.push_back(o.compile_cpu_ms);
  }
  std::sort(cpu.begin(), cpu.end());
  for (size_t i = 0; i < jobs.size(); ++i)
    for (const std::string& v : outs[source_of[i]].violations) ADD_FAILURE() << jobs[i].name() << ": " << v;
  std::printf("[ %-8s ] %zu kernels gated (%zu distinct sources, SASS %s), NVRTC %.1f s total (CPU %.1f s, "
              "median %.0f ms, max %.0f ms per kernel), wall %.1f s on %u threads\n",
              label, jobs.size(), sources.size(), cuobjdump.empty() ? "skipped" : "checked", sum / 1000,
              cpu_sum / 1000, cpu.empty() ? 0.0 : cpu[cpu.size() / 2], cpu_max,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), gate_threads());
}

inline std::string read_source_file(const std::string& rel) {
  const std::string path = std::string(ATTNJIT_SOURCE_DIR) + "/" + rel;
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The FA3-shaped test kernel of tests/emu as a KernelSource for sm_90a, its headers read from
// the source tree (templates/common/ is not embedded yet).
inline KernelSource fa3_test_source(const std::string& extra_defines = "") {
  KernelSource s;
  s.name = "sm90_fa3_test_kernel/bf16_hd64/sm_90a";
  s.text = extra_defines + "#include \"sm90_fa3_kernel.cuh\"\n";
  s.headers = {{"sm90_fa3_kernel.cuh", read_source_file("tests/emu/sm90_fa3_kernel.cuh")},
               {"sm90_primitives.cuh", read_source_file("templates/common/sm90_primitives.cuh")},
               {"common/sm90_wgmma_asm.cuh", read_source_file("templates/common/sm90_wgmma_asm.cuh")}};
  s.entry = "attnjit::sm90_test::fa3_test_kernel<attnjit::sm90_test::Bf16>";
  s.options = {"-std=c++17", "-default-device"};
  s.arch = "sm_90a";
  s.finalize();
  return s;
}

}  // namespace attnjit::gates
