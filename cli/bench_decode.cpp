// `attnjit bench-decode`: decode K+V bytes read per second over a grid of batch x KV length x
// GQA group (query tokens per sequence, head dim, dtype and page size fixed per run). The
// kernel streams each sequence's K and V once, so bytes = sum over sequences of
// length * heads_kv * head_dim * 2 (K and V) * dtype bytes — the number to hold against the
// device's copy bandwidth. Median of timed runs (CUDA events on GPUs, steady clock on CPUs)
// after a warm-up; each run is one launch including its in-kernel split combine. Goes through
// the Runtime's config choice (provider -> default) like applications do.
#include <algorithm>
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
#include "runtime/backend.h"
#include "templates/decode/params.h"
#include "runtime/half.h"

namespace attnjit::cli {
namespace {

struct BenchDecodeArgs {
  std::string db;  // tuning database: tuned configs instead of the defaults
  std::string backend = "auto";
  std::string dtype = "bf16";
  int head_dim = 128;
  int64_t heads_q = 32;
  std::vector<int64_t> batches;   // default: 1, 8, 64 (GPU); 1, 8 (CPU)
  std::vector<int64_t> kv_lens;   // default: 4k, 32k, 128k (GPU); 4k, 32k (CPU)
  std::vector<int64_t> groups = {1, 8};
  int64_t q_tokens = 1;
  int page_size = 0;
  double max_gib = 24;            // skip grid points whose K/V cache would exceed this
  int warmup = 5, reps = 30;
  int device = -1;
  bool json = false;
};

struct Row {
  int64_t batch = 0, kv_len = 0, group = 0, heads_kv = 0;
  std::string config, config_source, skipped;
  int splits = 0;
  double median_ms = 0, min_ms = 0, gbps = 0, kv_bytes = 0;
};

DeviceBuffer random_buffer(Backend& be, DType dt, size_t elems, uint64_t seed) {
  const int eb = dtype_bytes(dt);
  std::vector<unsigned char> host(elems * eb);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  // Values matter little for timing; fill a 1 MiB pattern and repeat it (128k-token caches are
  // gigabytes, and drawing each value on the host would dominate the run).
  const size_t pattern = std::min<size_t>(elems, size_t(1) << 19);
  for (size_t i = 0; i < pattern; ++i) store_from_float(dt, host.data(), int64_t(i), nd(rng));
  for (size_t off = pattern * eb; off < host.size(); off += pattern * eb)
    std::copy_n(host.begin(), std::min(pattern * eb, host.size() - off), host.begin() + off);
  DeviceBuffer b(be, host.size());
  be.copy_to_device(b.get(), host.data(), host.size());
  return b;
}

void run_bench_decode(BenchDecodeArgs a) {
  RuntimeOptions opts;
  opts.device = a.device;
  auto rt = Runtime::create(parse_backend_kind(a.backend), opts);
  if (!a.db.empty())  // tuned configs (exact -> nearest bucket -> same arch -> default)
    rt->set_config_provider(std::make_shared<DbConfigProvider>(a.db, tuner::device_info_for(rt->backend())));
  Backend& be = rt->backend();
  const bool cpu = rt->target().platform == Platform::Cpu;
  if (a.batches.empty()) a.batches = cpu ? std::vector<int64_t>{1, 8} : std::vector<int64_t>{1, 8, 64};
  if (a.kv_lens.empty()) a.kv_lens = cpu ? std::vector<int64_t>{4096, 32768} : std::vector<int64_t>{4096, 32768, 131072};
  if (a.warmup < 0 || a.reps < 1) throw UsageError("--warmup must be >= 0 and --reps >= 1");
  const DType dt = parse_dtype(a.dtype);
  const int eb = dtype_bytes(dt);

  if (!a.json) {
    std::printf("attnjit bench-decode on %s (%s, hd %d, %lld query heads, %lld token(s), page %d)\n",
                be.describe().c_str(), a.dtype.c_str(), a.head_dim, static_cast<long long>(a.heads_q),
                static_cast<long long>(a.q_tokens), a.page_size);
    std::printf("%5s %7s %5s %-22s %6s %10s %10s\n", "batch", "kv_len", "gqa", "config", "splits", "median", "GB/s");
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
        r.kv_bytes = double(batch) * len * row * 2 * eb;
        if (r.kv_bytes > a.max_gib * double(1 << 30)) {
          r.skipped = "K/V cache exceeds --max-gib";
          rows.push_back(r);
          if (!a.json)
            std::printf("%5lld %7lld %5lld   skipped: %.1f GiB of K/V\n", static_cast<long long>(batch),
                        static_cast<long long>(len), static_cast<long long>(g), r.kv_bytes / double(1 << 30));
          continue;
        }
        DecodeArgs args;
        DecodeProblem& p = args.problem;
        p.dtype = dt;
        p.head_dim = a.head_dim;
        p.batch = batch;
        p.heads_q = a.heads_q;
        p.heads_kv = r.heads_kv;
        p.q_tokens = a.q_tokens;
        p.max_seqlen_k = len;
        p.page_size = a.page_size;
        const int64_t cap_pages = a.page_size ? (len + a.page_size - 1) / a.page_size : 0;
        p.kv_capacity = a.page_size ? cap_pages * a.page_size : len;
        p.num_pages = a.page_size ? batch * cap_pages : 0;
        const size_t kv_elems = size_t(batch * p.kv_capacity * row);
        DeviceBuffer q = random_buffer(be, dt, size_t(batch * a.q_tokens * a.heads_q * a.head_dim), 1);
        DeviceBuffer k = random_buffer(be, dt, kv_elems, 2), v = random_buffer(be, dt, kv_elems, 3);
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
        // the backend; the split count is the one the decode module chose.
        const PreparedLaunch pl = rt->prepare_launch(args);
        const PreparedKernel& pk = pl.kernel;
        DecodeParams chosen{};
        std::memcpy(&chosen, pl.params.data(), std::min(sizeof chosen, pl.params.size()));
        r.splits = chosen.num_splits;
        r.config = pk.config.key();
        r.config_source = pk.config_source;
        std::vector<double> t = be.time({Backend::Launch{pk.kernel.get(), pk.geometry, pl.params}},
                                        a.warmup, a.reps);
        std::sort(t.begin(), t.end());
        r.median_ms = t[t.size() / 2];
        r.min_ms = t.front();
        r.gbps = r.kv_bytes / (r.median_ms * 1e-3) / 1e9;
        if (!a.json) {
          std::printf("%5lld %7lld %5lld %-22s %6d %8.3fms %10.1f\n", static_cast<long long>(batch),
                      static_cast<long long>(len), static_cast<long long>(g), r.config.c_str(), r.splits,
                      r.median_ms, r.gbps);
          std::fflush(stdout);
        }
        rows.push_back(r);
      }
  if (a.json) {
    nlohmann::json j;
    j["device"] = rt->target().device_name;
    j["target"] = rt->target().key();
    j["backend"] = be.describe();
    j["dtype"] = a.dtype;
    j["head_dim"] = a.head_dim;
    j["heads_q"] = a.heads_q;
    j["q_tokens"] = a.q_tokens;
    j["page_size"] = a.page_size;
    j["metric"] = "K+V bytes read / median time (GB/s = 1e9 bytes/s)";
    nlohmann::json arr = nlohmann::json::array();
    for (const Row& r : rows) {
      nlohmann::json x = {{"batch", r.batch}, {"kv_len", r.kv_len}, {"gqa", r.group}, {"heads_kv", r.heads_kv},
                          {"kv_bytes", r.kv_bytes}};
      if (!r.skipped.empty()) {
        x["skipped"] = r.skipped;
      } else {
        x.update({{"config", r.config}, {"config_source", r.config_source}, {"splits", r.splits},
                  {"median_ms", r.median_ms}, {"min_ms", r.min_ms}, {"gbps", r.gbps}});
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
  c->add_option("--page-size", a->page_size, "0 = contiguous cache, else 16..256")->capture_default_str();
  c->add_option("--max-gib", a->max_gib, "skip grid points whose K/V cache exceeds this")->capture_default_str();
  c->add_option("--warmup", a->warmup, "unmeasured runs first")->capture_default_str();
  c->add_option("--reps", a->reps, "measured runs (the median is reported)")->capture_default_str();
  c->add_option("--device", a->device, "CUDA device ordinal (-1 = current / 0)")->capture_default_str();
  c->add_option("--db", a->db, "tuning database: time the tuned configs (default: built-in defaults)");
  c->add_flag("--json", a->json, "print JSON instead of a table");
  c->callback([a] { run_bench_decode(*a); });
});

}  // namespace
}  // namespace attnjit::cli
