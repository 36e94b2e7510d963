// attnjit::decode's CPU / CUDA kernel: what attnjit/torch.py's Python kernel does, without
// entering Python (the checks and the launch are the module's, ops_table.cpp).
#include "torch_ops.h"

namespace attnjit_torch {
namespace {

std::tuple<at::Tensor, at::Tensor> decode(const at::Tensor& q, const at::Tensor& k_cache, const at::Tensor& v_cache,
                                          const std::optional<at::Tensor>& cache_seqlens,
                                          const std::optional<at::Tensor>& block_table, bool causal,
                                          std::optional<int64_t> window_left, std::optional<int64_t> window_right,
                                          double scale, std::optional<int64_t> max_seqlen_k, double softcap,
                                          const std::optional<at::Tensor>& k_scale,
                                          const std::optional<at::Tensor>& v_scale,
                                          std::optional<c10::string_view> kv_dtype,
                                          const std::optional<at::Tensor>& alibi_slopes,
                                          const std::optional<at::Tensor>& sinks) {
  const attnjit_ops_table& t = table();
  // Outputs in q's dtype whatever the cache's (fp8 K/V are dequantised in the kernel).
  auto [out, lse] = q.dim() == 4 ? outputs(q, {q.size(0), q.size(2), q.size(1)})
                                 : outputs(q, {0});  // q's shape is refused by the check
  const attnjit_ops_tensor tq = view(q), tk = view(k_cache), tv = view(v_cache), to = view(out), tl = view(lse);
  const OptView seqlens(cache_seqlens), table_v(block_table), ks(k_scale), vs(v_scale), slopes(alibi_slopes),
      sk(sinks);
  const attnjit_ops_decode c{
      .q = &tq, .k_cache = &tk, .v_cache = &tv, .out = &to, .lse = &tl, .cache_seqlens = seqlens.get(),
      .block_table = table_v.get(), .k_scale = ks.get(), .v_scale = vs.get(), .alibi_slopes = slopes.get(),
      .sinks = sk.get(), .kv_dtype = kv_dtype ? kv_dtype->data() : "", .kv_dtype_len = kv_dtype ? kv_dtype->size() : 0,
      .scale = scale, .softcap = softcap, .window_left = window_left.value_or(0),
      .window_right = window_right.value_or(0), .max_seqlen_k = max_seqlen_k.value_or(0), .causal = causal,
      .has_window_left = window_left.has_value(), .has_window_right = window_right.has_value(),
      .has_max_seqlen_k = max_seqlen_k.has_value(), .stream = stream_for(q)};
  attnjit_ops_error e;
  check(t.decode(runtime_for(q), &c, &e), e);
  return {std::move(out), std::move(lse)};
}

}  // namespace

void register_decode(torch::Library& cpu, torch::Library& cuda) {
  cpu.impl("decode", TORCH_FN(decode));
  cuda.impl("decode", TORCH_FN(decode));
}

}  // namespace attnjit_torch
