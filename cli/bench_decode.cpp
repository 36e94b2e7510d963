// `attnjit bench-decode`: decode K+V bytes read per second over a grid of batch x KV length x
// GQA group (query tokens per sequence, head dim, dtype and page size fixed per run). The
// kernel streams each sequence's K and V once, so bytes = sum over sequences of
// length * heads_kv * head_dim * 2 (K and V) * K/V element bytes (1 with --kv-dtype e4m3 / e5m2:
// an fp8 cache moves half the bytes of a bf16 one) — the number to hold against the
// device's copy bandwidth. Median of timed runs (CUDA events on GPUs, steady clock on CPUs)
// after a warm-up; each run is one launch including its in-kernel split combine. Goes through
// the Runtime's config choice (provider -> default) like applications do.
//
// On the CPU (--backend cpu) the run first measures the machine's read bandwidth with the same
// number of threads (cli/cpu_read_bandwidth.h) and prints each point's fraction of it; before
// every timed launch the caches are evicted, so K and V come from memory as in a real decode
// step (a 8k-token GQA-8 cache would otherwise sit in L3); --hot skips that, so a cache small
// enough for L2/L3 measures the kernel's arithmetic alone. --threads sets the worker threads.
// Both the bandwidth and each point are also given by process CPU time (bytes / (CPU seconds /
// threads)): on cores shared with other processes, wall time measures the sharing, not the kernel.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "codegen/decode/arguments.h"
#include "api/db_config_provider.h"
#include "attnjit/attnjit.h"
#include "tuner/result_store.h"
#include "cli/command.h"
#include "cli/bench_options.h"
#include "cli/cpu_read_bandwidth.h"
#include "cli/snippet_args.h"
#include "codegen/kernel_template.h"
#include "codegen/problem_spec.h"
#include "runtime/host_pages.h"
#include "runtime/backend.h"
#include "templates/decode/params.h"
#include "runtime/fp8.h"
#include "runtime/half.h"

