// `attnjit bench`: prefill forward TFLOP/s over the FlashAttention benchmark grid — a fixed
// number of tokens (batch = total / seqlen), a fixed hidden size (heads = hidden / head dim),
// FLOPs = 4·B·H·S·S·D, halved for causal (sliding windows: 4·B·H·D per visible (query, key)
// pair), median of CUDA-event timings after a warm-up. Runs through the public
// Runtime, so it measures what applications get (the configured ConfigProvider's choice).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <random>

#include "api/config_provider.h"
#include "codegen/registry.h"
#include "api/db_config_provider.h"
#include "runtime/backend.h"
#include "attnjit/attnjit.h"
#include "tuner/result_store.h"
#include "tuner/score_variant_data.h"
#include "cli/command.h"
#include "cli/bench_options.h"
#include "cli/bench_varlen.h"
#include "cli/snippet_args.h"
#include "runtime/half.h"

namespace attnjit::cli {
namespace {

struct BenchArgs {
  std::string db;  // tuning database: tuned configs instead of the defaults
  std::string backend = "auto";
  std::vector<std::string> dtypes = {"bf16", "f16"};
  std::vector<int> head_dims = {64, 128, 256};
  std::vector<std::string> masks = {"none", "causal"};  // none | causal | sw<left>-<right>
  std::vector<int64_t> seqlens;                         // default: 512 .. total tokens
  int64_t total_tokens = 0;                             // default: 16384 (GPU), 2048 (CPU)
  int64_t hidden = 2048;
  int64_t heads_kv = 0;                                 // 0 = same as heads_q (MHA)
  int warmup = 5, reps = 20;
  int device = -1;
  std::string config;                                   // force one tile config
  std::string tmpl;                                     // force one template's default config
  bool lse = false;
  double softcap = 0;   // score variants of every grid point
  bool alibi = false;   // random slopes (tuner::ScoreVariantData)
  bool sinks = false;   // random sink logits
  bool json = false;
  bool no_disk_cache = false;
  std::vector<int64_t> varlen_seqlens;                  // --seqlens: one varlen call (cli/bench_varlen.h)
  int page_size = 0;                                    // with --seqlens: paged K/V
  SnippetFiles snippets;     // --score-mod / --mask-mod (no aux tensors: snippets must not read any)
  int block_sparse = 0;      // build a block mask at this tile from the mask and mask_mod
};

// Hands out the default config of one named template (the --template option), e.g. sm90 on
// sm_90a where it is not (yet) the default template.
class TemplateDefault final : public ConfigProvider {
 public:
  explicit TemplateDefault(std::string t) : t_(std::move(t)) {}
  ConfigChoice choose(const KernelTemplate&, const ProblemSpec& spec, const Target& target) override {
    TileConfig named;
    named.tmpl = t_;
    return {template_for(spec, target, named).default_config(spec, target), "template " + t_};
  }

