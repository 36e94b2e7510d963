// attnjit::attention's CPU / CUDA kernel: what attnjit/torch.py's Python kernel does (outputs as
// its fake implementation shapes them, the tensor's default runtime and current stream), without
// entering Python: the checks and the launch are the module's (ops_table.cpp).
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>

#include <optional>
#include <tuple>

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
  at::Tensor out = at::empty_like(q, {}, at::MemoryFormat::Contiguous);
  const at::TensorOptions f32 = q.options().dtype(at::kFloat);
  at::Tensor lse;
  if (q.dim() == 4) {
    const bool bhsd = layout == "bhsd";  // a bad layout: shaped as bshd, then refused by the check
    lse = at::empty({q.size(0), q.size(bhsd ? 1 : 2), q.size(bhsd ? 2 : 1)}, f32);
  } else {
    lse = at::empty({0}, f32);  // q's shape is refused by the check
  }
  const attnjit_ops_tensor tq = view(q), tk = view(k), tv = view(v), to = view(out), tl = view(lse);
  attnjit_ops_tensor ta, ts;
  if (alibi_slopes) ta = view(*alibi_slopes);
  if (sinks) ts = view(*sinks);
  attnjit_ops_prefill c;
  c.q = &tq;
  c.k = &tk;
  c.v = &tv;
  c.out = &to;
  c.lse = &tl;
  c.alibi_slopes = alibi_slopes ? &ta : nullptr;
  c.sinks = sinks ? &ts : nullptr;
  c.layout = layout.data();
  c.layout_len = layout.size();
  c.scale = scale;
  c.softcap = softcap;
  c.window_left = window_left.value_or(0);
  c.window_right = window_right.value_or(0);
  c.causal = causal;
  c.has_window_left = window_left.has_value();
  c.has_window_right = window_right.has_value();
  c.stream = stream_for(q);
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
