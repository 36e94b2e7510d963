// attnjit::attention's CPU / CUDA kernel: what attnjit/torch.py's Python kernel does (outputs as
// its fake implementation shapes them, the tensor's default runtime and current stream), without
// entering Python: the checks and the launch are the module's (ops_table.cpp).
#include "torch_ops.h"

namespace attnjit_torch {
namespace {

std::tuple<at::Tensor, at::Tensor> attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                             bool causal, std::optional<int64_t> window_left,
                                             std::optional<int64_t> window_right, double scale,
                                             c10::string_view layout, double softcap,
                                             const std::optional<at::Tensor>& alibi_slopes,
                                             const std::optional<at::Tensor>& sinks) {
  const attnjit_ops_table& t = table();
  const bool bhsd = layout == "bhsd";  // a bad layout: shaped as bshd, then refused by the check
  auto [out, lse] = q.dim() == 4 ? outputs(q, {q.size(0), q.size(bhsd ? 1 : 2), q.size(bhsd ? 2 : 1)})
                                 : outputs(q, {0});  // q's shape is refused by the check
  const attnjit_ops_tensor tq = view(q), tk = view(k), tv = view(v), to = view(out), tl = view(lse);
  const OptView ta(alibi_slopes), ts(sinks);
  const attnjit_ops_prefill c{.q = &tq, .k = &tk, .v = &tv, .out = &to, .lse = &tl, .alibi_slopes = ta.get(),
                              .sinks = ts.get(), .layout = layout.data(), .layout_len = layout.size(), .scale = scale,
                              .softcap = softcap, .window_left = window_left.value_or(0),
                              .window_right = window_right.value_or(0), .causal = causal,
                              .has_window_left = window_left.has_value(), .has_window_right = window_right.has_value(),
                              .stream = stream_for(q)};
  attnjit_ops_error e;
  check(t.prefill(runtime_for(q), &c, &e), e);
  return {std::move(out), std::move(lse)};
}

}  // namespace

void register_attention(torch::Library& cpu, torch::Library& cuda) {
  cpu.impl("attention", TORCH_FN(attention));
  cuda.impl("attention", TORCH_FN(attention));
}

}  // namespace attnjit_torch
