// Tuning-database micro-benchmark: lookups/s from a warm database in process (exact, nearest
// bucket, same-arch fallback) and inserts/s (one transaction per result, and batched).
//   bench_db_bench [--problems N] [--configs N] [--lookups N] [--cache ENTRIES] [--file PATH]
// --cache 0 measures lookups straight from SQLite (the in-memory lookup cache disabled).
// The file defaults to a fresh temporary one (WAL, synchronous=NORMAL: the production settings).
#include <unistd.h>

#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "db/database.h"

using namespace attnjit;
namespace {

// Process CPU time: the build machine is shared (load far above its core count), so wall time
// mostly measures the neighbours; CPU time measures our cost. Wall time is printed beside it.
struct Stamp {
  double cpu, wall;
};
Stamp now() {
  timespec c{}, w{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c);
  clock_gettime(CLOCK_MONOTONIC, &w);
  return {c.tv_sec + c.tv_nsec * 1e-9, w.tv_sec + w.tv_nsec * 1e-9};
}
struct Span {
  double cpu, wall;
};
Span since(Stamp t0) {
  Stamp t = now();
  return {t.cpu - t0.cpu, t.wall - t0.wall};
}

DeviceInfo device(const std::string& name, const std::string& target, const std::string& driver) {
  DeviceInfo d;
  d.target = target;
  d.name = name;
  d.cc_major = 9;
  d.sm_count = 132;
  d.memory_bytes = int64_t{80} << 30;
  d.driver_version = driver;
  d.compiler_version = "nvrtc-13.0";
  return d;
}

// A realistic pre-tuned set: dtype x head dim x mask x group x power-of-two lengths.
std::vector<ProblemSpec> problem_set(size_t n) {
  std::vector<ProblemSpec> out;
  for (DType dt : {DType::BF16, DType::F16})
    for (int hd : {64, 128, 256})
      for (MaskKind m : {MaskKind::None, MaskKind::Causal})
        for (int g : {1, 4, 8})
          for (int64_t q = 256; q <= 32768; q *= 2)
            for (int64_t k = q; k <= 32768 && out.size() < n; k *= 4) {
              ProblemSpec p;
              p.dtype = dt;
              p.head_dim = hd;
              p.mask.kind = m;
              p.group = g;
              p.seqlen_q = q;
              p.seqlen_k = k;
              out.push_back(p);
            }
  return out;
}

constexpr const char* kTemplateHash = "0123456789abcdef0123456789abcdef";

TuningResult result(const DeviceInfo& d, const ProblemSpec& p, int c, double ms) {
  static const char* kConfigs[] = {"bm64_bn64_w4_s2",   "bm64_bn128_w4_s2", "bm128_bn64_w4_s2",
                                   "bm128_bn64_w8_s3",  "bm128_bn128_w8_s2", "bm64_bn32_w4_s1",
                                   "bm128_bn32_w4_s2",  "bm256_bn64_w8_s2"};
  std::string config = kConfigs[c % 8];
  if (c >= 8) config += "_v" + std::to_string(c / 8 * 8);
  return {.device = d.fingerprint(), .problem = p.key(), .template_name = "prefill_sm80",
          .template_hash = kTemplateHash, .config = config, .median_ms = ms, .min_ms = ms * 0.99,
          .max_ms = ms * 1.02, .runs = 50, .tflops = 100.0 / ms, .max_error = 1e-3, .tolerance = 4e-3,
          .tuner_version = "0.1.0"};
}

}  // namespace