namespace attnjit::cli {
namespace {

struct BenchDecodeArgs {
  std::string db;  // tuning database: tuned configs instead of the defaults
  std::string config;  // force one tile config (e.g. sm80_bm16_bn32_w4_s2_v8)
  std::string backend = "auto";
  std::string dtype = "bf16";
  int head_dim = 128;
  int64_t heads_q = 32;
  std::vector<int64_t> batches;   // default: 1, 8, 64 (GPU); 1, 8 (CPU)
  std::vector<int64_t> kv_lens;   // default: 4k, 32k, 128k (GPU); 4k, 32k (CPU)
  std::vector<int64_t> groups = {1, 8};
  int64_t q_tokens = 1;
  int page_size = 0;
  std::string kv_dtype = "same";  // same | e4m3 | e5m2
  double max_gib = 24;            // skip grid points whose K/V cache would exceed this
  int warmup = 5, reps = 30;
  int device = -1;
  int threads = 0;                // CPU: worker threads (0 = all hardware threads)
  bool json = false;
  bool alibi = false, sinks = false;  // score variants: ALiBi slopes, attention sinks (per query head)
  bool one_level_combine = false;     // A/B: one-level combine where the rule picks two levels
  bool hot = false;                   // CPU: K/V left in the caches between launches
  SnippetFiles snippets;  // --score-mod / --mask-mod (no aux tensors: snippets must not read any)
};

struct Row {
  int64_t batch = 0, kv_len = 0, group = 0, heads_kv = 0;
  std::string config, config_source, skipped;
  int splits = 0, combine_group = 0;  // combine_group: splits per first-level group (0: one level)
  double median_ms = 0, min_ms = 0, gbps = 0, kv_bytes = 0;
  double bw_fraction = 0;  // CPU: gbps / the measured read bandwidth
  // CPU: K+V bytes / (median process CPU time / threads), and its fraction of the bandwidth
  // measured the same way: both immune to other processes sharing the cores.
  double cpu_gbps = 0, cpu_fraction = 0;
};

DeviceBuffer random_buffer(Backend& be, DType dt, size_t elems, uint64_t seed, KvDType kv = KvDType::Same) {
  const int eb = kv_dtype_bytes(dt, kv);
  const size_t bytes = elems * eb;
  if (bytes == 0) return DeviceBuffer(be, 0);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  // Values matter little for timing; draw a 1 MiB pattern, repeat it through a host chunk of at
  // most 64 MiB and copy that chunk over the buffer (128k-token caches are tens of gigabytes:
  // drawing each value, or a host image of the whole cache, would dominate the run).
  const size_t pattern = std::min<size_t>(elems, size_t(1) << 19);
  std::vector<unsigned char> host(std::min(bytes, std::max(pattern * eb, size_t(64) << 20) / (pattern * eb) * (pattern * eb)));
  for (size_t i = 0; i < pattern; ++i)
    if (kv != KvDType::Same) host[i] = fp8_from_float(kv, nd(rng) * 16.f);  // scale 1/16
    else store_from_float(dt, host.data(), int64_t(i), nd(rng));
  for (size_t off = pattern * eb; off < host.size(); off += pattern * eb)
    std::copy_n(host.begin(), std::min(pattern * eb, host.size() - off), host.begin() + off);
  DeviceBuffer b(be, bytes);
  for (size_t off = 0; off < bytes; off += host.size())
    be.copy_to_device(static_cast<unsigned char*>(b.get()) + off, host.data(), std::min(host.size(), bytes - off));
  return b;
}

// Every value checked before anything is allocated: --gqa 0 divided by zero and --kv-len -1
// asked for a vector of 2^64 elements.
void check_args(const BenchDecodeArgs& a) {
  auto each = [](const char* flag, const std::vector<int64_t>& vs, int64_t lo, int64_t hi) {
    for (int64_t v : vs)
      if (v < lo || v > hi)
        throw UsageError(std::string(flag) + ": " + std::to_string(v) + " is outside [" + std::to_string(lo) +
                         ", " + std::to_string(hi) + "]");
  };
  if (std::find(std::begin(kHeadDims), std::end(kHeadDims), a.head_dim) == std::end(kHeadDims))
    throw UsageError("--head-dim: " + std::to_string(a.head_dim) + " is not one of 32, 64, 96, 128, 192, 256");
  if (a.heads_q < 1 || a.heads_q > 4096) throw UsageError("--heads-q: must be in [1, 4096]");
  each("--batch", a.batches, 1, 65535);
  each("--kv-len", a.kv_lens, 1, INT32_MAX);
  each("--gqa", a.groups, 1, a.heads_q);
  for (int64_t g : a.groups)
    if (a.heads_q % g != 0)
      throw UsageError("--gqa: " + std::to_string(g) + " does not divide --heads-q " + std::to_string(a.heads_q));
  if (a.q_tokens < 1 || a.q_tokens > 16) throw UsageError("--q-tokens: must be in [1, 16]");
  if (a.page_size != 0 && (a.page_size < 1 || a.page_size > 256 || (a.page_size & (a.page_size - 1))))
    throw UsageError("--page-size: must be 0 or a power of two in [1, 256]");
  try {
    parse_kv_dtype(a.kv_dtype);
  } catch (const SpecError& e) {
    throw UsageError(std::string("--kv-dtype: ") + e.what());
  }
  if (!(a.max_gib > 0) || !std::isfinite(a.max_gib)) throw UsageError("--max-gib: must be a positive number");
  check_bench_timing(a.warmup, a.reps);
  if (!a.config.empty() && !a.db.empty()) throw UsageError("--db and --config exclude each other");
  if (!a.config.empty()) try {
      TileConfig::parse(a.config);
    } catch (const SpecError& e) {
      throw UsageError(std::string("--config: ") + e.what());
    }
}

void run_bench_decode(BenchDecodeArgs a) {
  check_args(a);
  RuntimeOptions opts;
  opts.device = a.device;
  if (!a.config.empty()) opts.config_provider = forced_config_provider(TileConfig::parse(a.config));
  auto rt = bench_runtime(a.backend, opts, a.db);
  Backend& be = rt->backend();
  const bool cpu = rt->target().platform == Platform::Cpu;
  if (a.batches.empty()) a.batches = cpu ? std::vector<int64_t>{1, 8} : std::vector<int64_t>{1, 8, 64};
  if (a.kv_lens.empty()) a.kv_lens = cpu ? std::vector<int64_t>{4096, 32768} : std::vector<int64_t>{4096, 32768, 131072};
  const DType dt = parse_dtype(a.dtype);
  const KvDType kvt = parse_kv_dtype(a.kv_dtype);
  const int eb = dtype_bytes(dt), kvb = kv_dtype_bytes(dt, kvt);
  const float kv_scale = 1.f / 16.f;  // fp8: one scale per tensor (the codes hold value * 16)
  DeviceBuffer dscale;
  if (kvt != KvDType::Same) {
    dscale = DeviceBuffer(be, 16);
    be.copy_to_device(dscale.get(), &kv_scale, sizeof kv_scale);
  }
  // --alibi / --sinks: ALiBi's geometric slopes 2^(-8 (h + 1) / heads_q) and sinks of 1 per
  // query head, then sinks (values change nothing in the timing).
  DeviceBuffer dvariants;
  if (a.alibi || a.sinks) {
    std::vector<float> host(size_t(2 * a.heads_q), 1.f);
    for (int64_t h = 0; h < a.heads_q; ++h) host[size_t(h)] = float(std::exp2(-8.0 * double(h + 1) / double(a.heads_q)));
    dvariants = DeviceBuffer(be, host.size() * sizeof(float));
    be.copy_to_device(dvariants.get(), host.data(), host.size() * sizeof(float));
  }
  if (a.threads < 0 || a.threads > 1024) throw UsageError("--threads: must be in 0..1024 (0 = all hardware threads)");
  if (a.hot && !cpu) throw UsageError("--hot: the CPU backend only (GPU timings never evict the caches)");
  const int cpu_threads = a.threads > 0 ? a.threads : std::max(1, rt->target().sm_count);
  ReadBandwidth bw;
  if (cpu) bw = measure_read_bandwidth(cpu_threads);

  if (!a.json) {
    std::printf("attnjit bench-decode on %s (%s, kv %s, hd %d, %lld query heads, %lld token(s), page %d%s%s)\n",
                be.describe().c_str(), a.dtype.c_str(), kvt == KvDType::Same ? a.dtype.c_str() : a.kv_dtype.c_str(),
                a.head_dim, static_cast<long long>(a.heads_q), static_cast<long long>(a.q_tokens), a.page_size,
                a.alibi ? ", alibi" : "", a.sinks ? ", sinks" : "");
    if (cpu) {
      std::printf("read bandwidth with %d thread(s): %.1f GB/s (fastest of 6 read patterns, best of 5 passes; median %.1f); by CPU time %.1f GB/s\n",
                  cpu_threads, bw.gbps, bw.median, bw.cpu_gbps);
      std::printf("huge pages for K, V and the probe: %s\n", huge_page_status().c_str());
    }
    std::printf("%5s %7s %5s %-22s %6s %10s %10s%s\n", "batch", "kv_len", "gqa", "config", "splits", "median", "GB/s",
                cpu ? "   of bw  cpu GB/s   of bw" : "");
  }
  std::vector<Row> rows;
  for (int64_t g : a.groups)
    for (int64_t batch : a.batches)
      for (int64_t len : a.kv_lens) {
        Row r;
        r.batch = batch;
        r.kv_len = len;
        r.group = g;
        if (a.heads_q % g != 0) throw UsageError("--gqa values must divide --heads-q");
        r.heads_kv = a.heads_q / g;
        const int64_t row = r.heads_kv * a.head_dim;  // elements per cache row
        r.kv_bytes = double(batch) * len * row * 2 * kvb;
        if (r.kv_bytes > a.max_gib * double(1 << 30)) {
          r.skipped = "K/V cache exceeds --max-gib";
          rows.push_back(r);
          if (!a.json)
            std::printf("%5lld %7lld %5lld   skipped: %.1f GiB of K/V\n", static_cast<long long>(batch),
                        static_cast<long long>(len), static_cast<long long>(g), r.kv_bytes / double(1 << 30));
          continue;
        }
        const int64_t cap_pages = a.page_size ? (len + a.page_size - 1) / a.page_size : 0;
        DecodeArgs args;
        args.problem = {.dtype = dt, .head_dim = a.head_dim, .batch = batch, .heads_q = a.heads_q,
                        .heads_kv = r.heads_kv, .q_tokens = a.q_tokens, .max_seqlen_k = len,
                        .kv_capacity = a.page_size ? cap_pages * a.page_size : len, .page_size = a.page_size,
                        .num_pages = a.page_size ? batch * cap_pages : 0, .kv_dtype = kvt, .alibi = a.alibi,
                        .sink = a.sinks, .score_mod = a.snippets.score_text, .mask_mod = a.snippets.mask_text};
        const DecodeProblem& p = args.problem;
        if (a.alibi) args.alibi_slopes = static_cast<const float*>(dvariants.get());
        if (a.sinks) args.sinks = static_cast<const float*>(dvariants.get()) + a.heads_q;
        const size_t kv_elems = size_t(batch * p.kv_capacity * row);
        DeviceBuffer q = random_buffer(be, dt, size_t(batch * a.q_tokens * a.heads_q * a.head_dim), 1);
        DeviceBuffer k = random_buffer(be, dt, kv_elems, 2, kvt), v = random_buffer(be, dt, kv_elems, 3, kvt);
        if (kvt != KvDType::Same) args.k_scale = args.v_scale = static_cast<const float*>(dscale.get());
        DeviceBuffer o(be, size_t(batch * a.q_tokens * a.heads_q * a.head_dim) * eb);
        std::vector<int32_t> lens(static_cast<size_t>(batch), static_cast<int32_t>(len)), table;
        DeviceBuffer dlens(be, lens.size() * 4), dtable;
        be.copy_to_device(dlens.get(), lens.data(), lens.size() * 4);
        args.q = TensorView::bshd(q.get(), a.q_tokens, a.heads_q, a.head_dim);
        args.o = TensorView::bshd(o.get(), a.q_tokens, a.heads_q, a.head_dim);
        args.seqlens_k = static_cast<const int32_t*>(dlens.get());
        if (a.page_size) {
          // Pages dealt out in a shuffled order, as a serving system's allocator leaves them.
          table.resize(size_t(p.num_pages));
          for (size_t i = 0; i < table.size(); ++i) table[i] = int32_t(i);
          std::shuffle(table.begin(), table.end(), std::mt19937_64(4));
          dtable = DeviceBuffer(be, table.size() * 4);
          be.copy_to_device(dtable.get(), table.data(), table.size() * 4);
          args.k = {k.get(), a.page_size * row, row, a.head_dim};
          args.v = {v.get(), a.page_size * row, row, a.head_dim};
          args.block_table = static_cast<const int32_t*>(dtable.get());
          args.block_table_stride = cap_pages;
        } else {
          args.k = TensorView::bshd(k.get(), len, r.heads_kv, a.head_dim);
          args.v = TensorView::bshd(v.get(), len, r.heads_kv, a.head_dim);
        }
        // The launch exactly as Runtime::decode makes it (workspace included), timed through
        // the backend; the split count is the one the decode module chose. On the CPU the
        // thread count only changes the launch (and the split rule), never the code, so
        // --threads goes through the template's launch contract with its own workspace.
        PreparedLaunch pl = rt->prepare_launch(args);
        PreparedKernel& pk = pl.kernel;
        DeviceBuffer ws_zeroed, ws_scratch;
        if (cpu) {
          pk.config.threads = cpu_threads;
          const WorkspaceSize need =
              pk.tmpl->workspace_bytes(pk.spec, pk.config, rt->target(), decode_shape(p));
          ws_zeroed = DeviceBuffer(be, size_t(std::max<int64_t>(16, need.zeroed)));
          ws_scratch = DeviceBuffer(be, size_t(std::max<int64_t>(16, need.scratch)));
          be.fill_bytes(ws_zeroed.get(), 0, ws_zeroed.size());
          KernelLaunch kl = pk.tmpl->make_launch(pk.spec, pk.config, rt->target(), LaunchArgs{nullptr, &args},
                                                 Workspace{ws_zeroed.get(), ws_scratch.get()});
          pk.geometry = kl.geometry;
          pl.params = std::move(kl.params);
        }
        DecodeParams chosen{};
        std::memcpy(&chosen, pl.params.data(), std::min(sizeof chosen, pl.params.size()));
        if (a.one_level_combine && chosen.combine_group > 0) {
          // One level reads the splits' partials and the slots' counters only: a prefix of the
          // two-level workspace's layout (templates/decode/params.h), so the same buffers serve.
          chosen.combine_group = 0;
          std::memcpy(pl.params.data(), &chosen, sizeof chosen);  // DecodeParams leads every block
        }
        r.splits = chosen.num_splits;
        r.combine_group = chosen.combine_group;
        r.config = pk.config.key();
        r.config_source = pk.config_source;
        const Backend::Launch l{pk.kernel.get(), pk.geometry, pl.params};
        std::vector<double> t, tc;
        if (cpu) {  // one launch at a time, each from cold caches
          be.time({l}, a.warmup, 0);
          for (int i = 0; i < a.reps; ++i) {
            if (!a.hot) evict_caches();
            const double c0 = process_cpu_seconds();
            t.push_back(be.time({l}, 0, 1).front());
            tc.push_back((process_cpu_seconds() - c0) / cpu_threads);
          }
          std::sort(tc.begin(), tc.end());
          r.cpu_gbps = r.kv_bytes / tc[tc.size() / 2] / 1e9;
          r.cpu_fraction = r.cpu_gbps / bw.cpu_gbps;
        } else {
          t = be.time({l}, a.warmup, a.reps);
        }
        std::sort(t.begin(), t.end());
        r.median_ms = t[t.size() / 2];
        r.min_ms = t.front();
        r.gbps = r.kv_bytes / (r.median_ms * 1e-3) / 1e9;
        if (cpu) r.bw_fraction = r.gbps / bw.gbps;
        if (!a.json) {
          const std::string sp = std::to_string(r.splits) +
                                 (r.combine_group > 0 ? "/" + std::to_string(r.combine_group) : std::string());
          std::printf("%5lld %7lld %5lld %-22s %6s %8.3fms %10.1f", static_cast<long long>(batch),
                      static_cast<long long>(len), static_cast<long long>(g), r.config.c_str(), sp.c_str(),
                      r.median_ms, r.gbps);
          if (cpu) std::printf("   %5.2fx %9.1f   %5.2fx", r.bw_fraction, r.cpu_gbps, r.cpu_fraction);
          std::printf("\n");
          std::fflush(stdout);
        }
        rows.push_back(r);
      }
  if (a.json) {
    nlohmann::json j = bench_report_head(*rt);
    j["dtype"] = a.dtype;
    j["head_dim"] = a.head_dim;
    j["heads_q"] = a.heads_q;
    j["q_tokens"] = a.q_tokens;
    j["page_size"] = a.page_size;
    j["kv_dtype"] = std::string(to_string(kvt));
    j["alibi"] = a.alibi;
    j["sinks"] = a.sinks;
    j["hot"] = a.hot;
    j["score_mod"] = a.snippets.score_mod;
    j["mask_mod"] = a.snippets.mask_mod;
    j["metric"] = "K+V bytes read / median time (GB/s = 1e9 bytes/s)";
    if (cpu) {
      j["threads"] = cpu_threads;
      j["read_bandwidth_gbps"] = bw.gbps;
      j["read_bandwidth_median_gbps"] = bw.median;
      j["read_bandwidth_cpu_gbps"] = bw.cpu_gbps;
      j["eviction_bytes"] = eviction_bytes();  // read before each timed run (not with --hot)
      j["huge_pages"] = huge_page_status();
    }
    nlohmann::json arr = nlohmann::json::array();
    for (const Row& r : rows) {
      nlohmann::json x = {{"batch", r.batch}, {"kv_len", r.kv_len}, {"gqa", r.group}, {"heads_kv", r.heads_kv},
                          {"kv_bytes", r.kv_bytes}};
      if (!r.skipped.empty()) {
        x["skipped"] = r.skipped;
      } else {
        x.update({{"config", r.config}, {"config_source", r.config_source}, {"splits", r.splits},
                  {"combine_group", r.combine_group}, {"median_ms", r.median_ms}, {"min_ms", r.min_ms}, {"gbps", r.gbps}});
        if (cpu)
          x.update({{"bandwidth_fraction", r.bw_fraction}, {"cpu_gbps", r.cpu_gbps}, {"cpu_bandwidth_fraction", r.cpu_fraction}});
      }
      arr.push_back(x);
    }
    j["results"] = arr;
    std::cout << j.dump(2) << "\n";
  }
}

const RegisterCommand reg("bench-decode", [](CLI::App& app) {
  auto a = std::make_shared<BenchDecodeArgs>();
  auto* c = app.add_subcommand("bench-decode", "Decode K+V GB/s over batch x KV length x GQA");
  c->add_option("--backend", a->backend, "auto | cuda | cpu")->capture_default_str();
  c->add_option("--dtype", a->dtype, "bf16 | f16 (f32 on CPU)")->capture_default_str();
  c->add_option("--head-dim", a->head_dim, "head dim")->capture_default_str();
  c->add_option("--heads-q", a->heads_q, "query heads")->capture_default_str();
  c->add_option("--batch", a->batches, "comma-separated batch sizes (default 1,8,64; CPU 1,8)")->delimiter(',');
  c->add_option("--kv-len", a->kv_lens, "comma-separated KV lengths (default 4096,32768,131072; CPU 4096,32768)")
      ->delimiter(',');
  c->add_option("--gqa", a->groups, "comma-separated GQA group sizes")->delimiter(',')->capture_default_str();
  c->add_option("--q-tokens", a->q_tokens, "query tokens per sequence (1..16)")->capture_default_str();
  c->add_option("--page-size", a->page_size, "0 = contiguous cache, else a power of two in 1..256")
      ->capture_default_str();
  c->add_option("--kv-dtype", a->kv_dtype, "K/V storage: same (the query dtype) | e4m3 | e5m2 (fp8, bytes counted as 1)")
      ->capture_default_str();
  c->add_option("--max-gib", a->max_gib, "skip grid points whose K/V cache exceeds this")->capture_default_str();
  add_bench_options(*c, a->warmup, a->reps, a->device, a->db);
  c->add_option("--threads", a->threads, "CPU: worker threads (0 = all hardware threads)")->capture_default_str();
  c->add_flag("--alibi", a->alibi, "ALiBi: per-head slopes (the key's _alibi)");
  c->add_flag("--sinks", a->sinks, "attention sinks: one logit per query head (the key's _sink)");
  add_snippet_options(c, &a->snippets);
  c->add_option("--config", a->config,
                 "force one tile config for every point, e.g. sm80_bm16_bn32_w4_s2_v8 (default: the decode "
                 "module's choice per run shape)");
  c->add_flag("--hot", a->hot,
              "CPU: do not evict the caches between launches (with a short --kv-len: the kernel's "
              "arithmetic rate, no memory in the way)");
  c->add_flag("--one-level-combine", a->one_level_combine,
              "GPU: combine the KV splits in one level where the rule picks two (an A/B of the "
              "two-level combine; the splits column shows <splits>/<group> for two levels)");
  c->add_flag("--json", a->json, "print JSON instead of a table");
  c->callback([a] {
    read_snippet_files(a->snippets);
    run_bench_decode(*a);
  });
});

}  // namespace
}  // namespace attnjit::cli