 private:
  std::string t_;
};

}  // namespace

MaskSpec parse_mask(const std::string& s) {
  if (s.rfind("sw", 0) == 0 && s.size() > 2) {
    // sw<left>-<right>, the ProblemSpec key's spelling
    const auto dash = s.find('-', 2);
    if (dash == std::string::npos) throw UsageError("mask: expected sw<left>-<right>, got '" + s + "'");
    try {
      return {MaskKind::SlidingWindow, std::stoll(s.substr(2, dash - 2)), std::stoll(s.substr(dash + 1))};
    } catch (const std::exception&) {
      throw UsageError("mask: expected sw<left>-<right>, got '" + s + "'");
    }
  }
  MaskKind k = parse_mask_kind(s);
  if (k == MaskKind::SlidingWindow) throw UsageError("mask: give the window as sw<left>-<right>");
  return {k, 0, 0};
}

namespace {

// (query, key) pairs the mask leaves visible, for one head of one sequence.
double visible_pairs(const MaskSpec& m, int64_t sq, int64_t sk) {
  double n = 0;
  for (int64_t i = 0; i < sq; ++i) {
    const int64_t p = i + sk - sq;  // bottom-right aligned position
    int64_t lo = 0, hi = sk - 1;
    if (m.kind == MaskKind::Causal) hi = std::min(hi, p);
    if (m.kind == MaskKind::SlidingWindow) {
      lo = std::max<int64_t>(lo, p - m.window_left);
      hi = std::min(hi, p + m.window_right);
    }
    if (hi >= lo) n += static_cast<double>(hi - lo + 1);
  }
  return n;
}

std::string mask_name(const MaskSpec& m) {
  if (m.kind == MaskKind::SlidingWindow)
    return "sw" + std::to_string(m.window_left) + "-" + std::to_string(m.window_right);
  return std::string(to_string(m.kind));
}

struct Row {
  std::string dtype, mask, config, config_source;
  int head_dim = 0;
  int64_t seqlen = 0, batch = 0, heads_q = 0, heads_kv = 0;
  double compile_ms = 0, median_ms = 0, min_ms = 0, tflops = 0;
  bool from_disk_cache = false;
};

// Device buffer filled with N(0,1) values of the dtype (values matter little for timing, but
// zeros would let the hardware skip work on some paths).
}  // namespace

DeviceBuffer random_buffer(Backend& be, DType dt, size_t elems, uint64_t seed) {
  const int eb = dtype_bytes(dt);
  std::vector<unsigned char> host(elems * eb);
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (size_t i = 0; i < elems; ++i) store_from_float(dt, host.data(), static_cast<int64_t>(i), nd(rng));
  DeviceBuffer b(be, host.size());
  be.copy_to_device(b.get(), host.data(), host.size());
  return b;
}

namespace {

void run_bench(BenchArgs a) {
  check_bench_timing(a.warmup, a.reps);
  RuntimeOptions opts;
  opts.device = a.device;
  opts.disk_cache = !a.no_disk_cache;
  if (!a.config.empty()) opts.config_provider = forced_config_provider(TileConfig::parse(a.config));
  if (!a.db.empty() && !a.config.empty()) throw UsageError("--db and --config exclude each other");
  if (!a.tmpl.empty() && (!a.config.empty() || !a.db.empty()))
    throw UsageError("--template excludes --config and --db (a config names its template)");
  if (!a.tmpl.empty()) opts.config_provider = std::make_shared<TemplateDefault>(a.tmpl);
  auto rt = bench_runtime(a.backend, opts, a.db);
  Backend& be = rt->backend();
  if (!a.varlen_seqlens.empty()) {
    VarlenBenchArgs v{a.dtypes, a.masks, a.head_dims, a.varlen_seqlens, a.hidden, a.heads_kv, a.page_size,
                      a.warmup, a.reps, a.json};
    bench_varlen(*rt, v);
    return;
  }
  if (a.page_size != 0) throw UsageError("--page-size needs --seqlens");
  const bool cpu = rt->target().platform == Platform::Cpu;
  if (a.total_tokens == 0) a.total_tokens = cpu ? 2048 : 16384;
  if (a.seqlens.empty())
    for (int64_t s = 512; s <= a.total_tokens; s *= 2) a.seqlens.push_back(s);
  // Check the whole grid before timing anything.
  for (int64_t s : a.seqlens)
    if (s < 1 || s > a.total_tokens || a.total_tokens % s != 0)
      throw UsageError("seqlen " + std::to_string(s) + " must divide --total-tokens " + std::to_string(a.total_tokens));
  for (int hd : a.head_dims) {
    if (hd < 1 || a.hidden % hd != 0) throw UsageError("--hidden must be a multiple of every head dim");
    if (a.heads_kv > 0 && (a.hidden / hd) % a.heads_kv != 0)
      throw UsageError("--heads-kv must divide the query heads (hidden / head dim)");
  }
  for (const std::string& dt : a.dtypes) parse_dtype(dt);
  for (const std::string& m : a.masks) parse_mask(m);

  struct Buffers {
    DeviceBuffer q, k, v, o, lse;
  };
  std::map<DType, Buffers> buffers;
  auto buffers_for = [&](DType dt) -> Buffers& {
    auto it = buffers.find(dt);
    if (it != buffers.end()) return it->second;
    const size_t elems = static_cast<size_t>(a.total_tokens * a.hidden);
    Buffers b;
    b.q = random_buffer(be, dt, elems, 1);
    b.k = random_buffer(be, dt, elems, 2);
    b.v = random_buffer(be, dt, elems, 3);
    b.o = DeviceBuffer(be, elems * dtype_bytes(dt));
    // LSE per (token, head) for the smallest head dim asked for.
    const int min_hd = *std::min_element(a.head_dims.begin(), a.head_dims.end());
    if (a.lse) b.lse = DeviceBuffer(be, static_cast<size_t>(a.total_tokens * (a.hidden / min_hd)) * 4);
    return buffers.emplace(dt, std::move(b)).first->second;
  };

  std::vector<Row> rows;
  std::set<const CompiledKernel*> seen_kernels;
  if (!a.json) {
    std::printf("attnjit bench on %s\n", be.describe().c_str());
    std::printf("%-5s %4s %-10s %6s %5s %9s %-22s %9s %9s %8s\n", "dtype", "hd", "mask", "seqlen", "batch",
                "heads", "config", "compile", "median", "TFLOP/s");
  }
  for (const std::string& dts : a.dtypes)
    for (int hd : a.head_dims)
      for (const std::string& ms : a.masks)
        for (int64_t s : a.seqlens) {
          Row r;
          r.dtype = dts;
          r.head_dim = hd;
          const MaskSpec mask = parse_mask(ms);
          r.mask = mask_name(mask) + (a.softcap != 0 ? "+sc" : "") + (a.alibi ? "+alibi" : "") +
                   (a.sinks ? "+sink" : "");
          r.seqlen = s;
          r.batch = a.total_tokens / s;
          r.heads_q = a.hidden / hd;
          r.heads_kv = a.heads_kv > 0 ? a.heads_kv : r.heads_q;
          const DType dt = parse_dtype(dts);

          PrefillArgs args;
          args.problem = {dt, hd, mask, r.batch, r.heads_q, r.heads_kv, s, s, 0.0, a.softcap};
          args.problem.score_mod = a.snippets.score_text;
          args.problem.mask_mod = a.snippets.mask_text;
          BlockMask block_mask;
          if (a.block_sparse > 0) {
            block_mask = build_block_mask(*rt, args.problem, args.aux, a.block_sparse);
            args.problem.block_sparse = a.block_sparse;
            args.block_mask = block_mask.view;
          }
          // Every grid point moves total_tokens x hidden elements per tensor: one set of buffers
          // per dtype serves them all (K/V of a GQA problem use a prefix).
          Buffers& bufs = buffers_for(dt);
          DeviceBuffer& q = bufs.q;
          DeviceBuffer& k = bufs.k;
          DeviceBuffer& v = bufs.v;
          DeviceBuffer& o = bufs.o;
          DeviceBuffer& lse = bufs.lse;
          args.q = TensorView::bshd(q.get(), s, r.heads_q, hd);
          args.k = TensorView::bshd(k.get(), s, r.heads_kv, hd);
          args.v = TensorView::bshd(v.get(), s, r.heads_kv, hd);
          args.o = TensorView::bshd(o.get(), s, r.heads_q, hd);
          if (a.lse) args.lse = LseView::dense(static_cast<float*>(lse.get()), r.heads_q, s);
          const tuner::ScoreVariantData variants(be, a.alibi, a.sinks, r.batch, r.heads_q, 4);
          variants.attach(args);

          const PreparedLaunch pl = rt->prepare_launch(args);
          const PreparedKernel& pk = pl.kernel;
          r.config = pk.config.key();
          r.config_source = pk.config_source;
          r.compile_ms = pk.kernel->compile_ms;
          r.from_disk_cache = pk.kernel->from_disk_cache;
          std::vector<double> t = be.time({Backend::Launch{pk.kernel.get(), pk.geometry, pl.params}},
                                          a.warmup, a.reps);
          std::sort(t.begin(), t.end());
          r.median_ms = t[t.size() / 2];
          r.min_ms = t.front();
          // The FlashAttention convention: causal counts exactly half of S*S; windows count the
          // pairs they leave visible.
          const double pairs = mask.kind == MaskKind::None     ? double(s) * s
                               : mask.kind == MaskKind::Causal ? double(s) * s / 2
                                                               : visible_pairs(mask, s, s);
          const double flops = 4.0 * r.batch * r.heads_q * hd * pairs;
          r.tflops = flops / (r.median_ms * 1e-3) / 1e12;
          if (!a.json) {
            char compile[32];
            if (!seen_kernels.insert(pk.kernel.get()).second)
              std::snprintf(compile, sizeof compile, "reused");  // compiled for an earlier row
            else if (r.from_disk_cache)
              std::snprintf(compile, sizeof compile, "disk");
            else
              std::snprintf(compile, sizeof compile, "%.0f ms", r.compile_ms);
            std::printf(r.tflops < 10 ? "%-5s %4d %-10s %6lld %5lld %4lld/%-4lld %-22s %9s %7.3fms %8.3f\n"
                                      : "%-5s %4d %-10s %6lld %5lld %4lld/%-4lld %-22s %9s %7.3fms %8.1f\n", r.dtype.c_str(), hd,
                        r.mask.c_str(), static_cast<long long>(s), static_cast<long long>(r.batch),
                        static_cast<long long>(r.heads_q), static_cast<long long>(r.heads_kv), r.config.c_str(),
                        compile, r.median_ms, r.tflops);
            std::fflush(stdout);
          }
          rows.push_back(r);
        }
  if (a.json) {
    nlohmann::json j = bench_report_head(*rt);
    j["compiler"] = be.compiler_version();
    j["total_tokens"] = a.total_tokens;
    j["hidden"] = a.hidden;
    j["warmup"] = a.warmup;
    j["reps"] = a.reps;
    j["flops"] = "4*B*H*S*S*D, halved for causal; windows: 4*B*H*D per visible (q,k) pair";
    nlohmann::json arr = nlohmann::json::array();
    for (const Row& r : rows)
      arr.push_back({{"dtype", r.dtype}, {"head_dim", r.head_dim}, {"mask", r.mask}, {"seqlen", r.seqlen},
                     {"batch", r.batch}, {"heads_q", r.heads_q}, {"heads_kv", r.heads_kv},
                     {"config", r.config}, {"config_source", r.config_source},
                     {"compile_ms", r.compile_ms}, {"from_disk_cache", r.from_disk_cache},
                     {"median_ms", r.median_ms}, {"min_ms", r.min_ms}, {"tflops", r.tflops}});
    j["results"] = arr;
    std::cout << j.dump(2) << "\n";
  }
}

const RegisterCommand reg("bench", [](CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  auto* c = app.add_subcommand("bench", "Prefill TFLOP/s over the FlashAttention benchmark grid");
  c->add_option("--backend", a->backend, "auto | cuda | cpu")->capture_default_str();
  c->add_option("--dtype", a->dtypes, "comma-separated: bf16,f16 (f32 on CPU)")->delimiter(',')->capture_default_str();
  c->add_option("--head-dim", a->head_dims, "comma-separated head dims")->delimiter(',')->capture_default_str();
  c->add_option("--mask", a->masks, "comma-separated: none,causal,sw<left>-<right>")->delimiter(',')->capture_default_str();
  c->add_option("--seqlen", a->seqlens, "comma-separated lengths (default 512, 1k, ... up to --total-tokens)")
      ->delimiter(',');
  c->add_option("--seqlens", a->varlen_seqlens,
                 "comma-separated lengths of one varlen (packed) batch, e.g. 300,1024,77: times one varlen "
                 "call against the same tokens as separate calls")
      ->delimiter(',');
  c->add_option("--page-size", a->page_size, "with --seqlens: K/V from a paged cache of this page size (1..256)");
  c->add_option("--total-tokens", a->total_tokens, "tokens per call: batch = total / seqlen (default 16384; 2048 on CPU)");
  c->add_option("--hidden", a->hidden, "hidden size: heads = hidden / head dim")->capture_default_str();
  c->add_option("--heads-kv", a->heads_kv, "KV heads (GQA); 0 = as many as query heads")->capture_default_str();
  add_bench_options(*c, a->warmup, a->reps, a->device, a->db);
  c->add_option("--config", a->config, "force one tile config, e.g. bm128_bn64_w4_s2");
  c->add_option("--template", a->tmpl, "use this template's default configs, e.g. sm90 (sm_90a)");
  c->add_flag("--lse", a->lse, "also write the log-sum-exp");
  c->add_option("--softcap", a->softcap, "logit soft-cap c > 0 for every problem (0 = off)")->capture_default_str();
  c->add_flag("--alibi", a->alibi, "ALiBi with random per-head slopes");
  c->add_flag("--sinks", a->sinks, "attention sinks: a random logit per head");
  c->add_flag("--no-disk-cache", a->no_disk_cache, "compile everything afresh");
  c->add_flag("--json", a->json, "print JSON instead of a table");
  add_snippet_options(c, &a->snippets);
  c->add_option("--block-sparse", a->block_sparse, "block-mask tile (16..128): skip the tiles the mask and mask_mod hide");
  c->callback([a] {
    read_snippet_files(a->snippets);
    run_bench(*a);
  });
});

}  // namespace
}  // namespace attnjit::cli
