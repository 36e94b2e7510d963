#include "tuner/evaluator.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>

#include "tuner/workload.h"

namespace attnjit::tuner {

namespace {

// sysfs reports e.g. "266240K"; the largest cache level of cpu0 is the last-level one.
int64_t cpu_llc_bytes() {
  int64_t best = 0;
  for (int idx = 0; idx < 8; ++idx) {
    std::ifstream f("/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(idx) + "/size");
    if (!f) continue;
    std::string s;
    f >> s;
    if (s.empty()) continue;
    int64_t mult = 1;
    if (s.back() == 'K') mult = 1024;
    if (s.back() == 'M') mult = 1024 * 1024;
    try {
      best = std::max(best, static_cast<int64_t>(std::stoll(s)) * mult);
    } catch (const std::exception&) {
      continue;
    }
  }
  return best > 0 ? best : 32 * 1024 * 1024;  // unknown: assume a typical 32 MiB L3
}

std::string resource_problem(const ResourceUsage& r, const LaunchGeometry& g, const Target& t) {
  const int spills = r.spill_load_bytes + r.spill_store_bytes;
  if (spills > 0) return "pruned: " + std::to_string(spills) + " bytes of register spills";
  const int64_t threads = int64_t(g.block[0]) * g.block[1] * g.block[2];
  if (r.registers > t.max_regs_per_thread)
    return "pruned: " + std::to_string(r.registers) + " registers per thread > " +
           std::to_string(t.max_regs_per_thread);
  if (r.registers > 0 && t.regs_per_sm > 0 && int64_t(r.registers) * threads > t.regs_per_sm)
    return "pruned: " + std::to_string(r.registers) + " registers x " + std::to_string(threads) +
           " threads exceed the register file (" + std::to_string(t.regs_per_sm) + ")";
  const int64_t smem = int64_t(r.smem_static_bytes) + g.dynamic_smem;
  if (t.platform == Platform::Cuda && t.smem_per_block > 0 && smem > t.smem_per_block)
    return "pruned: " + std::to_string(smem) + " bytes of shared memory > " +
           std::to_string(t.smem_per_block) + " per block";
  return {};
}

}  // namespace

int64_t last_level_cache_bytes(const Target& t) {
  if (t.platform == Platform::Cpu) return cpu_llc_bytes();
  if (t.arch == "sm_80") return 40LL << 20;
  if (t.arch == "sm_86") return 6LL << 20;
  if (t.arch == "sm_89") return 72LL << 20;
  return 50LL << 20;  // sm_90a (H100) and anything newer we do not know yet
}

CandidateEvaluator::CandidateEvaluator(Backend& backend, const KernelTemplate& tmpl,
                                       ProblemSpec spec, EvaluatorOptions options)
    : backend_(backend), tmpl_(tmpl), spec_(std::move(spec)), opt_(options) {
  spec_.validate();
  if (!tmpl_.supports(spec_, backend_.target()))
    throw SpecError("template " + std::string(tmpl_.name()) + " does not support " + spec_.key() +
                    " on " + backend_.target().key());
  shape_ = opt_.shape ? *opt_.shape : tuning_shape(spec_, backend_.target().platform);
  work_ = spec_.family == Family::Decode ? decode_kv_bytes(spec_, shape_) : prefill_flops(spec_, shape_);
}

CandidateEvaluator::~CandidateEvaluator() = default;

int CandidateEvaluator::rotation_sets() const { return tuning_ ? tuning_->copies() : 0; }

CandidateEvaluator::Compiled CandidateEvaluator::compile_impl(const TileConfig& cfg) {
  Compiled c;
  c.result.config = cfg;
  const Target& t = backend_.target();
  if (auto why = tmpl_.can_implement(spec_, cfg, t)) {
    c.result.status = CandidateStatus::Pruned;
    c.result.reason = "pruned before compiling: " + *why;
    return c;
  }
  try {
    KernelSource src = tmpl_.render(spec_, cfg, t);
    c.kernel = backend_.get_kernel(src);
    c.result.resources = c.kernel->resources;
    c.result.compile_ms = c.kernel->compile_ms;
    const std::string bad = resource_problem(c.kernel->resources,
                                             tmpl_.geometry(spec_, cfg, t, shape_), t);
    if (!bad.empty()) {
      c.result.status = CandidateStatus::Pruned;
      c.result.reason = bad;
      c.kernel.reset();
      return c;
    }
    c.result.status = CandidateStatus::Ok;
  } catch (const std::exception& e) {
    c.result.status = CandidateStatus::CompileError;
    c.result.reason = e.what();
    c.kernel.reset();
  }
  return c;
}

CandidateResult CandidateEvaluator::compile(const TileConfig& cfg) {
  const std::string key = cfg.key();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = kernels_.find(key);
    if (it != kernels_.end()) return it->second.result;
  }
  Compiled c = compile_impl(cfg);  // outside the lock: compiles run in parallel
  std::lock_guard<std::mutex> lock(mu_);
  return kernels_.emplace(key, std::move(c)).first->second.result;
}

void CandidateEvaluator::ensure_cases() {
  if (reduced_) return;
  const RunShape rs = reduced_shape(spec_);
  reduced_ = make_problem_case(backend_, spec_, rs, opt_.seed ^ 0x9e3779b97f4a7c15ULL, 1, true);
  reduced_expected_ = reference_expected(spec_, reduced_->reference_problem(), reduced_->q_host(),
                                         reduced_->k_host(), reduced_->v_host());

  // Rotation: sets enough for 2x the last-level cache, within the byte and count caps.
  const int64_t llc = opt_.llc_bytes > 0 ? opt_.llc_bytes : last_level_cache_bytes(backend_.target());
  const size_t per = case_bytes_per_set(spec_, shape_);
  int sets = static_cast<int>(std::ceil(2.0 * static_cast<double>(llc) / static_cast<double>(per)));
  sets = std::max(sets, 2);  // back-to-back calls never reuse the buffers just touched
  sets = std::min<int>(sets, opt_.rotation_max_sets);
  sets = std::min<int>(sets, static_cast<int>(std::max<size_t>(1, opt_.rotation_max_bytes / per)));
  tuning_ = make_problem_case(backend_, spec_, shape_, opt_.seed, std::max(sets, 1), false);

  // The baseline for check 2: the default config, once it passed check 1.
  if (!opt_.check_tuning_shape) {
    baseline_note_ = "tuning-shape check disabled";
    return;
  }
  const TileConfig def = tmpl_.default_config(spec_, backend_.target());
  compile(def);
  std::shared_ptr<const CompiledKernel> k;
  {
    std::lock_guard<std::mutex> lock(mu_);
    k = kernels_.at(def.key()).kernel;
  }
  if (!k) {
    baseline_note_ = "default config " + def.key() + " did not compile; reduced check only";
    return;
  }
  try {
    CheckOutcome r = run_and_compare(*reduced_, *k, def, reduced_expected_);
    if (!r.ok) {
      baseline_note_ = "default config " + def.key() + " failed the reference check (" + r.reason +
                       "); reduced check only";
      return;
    }
    const LaunchGeometry g = tmpl_.geometry(spec_, def, backend_.target(), shape_);
    tuning_->poison(0);
    tuning_->run_config(backend_, *k, g, 0, def);
    std::vector<float> o, lse;
    tuning_->read(0, o, lse);
    baseline_ = baseline_expected(o, lse, reduced_expected_);
  } catch (const std::exception& e) {
    baseline_note_ = "default config " + def.key() + " failed to run (" + e.what() + "); reduced check only";
  }
}

CheckOutcome CandidateEvaluator::run_and_compare(ProblemCase& c, const CompiledKernel& k,
                                                 const TileConfig& cfg, const Expected& want) {
  const LaunchGeometry g = tmpl_.geometry(spec_, cfg, backend_.target(), c.shape());
  c.poison(0);
  c.run_config(backend_, k, g, 0, cfg);
  std::vector<float> o, lse;
  c.read(0, o, lse);
  return compare(want, o, lse);
}

CheckOutcome CandidateEvaluator::check(const CompiledKernel& k, const TileConfig& cfg) {
  CheckOutcome r = run_and_compare(*reduced_, k, cfg, reduced_expected_);
  if (!r.ok) {
    r.reason = "reduced problem vs float64 reference: " + r.reason;
    return r;
  }
  if (baseline_) {
    CheckOutcome s = run_and_compare(*tuning_, k, cfg, *baseline_);
    if (!s.ok) s.reason = "tuning shape vs verified default: " + s.reason;
    // Keep the check with the larger share of its tolerance as the recorded error.
    if (!s.ok || s.max_error / s.tolerance > r.max_error / r.tolerance) r = s;
  }
  return r;
}

CandidateResult CandidateEvaluator::evaluate(const TileConfig& cfg, const MeasureOptions& measure,
                                             const Clock& clock) {
  CandidateResult res = compile(cfg);
  if (res.status != CandidateStatus::Ok) return res;
  std::shared_ptr<const CompiledKernel> k;
  {
    std::lock_guard<std::mutex> lock(mu_);
    k = kernels_.at(cfg.key()).kernel;
  }
  try {
    ensure_cases();
    const std::string key = cfg.key();
    auto it = verified_.find(key);
    if (it == verified_.end()) it = verified_.emplace(key, check(*k, cfg)).first;
    res.max_error = it->second.max_error;
    res.tolerance = it->second.tolerance;
    if (!it->second.ok) {
      res.status = CandidateStatus::WrongResult;
      res.reason = it->second.reason;
      return res;
    }
    // Timing: consecutive calls cycle through the rotated sets so none finds its inputs in
    // the cache the previous call warmed. Long calls need only two sets to alternate.
    const LaunchGeometry g = tmpl_.geometry(spec_, cfg, backend_.target(), shape_);
    auto launches_for = [&](int n) {
      std::vector<Backend::Launch> ls;
      for (int s = 0; s < n; ++s) {
        ls.push_back(Backend::Launch{k.get(), g, tuning_->launch_args(s, cfg)});
      }
      return ls;
    };
    const std::vector<double> probe = backend_.time(launches_for(1), 1, 1);
    const double est_ms = probe.empty() ? 1.0 : std::max(probe[0], 1e-4);
    int n = std::clamp(static_cast<int>(std::ceil(20.0 / est_ms)), 2, std::max(2, tuning_->copies()));
    n = std::min(n, tuning_->copies());
    const auto launches = launches_for(n);
    TimedRunner runner = [&](int warmup, int reps) {
      std::vector<double> t = backend_.time(launches, warmup, reps);
      for (double& x : t) x /= static_cast<double>(launches.size());
      return t;
    };
    // Long calls: fit warm-up plus the first batch into the time cap where possible (the
    // probe above already warmed caches and the JIT'd code), never under 3 samples.
    MeasureOptions m = measure;
    const double batch_ms = est_ms * static_cast<double>(n);
    if (batch_ms * (m.warmup + m.min_samples) > m.max_seconds * 1e3) {
      m.warmup = std::min(m.warmup, 1);
      const int fit = static_cast<int>(m.max_seconds * 1e3 / batch_ms) - m.warmup;
      m.min_samples = std::min(m.min_samples, std::max(3, fit));
      m.max_samples = std::max(m.max_samples, m.min_samples);
    }
    res.time = measure_until_settled(runner, m, clock);
    if (spec_.family == Family::Decode) res.gbps = work_ / (res.time.median_ms * 1e-3) / 1e9;
    else res.tflops = work_ / (res.time.median_ms * 1e-3) / 1e12;
    res.status = CandidateStatus::Ok;
  } catch (const std::exception& e) {
    res.status = CandidateStatus::LaunchError;
    res.reason = e.what();
  }
  return res;
}

}  // namespace attnjit::tuner
