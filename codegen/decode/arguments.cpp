#include "codegen/decode/arguments.h"

#include "codegen/tensor_args.h"
#include "codegen/param_checks.h"
#include "codegen/decode/plan.h"
#include "codegen/kernel_template.h"
#include "codegen/prefill/user_arguments.h"
#include "codegen/score_variant_args.h"
#include "codegen/snippet.h"
#include "codegen/user_variant.h"
#include "templates/prefill/params.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

namespace attnjit {
namespace {

using detail::check_int32;
using detail::check_no_overlap;
using detail::Dim;
using detail::str;

// The strided-view checks every family shares (codegen/tensor_args.h).
void check_tensor(const std::string& name, const TensorView& t, Dim d0, Dim d1, Dim d2, int64_t head_dim,
                  int elem, Platform platform, bool output) {
  detail::check_strided_tensor(name, t, d0, d1, d2, head_dim, elem, platform, output);
}

bool paged(const DecodeProblem& p) { return p.page_size != 0; }

// fp8 caches take one f32 scale per tensor or per KV head, for K and for V; others take none.
void check_kv_scales(const DecodeArgs& a, Platform platform) {
  const DecodeProblem& p = a.problem;
  const bool fp8 = p.kv_dtype != KvDType::Same;
  for (auto [name, s] : {std::pair<const char*, const float*>{"k_scale", a.k_scale}, {"v_scale", a.v_scale}}) {
    if (!fp8) {
      if (s) throw SpecError(std::string(name) + ": only an fp8 KV cache (kv_dtype e4m3 / e5m2) takes scales");
      continue;
    }
    if (!s) throw SpecError(std::string(name) + ": null pointer (an fp8 KV cache needs its f32 scales)");
    if (reinterpret_cast<uintptr_t>(s) % alignof(float) != 0)
      throw SpecError(std::string(name) + ": not aligned to 4-byte floats");
    if (platform != Platform::Cpu) continue;  // device memory: not read back per call
    for (int64_t h = 0; h < (a.kv_scale_per_head ? p.heads_kv : 1); ++h)
      if (!std::isfinite(s[h]))
        throw SpecError(std::string(name) + "[" + str(h) + "]: must be finite, got " + std::to_string(s[h]));
  }
  if (!fp8 && a.kv_scale_per_head)
    throw SpecError("kv_scale_per_head: only an fp8 KV cache (kv_dtype e4m3 / e5m2) takes scales");
}

}  // namespace

void validate_decode_problem(const DecodeProblem& p) {
  detail::check_problem_dims(p.head_dim, p.batch, p.heads_q, p.heads_kv);
  if (p.q_tokens < 1 || p.q_tokens > 16)
    throw SpecError("q_tokens: decode query tokens per sequence must be in 1..16, got " + str(p.q_tokens));
  if (p.max_seqlen_k < 0) throw SpecError("max_seqlen_k: must be >= 0, got " + str(p.max_seqlen_k));
  if (p.kv_capacity < p.max_seqlen_k)
    throw SpecError("max_seqlen_k: " + str(p.max_seqlen_k) + " exceeds the cache's kv_capacity " +
                    str(p.kv_capacity));
  validate_page_size(p.page_size);
  if (p.page_size != 0) {
    if (p.kv_capacity % p.page_size != 0)
      throw SpecError("kv_capacity: must be a whole number of pages (" + str(p.kv_capacity) + " % " +
                      std::to_string(p.page_size) + " != 0)");
    if (p.num_pages < 1) throw SpecError("num_pages: a paged cache needs >= 1 page, got " + str(p.num_pages));
    check_int32("num_pages", p.num_pages);
  } else if (p.num_pages != 0) {
    throw SpecError("num_pages: only a paged cache (page_size > 0) has pages, got " + str(p.num_pages));
  }
  check_int32("batch", p.batch);
  check_int32("heads_q", p.heads_q);
  check_int32("kv_capacity", p.kv_capacity);
  if (p.batch > 65535) throw SpecError("batch: at most 65535 sequences per call, got " + str(p.batch));
  if (!std::isfinite(p.scale)) throw SpecError("scale: must be finite, got " + std::to_string(p.scale));
  validate_mask(p.mask);
}

ProblemSpec decode_spec(const DecodeProblem& p) {
  validate_decode_problem(p);
  if (p.batch < 1) throw SpecError("batch: an empty problem has no kernel");
  ProblemSpec spec = ProblemSpec::for_shape(Family::Decode, p.dtype, p.head_dim, p.mask, p.heads_q, p.heads_kv, p.q_tokens,
                                p.max_seqlen_k, p.page_size);
  spec.softcap = p.softcap;
  spec.kv_dtype = p.kv_dtype;
  spec.alibi = p.alibi;
  spec.sink = p.sink;
  if (!p.score_mod.empty()) spec.score_mod = register_snippet(p.score_mod, "score_mod");
  if (!p.mask_mod.empty()) spec.mask_mod = register_snippet(p.mask_mod, "mask_mod");
  spec.validate();
  return spec;
}

RunShape decode_shape(const DecodeProblem& p) {
  return {.batch = p.batch, .heads_q = p.heads_q, .heads_kv = p.heads_kv, .seqlen_q = p.q_tokens,
          .seqlen_k = p.max_seqlen_k};
}

void validate_decode_args(const DecodeArgs& a, Platform platform) {
  const DecodeProblem& p = a.problem;
  validate_decode_problem(p);
  if (p.batch == 0) return;  // nothing is read or written
  const int64_t d = p.head_dim;
  check_tensor("q", a.q, {p.batch, a.q.batch_stride, "batch_stride"}, {p.q_tokens, a.q.seq_stride, "seq_stride"},
               {p.heads_q, a.q.head_stride, "head_stride"}, d, dtype_bytes(p.dtype), platform, false);
  check_tensor("o", a.o, {p.batch, a.o.batch_stride, "batch_stride"}, {p.q_tokens, a.o.seq_stride, "seq_stride"},
               {p.heads_q, a.o.head_stride, "head_stride"}, d, dtype_bytes(p.dtype), platform, true);
  const int64_t outer = paged(p) ? p.num_pages : p.batch;
  const int64_t rows = paged(p) ? p.page_size : p.kv_capacity;
  // K and V are never read when every sequence is empty (null is then fine, as in PyTorch).
  for (auto [name, t] : {std::pair<const char*, const TensorView*>{"k", &a.k}, {"v", &a.v}})
    if (p.max_seqlen_k > 0 || t->data)
      check_tensor(name, *t, {outer, t->batch_stride, "batch_stride"}, {rows, t->seq_stride, "seq_stride"},
                   {p.heads_kv, t->head_stride, "head_stride"}, d, kv_dtype_bytes(p.dtype, p.kv_dtype), platform,
                   false);
  check_kv_scales(a, platform);
  validate_score_variant_args({p.alibi, p.sink, a.alibi_slopes, a.alibi_batch_stride, a.sinks}, p.batch, p.heads_q,
                              platform);
  UserModParams aux;  // the aux tensors' checks are prefill's
  fill_aux_params(a.aux, aux);
  if (a.lse.data) {
    if (a.lse.batch_stride < 0) throw SpecError("lse.batch_stride: must be >= 0, got " + str(a.lse.batch_stride));
    if (a.lse.head_stride < 0) throw SpecError("lse.head_stride: must be >= 0, got " + str(a.lse.head_stride));
    if (reinterpret_cast<uintptr_t>(a.lse.data) % alignof(float) != 0)
      throw SpecError("lse.data: not aligned to 4-byte floats");
    check_no_overlap("lse", {{p.batch, a.lse.batch_stride, "batch_stride"}, {p.heads_q, a.lse.head_stride, "head_stride"}},
                     p.q_tokens);
  }
  if (reinterpret_cast<uintptr_t>(a.seqlens_k) % alignof(int32_t) != 0)
    throw SpecError("seqlens_k: not aligned to 4-byte ints");
  const int64_t max_pages = paged(p) ? p.kv_capacity / p.page_size : 0;
  if (paged(p)) {
    if (!a.block_table) throw SpecError("block_table: null pointer (required with page_size > 0)");
    if (reinterpret_cast<uintptr_t>(a.block_table) % alignof(int32_t) != 0)
      throw SpecError("block_table: not aligned to 4-byte ints");
    if (p.batch > 1 && a.block_table_stride < max_pages)
      throw SpecError("block_table_stride: " + str(a.block_table_stride) + " is less than the " + str(max_pages) +
                      " pages per sequence (kv_capacity / page_size)");
    check_int32("block_table_stride", a.block_table_stride);
  } else if (a.block_table) {
    throw SpecError("block_table: only a paged cache (page_size > 0) takes a block table");
  }
  // On the CPU the lengths and page indices are host memory: check each one (on GPUs they are
  // device memory; reading them back would cost a synchronization per call).
  if (platform == Platform::Cpu) {
    for (int64_t b = 0; b < p.batch; ++b) {
      const int64_t len = a.seqlens_k ? a.seqlens_k[b] : p.max_seqlen_k;
      if (len < 0 || len > p.max_seqlen_k)
        throw SpecError("seqlens_k[" + str(b) + "]: " + str(len) + " is outside 0..max_seqlen_k (" +
                        str(p.max_seqlen_k) + ")");
      if (!paged(p)) continue;
      for (int64_t pg = 0; pg < (len + p.page_size - 1) / p.page_size; ++pg) {
        const int64_t idx = a.block_table[b * a.block_table_stride + pg];
        if (idx < 0 || idx >= p.num_pages)
          throw SpecError("block_table[" + str(b) + "][" + str(pg) + "]: page " + str(idx) + " is outside 0.." +
                          str(p.num_pages - 1));
      }
    }
  }
}

DecodeParams make_decode_params(const DecodeArgs& a, Platform platform) {
  validate_decode_args(a, platform);
  const DecodeProblem& p = a.problem;
  DecodeParams r{};
  detail::copy_tensor_args(r, a);
  r.block_table = a.block_table;
  r.seqlens_k = a.seqlens_k;
  r.block_table_stride = a.block_table ? a.block_table_stride : 0;
  r.batch = static_cast<int>(p.batch);
  r.heads_q = static_cast<int>(p.heads_q);
  r.heads_kv = static_cast<int>(p.heads_kv);
  r.q_tokens = static_cast<int>(p.q_tokens);
  r.seqlen_k = static_cast<int>(p.max_seqlen_k);
  r.page_size = p.page_size;
  r.num_splits = 1;
  r.row_chunks = 1;
  detail::set_softmax_scale(r, p.scale, p.head_dim);
  r.k_scale = a.k_scale;
  r.v_scale = a.v_scale;
  r.kv_scale_stride = a.kv_scale_per_head ? 1 : 0;
  return r;
}

namespace {
int64_t align256(int64_t n) { return (n + 255) / 256 * 256; }
}  // namespace

WorkspaceSize decode_workspace_bytes(const ProblemSpec& spec, const TileConfig& cfg,
                                     const Target& target, const RunShape& shape) {
  const int splits = decode_num_splits(spec, cfg, target, shape);
  const DecodeWorkspace w =
      decode_workspace(spec, cfg, shape, splits, decode_combine_group(spec, cfg, target, splits));
  return {w.counter_bytes, align256(w.partial_o_bytes) + w.partial_lse_bytes};
}

std::vector<unsigned char> decode_arguments(const ProblemSpec& spec, const TileConfig& cfg,
                                            const Target& target, const LaunchArgs& args,
                                            const Workspace& ws) {
  if (!args.decode || args.prefill)
    throw SpecError("launch: a decode template takes decode arguments");
  // A kernel built with(out) a variant reads a different parameter block.
  const DecodeProblem& prob = args.decode->problem;
  if (prob.alibi != spec.alibi || prob.sink != spec.sink)
    throw SpecError(std::string(prob.alibi != spec.alibi ? "alibi" : "sink") +
                    ": the arguments' problem and the kernel's spec " + spec.key() + " disagree");
  DecodeParams p = make_decode_params(*args.decode, target.platform);
  const RunShape shape = decode_shape(args.decode->problem);
  const int splits = decode_num_splits(spec, cfg, target, shape);
  p.num_splits = splits;
  p.row_chunks = static_cast<int>(decode_row_chunks(spec, cfg));
  if (splits > 1) {
    const DecodeWorkspace w =
        decode_workspace(spec, cfg, shape, splits, decode_combine_group(spec, cfg, target, splits));
    if (!ws.zeroed || !ws.scratch)
      throw SpecError("workspace: " + std::to_string(splits) + " KV splits need " +
                      std::to_string(w.counter_bytes) + " zeroed and " +
                      std::to_string(align256(w.partial_o_bytes) + w.partial_lse_bytes) +
                      " scratch bytes (workspace_bytes), got none");
    auto* scratch = static_cast<unsigned char*>(ws.scratch);
    p.counters = static_cast<int*>(ws.zeroed);
    p.partial_o = reinterpret_cast<float*>(scratch);
    p.partial_lse = reinterpret_cast<float*>(scratch + align256(w.partial_o_bytes));
    p.combine_group = w.combine_group;
  }
  // User mods: the kernel was compiled with the spec's snippets; the problem must name the same.
  if (has_user_variants(spec) || !prob.score_mod.empty() || !prob.mask_mod.empty())
    for (auto [field, text, hash] : {std::tuple{"score_mod", &prob.score_mod, &spec.score_mod},
                                     std::tuple{"mask_mod", &prob.mask_mod, &spec.mask_mod}})
      if ((text->empty() ? std::string() : snippet_hash(*text)) != *hash)
        throw SpecError(std::string(field) + ": the arguments' problem and the kernel's spec " + spec.key() +
                        " disagree");
  auto bytes = [](const auto& block) {
    const auto* b = reinterpret_cast<const unsigned char*>(&block);
    return std::vector<unsigned char>(b, b + sizeof block);
  };
  // The variant kernels' parameter blocks (templates/decode/variants.h): ALiBi / sinks, then the
  // user mods' aux tensors.
  DecodeVariantParams v{};
  static_cast<DecodeParams&>(v) = p;
  v.alibi_slopes = args.decode->alibi_slopes;
  v.alibi_batch_stride = args.decode->alibi_slopes ? args.decode->alibi_batch_stride : 0;
  v.sinks = args.decode->sinks;
  if (has_user_variants(spec)) {
    DecodeModParamsT<UserModParams> m{};
    static_cast<DecodeVariantParams&>(m) = v;
    fill_aux_params(args.decode->aux, m.user);
    return bytes(m);
  }
  if (spec.alibi || spec.sink) return bytes(v);
  return bytes(p);
}

}  // namespace attnjit
