#include "runtime/cpu/cpu_backend.h"

#include "runtime/compile_key.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <thread>

#include "runtime/cpu/cpu_compiler.h"
#include "runtime/cpu/cpu_jit.h"
#include "runtime/thread_pool.h"
#include "runtime/disk_cache.h"
#include "runtime/host_pages.h"
#include "runtime/kernel_cache.h"

namespace attnjit {

struct CpuCompiledKernel::Impl {
  std::unique_ptr<CpuJitModule> module;
  // The last launch's time per work item inside the kernel (ns; -1 = never launched): what
  // decides whether the next launch is worth waking the pool for. A kernel serves one
  // ProblemSpec, whose lengths are buckets, so the per-item cost of two launches differs by a
  // small factor; a wrong guess costs one launch, which then corrects it.
  std::atomic<int64_t> ns_per_item{-1};
};

namespace {

constexpr size_t kAlignment = 64;  // a cache line; also the widest vector load

class CpuBackendImpl final : public Backend {
 public:
  explicit CpuBackendImpl(const CpuBackendOptions& o)
      : opts_(o),
        target_(host_cpu_target()),
        pool_(o.workers >= 0 ? o.workers : std::max(0, target_.sm_count - 1)) {
    if (opts_.use_disk_cache) {
      std::filesystem::path root = opts_.cache_dir;
      if (root.empty()) {
        try {
          root = default_cache_dir();
        } catch (const BackendError&) {
          root.clear();  // no HOME and no ATTNJIT_CACHE_DIR: run without a disk cache
        }
      }
      if (!root.empty()) {
        disk_.emplace(root, "cpu-obj");
        try {
          disk_->remove_stale_temp_files();  // left by killed writers; never a lock
        } catch (const std::exception&) {
          // an unreadable cache dir shows up again (and is handled) on load / store
        }
      }
    }
    if (opts_.dump_dir.empty())
      if (const char* d = std::getenv("ATTNJIT_CPU_DUMP_DIR"); d && *d) opts_.dump_dir = d;
  }

  const Target& target() const override { return target_; }

  std::string describe() const override {
    std::string s = target_.arch;
    if (!target_.device_name.empty()) s += " (" + target_.device_name + ")";
    return s + ", " + std::to_string(target_.sm_count) + " threads, " + std::to_string(target_.vector_bits) +
           "-bit vectors, LLVM " + llvm_version();
  }

  std::string compiler_version() const override { return "llvm-" + llvm_version(); }

  std::shared_ptr<const CompiledKernel> get_kernel(const KernelSource& src) override {
    if (src.platform != Platform::Cpu)
      throw BackendError("CPU backend: " + src.name + " is a " + std::string(to_string(src.platform)) + " kernel");
    if (src.hash.empty()) throw BackendError("CPU backend: " + src.name + " has no hash (KernelSource::finalize)");
    return cache_.get_or_create(disk_key(src), [&] { return build(src); });
  }

  void launch(const CompiledKernel& kernel, const LaunchGeometry& g, const void* args, size_t args_size,
              void*) override {
    auto* k = dynamic_cast<const CpuCompiledKernel*>(&kernel);
    if (!k || !k->impl || !k->impl->module)
      throw BackendError("CPU backend: launch of " + kernel.source.name + ": not a kernel of this backend");
    if (!args || args_size == 0) throw BackendError("CPU backend: launch of " + kernel.source.name + ": no params");
    const int64_t items = int64_t(g.grid[0]) * g.grid[1] * g.grid[2];
    if (items <= 0) return;
    const CpuEntry fn = k->impl->module->entry();
    const int64_t per_item = k->impl->ns_per_item.load(std::memory_order_relaxed);
    const int threads = static_cast<int>(std::min<int64_t>({std::max(1u, g.block[0]), pool_.workers() + 1, items}));
    if (threads == 1 || (per_item >= 0 && items * per_item < opts_.inline_below_ns)) {
      // Too little work to pay for waking workers and waiting for them (a futex call each, and a
      // worker whose core is busy or idle in a VM starts late): run it here, outside the pool, so
      // concurrent small launches do not queue behind each other either.
      if (threads > 1) ++inline_launches_;
      const auto t0 = std::chrono::steady_clock::now();
      fn(args, 0, items);
      k->impl->ns_per_item.store(since(t0) / items, std::memory_order_relaxed);
      return;
    }
    // The estimate sums the time spent inside the kernel's ranges, on whichever thread: the cost
    // of the work alone, not of the workers' wake-up (which would keep a small kernel pooled).
    std::atomic<int64_t> busy_ns{0};
    pool_.parallel_for(items, threads, [&](int64_t b, int64_t e) {
      const auto t0 = std::chrono::steady_clock::now();
      fn(args, b, e);
      busy_ns.fetch_add(since(t0), std::memory_order_relaxed);
    });
    k->impl->ns_per_item.store(busy_ns.load() / items, std::memory_order_relaxed);
  }

