// attnjit — the application-facing API.
//
//   auto rt = attnjit::Runtime::create();                 // CUDA if a GPU is usable, else CPU
//   attnjit::PrefillArgs a;
//   a.problem = {.dtype = attnjit::DType::BF16, .head_dim = 128,
//                .mask = {attnjit::MaskKind::Causal}, .batch = 2, .heads_q = 32,
//                .heads_kv = 8, .seqlen_q = 4096, .seqlen_k = 4096};
//   a.q = attnjit::TensorView::bshd(q_ptr, 4096, 32, 128);  // or ::bhsd(...), or any strides
//   ... a.k, a.v, a.o likewise; a.lse optional
//   rt->prefill(a, stream);                                 // enqueued on `stream` (CUstream)
//
// The first call for a problem compiles its kernel (NVRTC / clang, ~0.1-2 s; cached in memory
// and on disk), later calls only pick the cached kernel and launch. Every argument is checked:
// bad input throws SpecError naming the field; device / compiler failures throw BackendError.
// A Runtime is thread-safe: concurrent calls for one new problem compile its kernel once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "codegen/kernel_template.h"
#include "codegen/problem_spec.h"
#include "codegen/tile_config.h"
#include "codegen/types.h"
#include "runtime/backend.h"

namespace attnjit {

class ConfigProvider;  // api/config_provider.h

enum class BackendKind { Auto, Cuda, Cpu };
std::string_view to_string(BackendKind k);         // "auto" | "cuda" | "cpu"
BackendKind parse_backend_kind(std::string_view s);  // throws SpecError

struct RuntimeOptions {
  int device = -1;           // CUDA device ordinal; -1 = the current context's device, else 0
  bool disk_cache = true;    // keep compiled kernels on disk across processes
  // Disk cache root; empty = $ATTNJIT_CACHE_DIR, $XDG_CACHE_HOME/attnjit or ~/.cache/attnjit.
  std::filesystem::path cache_dir;
  // Picks each problem's TileConfig; null = the templates' built-in defaults.
  std::shared_ptr<ConfigProvider> config_provider;
};

// A [batch, seq, heads, head_dim] tensor: data pointer plus strides in ELEMENTS for the first
// three dimensions; head_dim is contiguous. BSHD and BHSD layouts (and padded or sliced views
// of them) are all expressible. Inputs may use stride 0 to broadcast; outputs must not overlap.
struct TensorView {
  const void* data = nullptr;
  int64_t batch_stride = 0;
  int64_t seq_stride = 0;
  int64_t head_stride = 0;

  // Dense [batch, seqlen, heads, head_dim] (FlashAttention's layout).
  static TensorView bshd(const void* data, int64_t seqlen, int64_t heads, int64_t head_dim);
  // Dense [batch, heads, seqlen, head_dim] (PyTorch SDPA's layout).
  static TensorView bhsd(const void* data, int64_t seqlen, int64_t heads, int64_t head_dim);
};

// Log-sum-exp output, fp32: lse[b, h, i] at data[b * batch_stride + h * head_stride + i].
struct LseView {
  float* data = nullptr;  // null = not wanted
  int64_t batch_stride = 0;
  int64_t head_stride = 0;

