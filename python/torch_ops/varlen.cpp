// attnjit::attention_varlen's and attnjit::attention_paged's CPU / CUDA kernels: what
// attnjit/torch.py's Python kernels do, without entering Python (the checks and the launch are
// the module's, ops_table.cpp).
#include "torch_ops.h"

namespace attnjit_torch {
namespace {

struct VarlenCall {
  const at::Tensor &q, &k, &v;
  const at::Tensor *cu_seqlens_q, *cu_seqlens_k, *cache_seqlens, *block_table;  // null: none
  std::optional<int64_t> max_seqlen_q, max_seqlen_k;
  bool causal;
  std::optional<int64_t> window_left, window_right;
  double scale, softcap;
};

std::tuple<at::Tensor, at::Tensor> run(const VarlenCall& a, at::IntArrayRef lse_shape) {
  const attnjit_ops_table& t = table();
  auto [out, lse] = outputs(a.q, lse_shape);
  const attnjit_ops_tensor tq = view(a.q), tk = view(a.k), tv = view(a.v), to = view(out), tl = view(lse);
  const OptView cu_q(a.cu_seqlens_q), cu_k(a.cu_seqlens_k), used(a.cache_seqlens), pages(a.block_table);
  const attnjit_ops_varlen c{
      .q = &tq, .k = &tk, .v = &tv, .out = &to, .lse = &tl, .cu_seqlens_q = cu_q.get(), .cu_seqlens_k = cu_k.get(),
      .cache_seqlens = used.get(), .block_table = pages.get(), .scale = a.scale, .softcap = a.softcap,
      .window_left = a.window_left.value_or(0), .window_right = a.window_right.value_or(0),
      .max_seqlen_q = a.max_seqlen_q.value_or(0), .max_seqlen_k = a.max_seqlen_k.value_or(0), .causal = a.causal,
      .has_window_left = a.window_left.has_value(), .has_window_right = a.window_right.has_value(),
      .has_max_seqlen_q = a.max_seqlen_q.has_value(), .has_max_seqlen_k = a.max_seqlen_k.has_value(),
      .stream = stream_for(a.q)};
  attnjit_ops_error e;
  check(t.prefill_varlen(runtime_for(a.q), &c, &e), e);
  return {std::move(out), std::move(lse)};
}

std::tuple<at::Tensor, at::Tensor> attention_varlen(
    const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& cu_seqlens_q,
    const std::optional<at::Tensor>& cu_seqlens_k, const std::optional<at::Tensor>& seqused_k,
    const std::optional<at::Tensor>& block_table, int64_t max_seqlen_q, int64_t max_seqlen_k, bool causal,
    std::optional<int64_t> window_left, std::optional<int64_t> window_right, double scale, double softcap) {
  const VarlenCall a{q,           k,           v,          &cu_seqlens_q, ptr(cu_seqlens_k), ptr(seqused_k),
                     ptr(block_table), max_seqlen_q, max_seqlen_k, causal, window_left, window_right, scale,
                     softcap};
  // flash-attn's varlen LSE [heads_q, total_q]; q's shape otherwise refused by the check.
  return q.dim() == 3 ? run(a, {q.size(1), q.size(0)}) : run(a, {0});
}

std::tuple<at::Tensor, at::Tensor> attention_paged(const at::Tensor& q, const at::Tensor& k_cache,
                                                   const at::Tensor& v_cache, const at::Tensor& cache_seqlens,
                                                   const at::Tensor& block_table, bool causal,
                                                   std::optional<int64_t> window_left,
                                                   std::optional<int64_t> window_right, double scale, double softcap) {
  const VarlenCall a{q,  k_cache, v_cache, nullptr,     nullptr,     &cache_seqlens, &block_table,
                     {}, {},      causal,  window_left, window_right, scale,          softcap};
  return q.dim() == 4 ? run(a, {q.size(0), q.size(2), q.size(1)}) : run(a, {0});
}

}  // namespace

void register_varlen(torch::Library& cpu, torch::Library& cuda) {
  for (torch::Library* m : {&cpu, &cuda}) {
    m->impl("attention_varlen", TORCH_FN(attention_varlen));
    m->impl("attention_paged", TORCH_FN(attention_paged));
  }
}

}  // namespace attnjit_torch
