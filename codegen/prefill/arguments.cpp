#include "codegen/prefill/arguments.h"
#include "codegen/prefill/ragged_args.h"
#include "codegen/param_checks.h"
#include "codegen/tensor_args.h"
#include "codegen/kernel_template.h"
#include "codegen/score_variant_args.h"
#include "codegen/snippet.h"
#include "codegen/prefill/user_arguments.h"

#include <algorithm>
#include <array>
#include <utility>
#include <initializer_list>
#include <climits>
#include <cmath>
#include <cstdint>
#include <string>

namespace attnjit {
namespace {

using detail::check_int32;
using detail::check_no_overlap;
using detail::str;

void check_tensor(const std::string& name, const TensorView& t, int64_t batch, int64_t seqlen,
                  int64_t heads, int64_t head_dim, DType dtype, Platform platform, bool output,
                  bool may_be_null) {
  detail::check_strided_tensor(name, t, {batch, t.batch_stride, "batch_stride"}, {seqlen, t.seq_stride, "seq_stride"},
                               {heads, t.head_stride, "head_stride"}, head_dim, dtype_bytes(dtype), platform, output,
                               may_be_null);
}

}  // namespace

void validate_prefill_problem(const PrefillProblem& p) {
  detail::check_problem_dims(p.head_dim, p.batch, p.heads_q, p.heads_kv);
  if (p.seqlen_q < 0) throw SpecError("seqlen_q: must be >= 0, got " + str(p.seqlen_q));
  if (p.seqlen_k < 0) throw SpecError("seqlen_k: must be >= 0, got " + str(p.seqlen_k));
  check_int32("batch", p.batch);
  check_int32("heads_q", p.heads_q);
  check_int32("seqlen_q", p.seqlen_q);
  check_int32("seqlen_k", p.seqlen_k);
  if (!std::isfinite(p.scale)) throw SpecError("scale: must be finite, got " + std::to_string(p.scale));
  validate_mask(p.mask);
  validate_ragged_problem(p);
  validate_block_sparse(p.block_sparse);
}

ProblemSpec prefill_spec(const PrefillProblem& p) {
  validate_prefill_problem(p);
  if (prefill_empty(p))
    throw SpecError("batch/seqlen_q: an empty problem has no kernel (batch " + str(p.batch) +
                    ", seqlen_q " + str(p.seqlen_q) + (p.varlen ? ", total_q " + str(p.total_q) : "") + ")");
  ProblemSpec spec = ProblemSpec::for_shape(Family::Prefill, p.dtype, p.head_dim, p.mask, p.heads_q, p.heads_kv,
                                p.seqlen_q, p.seqlen_k, p.page_size);
  spec.softcap = p.softcap;
  if (p.varlen) {
    spec.varlen = true;
    spec.even = false;  // lengths differ per sequence
  }
  spec.alibi = p.alibi;
  spec.sink = p.sink;
  if (!p.score_mod.empty()) spec.score_mod = register_snippet(p.score_mod, "score_mod");
  if (!p.mask_mod.empty()) spec.mask_mod = register_snippet(p.mask_mod, "mask_mod");
  spec.block_sparse = p.block_sparse;
  spec.validate();
  return spec;
}

RunShape prefill_shape(const PrefillProblem& p) {
  return {p.batch, p.heads_q, p.heads_kv, p.seqlen_q, p.seqlen_k, p.varlen ? p.total_q : 0};
}

void validate_prefill_args(const PrefillArgs& a, Platform platform) {
  const PrefillProblem& p = a.problem;
  validate_prefill_problem(p);
  const bool empty = prefill_empty(p);
  // Empty tensors may have null data (as PyTorch's do); K/V are never read when seqlen_k == 0.
  const bool kv_unread = empty || p.seqlen_k == 0;
  // Varlen q / o are one packed sequence of total_q rows; paged K/V are num_pages pages of
  // page_size rows; varlen contiguous K/V one packed sequence of total_k rows.
  const int64_t qb = p.varlen ? 1 : p.batch, qs = p.varlen ? p.total_q : p.seqlen_q;
  const int64_t kb = p.page_size ? p.num_pages : p.varlen ? 1 : p.batch;
  const int64_t ks = p.page_size ? p.page_size : p.varlen ? p.total_k : p.seqlen_k;
  check_tensor("q", a.q, qb, qs, p.heads_q, p.head_dim, p.dtype, platform, false, empty);
  check_tensor("k", a.k, kb, ks, p.heads_kv, p.head_dim, p.dtype, platform, false, kv_unread);
  check_tensor("v", a.v, kb, ks, p.heads_kv, p.head_dim, p.dtype, platform, false, kv_unread);
  check_tensor("o", a.o, qb, qs, p.heads_q, p.head_dim, p.dtype, platform, true, empty);
  validate_ragged_args(a, platform);
  if (a.lse.data && p.varlen) {  // [heads_q, total_q]: the batch stride is unused
    if (a.lse.head_stride < 0) throw SpecError("lse.head_stride: must be >= 0, got " + str(a.lse.head_stride));
    if (reinterpret_cast<uintptr_t>(a.lse.data) % alignof(float) != 0)
      throw SpecError("lse.data: not aligned to 4-byte floats");
    check_no_overlap("lse", {{p.heads_q, a.lse.head_stride, "head_stride"}}, p.total_q);
  } else if (a.lse.data) {
    if (a.lse.batch_stride < 0) throw SpecError("lse.batch_stride: must be >= 0, got " + str(a.lse.batch_stride));
    if (a.lse.head_stride < 0) throw SpecError("lse.head_stride: must be >= 0, got " + str(a.lse.head_stride));
    if (reinterpret_cast<uintptr_t>(a.lse.data) % alignof(float) != 0)
      throw SpecError("lse.data: not aligned to 4-byte floats");
    check_no_overlap("lse", {{p.batch, a.lse.batch_stride, "batch_stride"}, {p.heads_q, a.lse.head_stride, "head_stride"}},
                     p.seqlen_q);
  }
  if (!empty)
    validate_score_variant_args({p.alibi, p.sink, a.alibi_slopes, a.alibi_batch_stride, a.sinks}, p.batch,
                                p.heads_q, platform);
}

PrefillParams make_prefill_params(const PrefillArgs& a, Platform platform) {
  validate_prefill_args(a, platform);
  const PrefillProblem& p = a.problem;
  PrefillParams r{};
  detail::copy_tensor_args(r, a);
  r.batch = static_cast<int>(p.batch);
  r.heads_q = static_cast<int>(p.heads_q);
  r.heads_kv = static_cast<int>(p.heads_kv);
  r.seqlen_q = static_cast<int>(p.seqlen_q);
  r.seqlen_k = static_cast<int>(p.seqlen_k);
  detail::set_softmax_scale(r, p.scale, p.head_dim);
  fill_ragged_params(a, r);
  r.alibi_slopes = a.alibi_slopes;
  r.alibi_batch_stride = a.alibi_batch_stride;
  r.sinks = a.sinks;
  fill_user_params(a, platform, r.user);
  return r;
}

std::string prefill_mask_policy(const MaskSpec& m) {
  // Windows wider than any int sequence length are equivalent; capping keeps the template
  // argument small and the kernel's 64-bit arithmetic free of overflow.
  constexpr int64_t kWindowCap = int64_t{1} << 32;
  switch (m.kind) {
    case MaskKind::None: return "attnjit::sm80::MaskNone";
    case MaskKind::Causal: return "attnjit::sm80::MaskCausal";
    case MaskKind::SlidingWindow:
      return "attnjit::sm80::MaskSlidingWindow<" + std::to_string(std::min(m.window_left, kWindowCap)) +
             ", " + std::to_string(std::min(m.window_right, kWindowCap)) + ">";
  }
  throw SpecError("mask: unknown kind");
}

void check_prefill_launch_shape(const ProblemSpec& spec, const RunShape& shape) {
  auto check = [](bool ok, const std::string& msg) {
    if (!ok) throw SpecError(msg);
  };
  check(shape.batch >= 1 && (shape.batch <= 65535 || spec.varlen),  // varlen: grid z is 1
        "batch: must be in 1..65535 (grid z), got " + std::to_string(shape.batch));
  check(shape.heads_q >= 1 && shape.heads_q <= 65535,
        "heads_q: must be in 1..65535 (grid y), got " + std::to_string(shape.heads_q));
  check(shape.heads_kv >= 1 && shape.heads_q % shape.heads_kv == 0 &&
            shape.heads_q / shape.heads_kv == spec.group,
        "heads_kv: heads_q / heads_kv must equal the spec's group " + std::to_string(spec.group) +
            " (heads_q " + std::to_string(shape.heads_q) + ", heads_kv " +
            std::to_string(shape.heads_kv) + ")");
  check(shape.seqlen_q >= 1 && shape.seqlen_q <= INT32_MAX,
        "seqlen_q: must be in 1..2^31-1, got " + std::to_string(shape.seqlen_q));
  check(shape.seqlen_k >= 0 && shape.seqlen_k <= INT32_MAX,
        "seqlen_k: must be in 0..2^31-1, got " + std::to_string(shape.seqlen_k));
}

std::vector<unsigned char> prefill_arguments(const ProblemSpec& spec, const LaunchArgs& args,
                                             const Target& target) {
  if (!args.prefill || args.decode)
    throw SpecError("launch: a prefill template takes prefill arguments");
  // A kernel compiled for one layout reads another's arguments out of bounds.
  const PrefillProblem& p = args.prefill->problem;
  if (p.varlen != spec.varlen)
    throw SpecError(std::string("varlen: the kernel was built for ") + (spec.varlen ? "varlen" : "dense") +
                    " batches, the arguments are " + (p.varlen ? "varlen" : "dense"));
  if (p.page_size != spec.page_size)
    throw SpecError("page_size: the kernel was built for page size " + std::to_string(spec.page_size) +
                    ", the arguments have " + std::to_string(p.page_size));
  if (p.alibi != spec.alibi || p.sink != spec.sink)
    throw SpecError(std::string(p.alibi != spec.alibi ? "alibi" : "sink") +
                    ": the arguments' problem and the kernel's spec " + spec.key() + " disagree");
  return prefill_arguments(args, target);
}

std::vector<unsigned char> prefill_arguments(const LaunchArgs& args, const Target& target) {
  if (!args.prefill || args.decode)
    throw SpecError("launch: a prefill template takes prefill arguments");
  const PrefillParams p = make_prefill_params(*args.prefill, target.platform);
  const auto* b = reinterpret_cast<const unsigned char*>(&p);
  return {b, b + sizeof p};
}

}  // namespace attnjit