  // Dense [batch, heads, seqlen].
  static LseView dense(float* data, int64_t heads, int64_t seqlen);
};

// The problem of one prefill call (no pointers): what prepare_prefill needs.
struct PrefillProblem {
  DType dtype = DType::BF16;
  int head_dim = 128;
  MaskSpec mask;          // bottom-right aligned (query i sits at key position i + sk - sq)
  int64_t batch = 1;
  int64_t heads_q = 1;
  int64_t heads_kv = 1;   // heads_q % heads_kv == 0 (GQA / MQA)
  int64_t seqlen_q = 1;
  int64_t seqlen_k = 1;
  double scale = 0;       // softmax scale; 0 = 1 / sqrt(head_dim)
};

struct PrefillArgs {
  PrefillProblem problem;
  TensorView q, k, v;     // read: q [b, sq, hq, d], k / v [b, sk, hkv, d]
  TensorView o;           // written: [b, sq, hq, d], same dtype
  LseView lse;            // optional output
};

// Everything needed to launch one problem without deciding anything again: what the service
// hands out and what prefill() launches.
struct PreparedKernel {
  ProblemSpec spec;
  const KernelTemplate* tmpl = nullptr;
  TileConfig config;
  std::string config_source;   // where the config came from ("default", "db:exact", ...)
  std::shared_ptr<const CompiledKernel> kernel;
  LaunchGeometry geometry;     // for the shape it was prepared with
};

// ---- Decode (api/decode.cpp) ---------------------------------------------------------------
// A few query tokens per sequence against a KV cache that is contiguous or paged, with ragged
// lengths. Split-KV ("flash-decoding"): the KV range is cut into splits run in parallel and
// merged exactly inside the same launch; the split workspace is allocated by the Runtime.
//
//   attnjit::DecodeArgs a;
//   a.problem = {.dtype = attnjit::DType::BF16, .head_dim = 128, .batch = 8, .heads_q = 32,
//                .heads_kv = 8, .q_tokens = 1, .max_seqlen_k = 32768, .kv_capacity = 32768,
//                .page_size = 16, .num_pages = 16384};
//   a.q = TensorView::bshd(q, 1, 32, 128);  a.o = TensorView::bshd(o, 1, 32, 128);
//   a.k = a.v = {cache, page_stride, row_stride, head_stride} (pages [num_pages, 16, 8, 128]);
//   a.seqlens_k = lens;  a.block_table = table;  a.block_table_stride = 2048;
//   rt->decode(a, stream);
struct DecodeProblem {
  DType dtype = DType::BF16;
  int head_dim = 128;
  // Bottom-right aligned per sequence: query token t of a sequence with L keys sits at key
  // position L - q_tokens + t (causal: sees keys <= that position).
  MaskSpec mask;
  int64_t batch = 1;
  int64_t heads_q = 1;
  int64_t heads_kv = 1;      // heads_q % heads_kv == 0; one kernel CTA reads a KV head once for its group
  int64_t q_tokens = 1;      // query tokens per sequence, 1..16
  int64_t max_seqlen_k = 0;  // the longest sequence of the call (>= every seqlens_k[b]); picks the bucket and splits
  // Keys one sequence can hold: contiguous cache — its seq extent; paged — max pages per
  // sequence (block_table columns) * page_size.
  int64_t kv_capacity = 0;
  int page_size = 0;         // 0 = contiguous; else a power of two in 16..256
  int64_t num_pages = 0;     // paged: pages in the cache (block_table entries are < num_pages)
  double scale = 0;          // softmax scale; 0 = 1 / sqrt(head_dim)
};

struct DecodeArgs {
  DecodeProblem problem;
  TensorView q;              // read: [batch, q_tokens, heads_q, head_dim]
  // Read. Contiguous: [batch, kv_capacity, heads_kv, head_dim]. Paged: [num_pages, page_size,
  // heads_kv, head_dim] — batch_stride is then the stride between pages.
  TensorView k, v;
  TensorView o;              // written: [batch, q_tokens, heads_q, head_dim], same dtype
  LseView lse;               // optional: [batch, heads_q, q_tokens], natural log
  // KV length per sequence, int32 [batch], in the backend's memory; null = every sequence has
  // max_seqlen_k keys. On the CPU backend the values are checked against max_seqlen_k.
  const int32_t* seqlens_k = nullptr;
  // Paged only: int32 [batch, kv_capacity / page_size] page indices, in the backend's memory;
  // row b starts at block_table + b * block_table_stride. Checked on the CPU backend.
  const int32_t* block_table = nullptr;
  int64_t block_table_stride = 0;
};

class Runtime {
 public:
  // Auto: CUDA when a driver, a device and NVRTC are usable, else the CPU backend. Throws
  // BackendError saying why the requested kind (or, for Auto, every kind) is unavailable.
  static std::unique_ptr<Runtime> create(BackendKind kind = BackendKind::Auto,
                                         RuntimeOptions options = {});
  // Wraps a backend the caller built (tests, custom backends).
  explicit Runtime(std::unique_ptr<Backend> backend, RuntimeOptions options = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  Backend& backend() { return *backend_; }
  const Target& target() const { return backend_->target(); }

  // Replaces the config provider (null = defaults) and forgets every prepared plan, so the new
  // provider is asked again. Safe to call while other threads launch.
  void set_config_provider(std::shared_ptr<ConfigProvider> provider);
  std::shared_ptr<ConfigProvider> config_provider() const;
  // Forgets prepared plans (e.g. after new tuning results arrived); kernels stay cached.
  void clear_plans();

  // Validates, picks the config, compiles (or takes the cached kernel) — does not launch.
  PreparedKernel prepare_prefill(const PrefillProblem& problem);
  // Validates everything, then launches on `stream` (a CUstream on GPUs; nullptr = default
  // stream; ignored by the CPU backend, which runs synchronously). An empty problem
  // (batch == 0) is a no-op.
  void prefill(const PrefillArgs& args, void* stream = nullptr);

  // The family-independent step prefill (and decode) share: config choice, render, compile —
  // memoized per ProblemSpec key — plus the launch geometry for `shape`.
  PreparedKernel prepare(const ProblemSpec& spec, const RunShape& shape);

  // ---- Decode (api/decode.cpp) ----
  // Validates, picks the config, compiles — does not launch. The geometry includes the split
  // count the call would use.
  PreparedKernel prepare_decode(const DecodeProblem& problem);
  // Validates everything (SpecError naming the field), then launches one kernel on `stream`;
  // splits are merged inside it. batch == 0 is a no-op. The split workspace is owned by the
  // Runtime, one per stream, grown on demand (its counters are zeroed once, when allocated).
  void decode(const DecodeArgs& args, void* stream = nullptr);

 private:
  struct Plan {
    const KernelTemplate* tmpl;
    TileConfig config;
    std::string config_source;
    std::shared_ptr<const CompiledKernel> kernel;
  };
  std::shared_ptr<const Plan> plan_for(const ProblemSpec& spec);
  // Plans are keyed by the spec's fields (not its key() string, which costs allocations on
  // every call of the hot path).
  struct SpecHash {
    size_t operator()(const ProblemSpec& s) const noexcept;
  };

  std::unique_ptr<Backend> backend_;
  RuntimeOptions options_;
  mutable std::shared_mutex mu_;
  std::shared_ptr<ConfigProvider> provider_;
  std::unordered_map<ProblemSpec, std::shared_ptr<const Plan>, SpecHash> plans_;
  uint64_t generation_ = 0;  // bumped whenever plans_ is cleared

  // ---- Decode state (api/decode.cpp) ----
  struct DecodeWorkspaces;  // split workspaces per stream
  std::mutex decode_mu_;
  std::shared_ptr<DecodeWorkspaces> decode_ws_;
};

}  // namespace attnjit