int main(int argc, char** argv) {
  size_t n_problems = 400, n_configs = 8, n_lookups = 300000, cache = 4096;
  std::string file;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--problems")) n_problems = std::strtoul(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--configs")) n_configs = std::strtoul(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--lookups")) n_lookups = std::strtoul(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--file")) file = argv[i + 1];
    else if (!std::strcmp(argv[i], "--cache")) cache = std::strtoul(argv[i + 1], nullptr, 10);
    else {
      std::fprintf(stderr, "usage: %s [--problems N] [--configs N] [--lookups N] [--cache ENTRIES] [--file PATH]\n", argv[0]);
      return 2;
    }
  }
  const bool temp = file.empty();
  if (temp) file = (std::filesystem::temp_directory_path() / ("attnjit-db-bench-" + std::to_string(getpid()) + ".db")).string();
  auto cleanup = [&] {
    if (!temp) return;
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(file + suffix);
  };
  try {
    Database::Options opt;
    opt.lookup_cache_entries = cache;
    Database db = Database::open(file, opt);
    DeviceInfo h100 = device("NVIDIA H100 80GB HBM3", "sm_90a", "580.65.06");
    DeviceInfo other = device("NVIDIA H100 80GB HBM3", "sm_90a", "575.51");
    db.upsert_device(h100);
    db.upsert_device(other);
    std::vector<ProblemSpec> problems = problem_set(n_problems);
    std::mt19937 rng(42);
    std::uniform_real_distribution<double> ms(0.1, 10.0);

    // Inserts, one transaction each (what a tuner recording as it goes does).
    const size_t single = std::min<size_t>(2000, problems.size() * n_configs);
    auto t0 = now();
    for (size_t i = 0; i < single; ++i)
      db.record_result(result(h100, problems[i / n_configs], static_cast<int>(i % n_configs), ms(rng)));
    Span single_s = since(t0);

    // The rest batched, 1000 per transaction.
    std::vector<TuningResult> batch;
    size_t batched = 0;
    t0 = now();
    for (size_t i = single; i < problems.size() * n_configs; ++i) {
      batch.push_back(result(h100, problems[i / n_configs], static_cast<int>(i % n_configs), ms(rng)));
      if (batch.size() == 1000) {
        db.record_results(batch);
        batched += batch.size();
        batch.clear();
      }
    }
    if (!batch.empty()) {
      db.record_results(batch);
      batched += batch.size();
    }
    Span batch_s = since(t0);

    // n lookups of problem(i) on `dev`, timed; `hits` counts the answers of reason `want`.
    auto lookups = [&](const DeviceInfo& dev, size_t n, auto problem, LookupReason want, size_t& hits) {
      hits = 0;
      const auto start = now();
      for (size_t i = 0; i < n; ++i) hits += db.lookup(dev, problem(i), kTemplateHash).reason == want;
      return since(start);
    };

    // Exact hits, random problems from the tuned set.
    std::vector<size_t> order(n_lookups);
    for (auto& o : order) o = rng() % problems.size();
    auto tuned = [&](size_t i) -> const ProblemSpec& { return problems[order[i]]; };
    size_t hits = 0;
    Span exact_s = lookups(h100, n_lookups, tuned, LookupReason::Exact, hits);

    // Nearest bucket: lengths that were not tuned (k = 2q is never in the set).
    std::vector<ProblemSpec> near;
    for (const auto& p : problems) {
      ProblemSpec q = p;
      q.seqlen_k = std::min<int64_t>(p.seqlen_q * 2, 65536);
      if (q.seqlen_k != p.seqlen_k) near.push_back(q);
    }
    size_t n_near = std::min<size_t>(n_lookups / 10, 50000), near_hits = 0;
    Span near_s = lookups(h100, n_near, [&](size_t i) -> const ProblemSpec& { return near[order[i] % near.size()]; },
                          LookupReason::NearestBucket, near_hits);

    // Same arch: a device with nothing of its own.
    size_t arch_hits = 0;
    Span arch_s = lookups(other, n_near, tuned, LookupReason::SameArch, arch_hits);

    DbStats st = db.stats();
    std::printf("database: %s (%lld results, %lld problems, %lld best)\n", file.c_str(),
                static_cast<long long>(st.results), static_cast<long long>(st.problems),
                static_cast<long long>(st.best));
    std::printf("lookup cache: %zu entries\n", cache);
    std::printf("%-34s %10s %14s %14s\n", "operation", "count", "per CPU second", "per wall second");
    auto row = [](const char* what, size_t n, Span s) {
      std::printf("%-34s %10zu %14.0f %14.0f\n", what, n, n / s.cpu, n / s.wall);
    };
    row("insert, 1 transaction each", single, single_s);
    row("insert, 1000 per transaction", batched, batch_s);
    row("lookup exact (hit)", n_lookups, exact_s);
    row("lookup nearest bucket", n_near, near_s);
    row("lookup same arch (other device)", n_near, arch_s);
    if (hits != n_lookups || near_hits != n_near || arch_hits != n_near) {
      std::fprintf(stderr, "unexpected lookup reasons: exact %zu/%zu nearest %zu/%zu arch %zu/%zu\n",
                   hits, n_lookups, near_hits, n_near, arch_hits, n_near);
      cleanup();
      return 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "db_bench: %s\n", e.what());
    cleanup();
    return 1;
  }
  cleanup();
  return 0;
}