  void synchronize(void*) override {}

  // Large buffers (K/V caches) on huge pages where the host offers them (runtime/host_pages.h).
  void* allocate(size_t bytes) override {
    void* p = allocate_host(bytes, kAlignment);
    if (!p) throw BackendError("CPU backend: allocating " + std::to_string(bytes) + " bytes failed");
    return p;
  }
  void release(void* p) noexcept override { release_host(p); }
  void copy_to_device(void* dst, const void* src, size_t n) override { if (n) std::memcpy(dst, src, n); }
  void copy_to_host(void* dst, const void* src, size_t n) override { if (n) std::memcpy(dst, src, n); }
  void fill_bytes(void* dst, unsigned char v, size_t n) override { if (n) std::memset(dst, v, n); }

  std::vector<double> time(const std::vector<Launch>& launches, int warmup, int reps, void*) override {
    auto run_all = [&] {
      for (const auto& l : launches) launch(*l.kernel, l.geometry, l.args.data(), l.args.size(), nullptr);
    };
    for (int i = 0; i < warmup; ++i) run_all();
    std::vector<double> out;
    out.reserve(std::max(0, reps));
    for (int i = 0; i < reps; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      run_all();
      out.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    return out;
  }

  CpuBackendStats stats() const {
    return {compiles_.load(), disk_hits_.load(), disk_rejected_.load(), inline_launches_.load()};
  }

 private:
  static int64_t since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
  }

  // Everything that decides the machine code: a cached object from another LLVM, triple or CPU
  // is never picked up.
  std::string disk_key(const KernelSource& src) const {
    return compile_cache_key(src, "llvm-" + llvm_version() + " " + host_triple());
  }

  std::shared_ptr<const CompiledKernel> build(const KernelSource& src) {
    auto k = std::make_shared<CpuCompiledKernel>();
    k->source = src;
    k->impl = std::make_shared<CpuCompiledKernel::Impl>();
    const std::string key = disk_key(src);
    const bool want_text = opts_.keep_asm || !opts_.dump_dir.empty();

    // IR / assembly exist only for a fresh compile, so a debug build skips the disk lookup.
    if (disk_ && !want_text) {
      std::optional<std::string> obj;
      try {
        obj = disk_->load(key);
      } catch (const BackendError&) {
        obj.reset();  // unreadable cache file: compile instead
      }
      if (obj) {
        try {
          k->impl->module = std::make_unique<CpuJitModule>(*obj, src.entry, src.name);
          k->from_disk_cache = true;
          ++disk_hits_;
          return k;
        } catch (const BackendError&) {
          // Checksum-clean but unlinkable (e.g. written by a buggy build): drop it, recompile.
          ++disk_rejected_;
          disk_->remove(key);
        }
      }
    }

    ++compiles_;
    CpuCompileResult r = compile_cpu_kernel(src, {want_text, want_text});
    k->compile_ms = r.compile_ms;
    k->log = r.log;
    if (!opts_.dump_dir.empty()) dump(src, r);
    if (opts_.keep_asm) {
      k->ir = std::move(r.ir);
      k->asm_text = std::move(r.asm_text);
    }
    k->impl->module = std::make_unique<CpuJitModule>(r.object, src.entry, src.name);
    if (disk_) {
      // A cache that cannot be written (full disk, read-only home) costs a recompile next
      // time, never this kernel.
      try {
        disk_->store(key, r.object);
      } catch (const BackendError& e) {
        k->log += std::string(k->log.empty() ? "" : "\n") + "disk cache store skipped: " + e.what();
      }
    }
    return k;
  }

  void dump(const KernelSource& src, const CpuCompileResult& r) const {
    std::error_code ec;
    std::filesystem::create_directories(opts_.dump_dir, ec);
    if (ec) throw BackendError("CPU backend: creating dump dir " + opts_.dump_dir.string() + ": " + ec.message());
    for (auto [ext, text] : {std::pair{".cpp", &src.text}, std::pair{".ll", &r.ir}, std::pair{".s", &r.asm_text}}) {
      auto path = opts_.dump_dir / (src.hash + ext);
      std::ofstream f(path, std::ios::binary);
      f << *text;
      if (!f) throw BackendError("CPU backend: writing " + path.string() + " failed");
    }
  }

  CpuBackendOptions opts_;
  Target target_;
  ThreadPool pool_;
  std::optional<DiskCache> disk_;
  KernelCache cache_;
  std::atomic<uint64_t> compiles_{0}, disk_hits_{0}, disk_rejected_{0}, inline_launches_{0};
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const CpuBackendOptions& options) {
  return std::make_unique<CpuBackendImpl>(options);
}

CpuBackendStats cpu_backend_stats(const Backend& b) {
  auto* cpu = dynamic_cast<const CpuBackendImpl*>(&b);
  if (!cpu) throw BackendError("cpu_backend_stats: not a CPU backend");
  return cpu->stats();
}

}  // namespace attnjit
