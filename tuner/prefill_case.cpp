#include "tuner/prefill_case.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "codegen/snippet.h"
#include "codegen/user_variant.h"
#include "runtime/block_mask_builder.h"
#include "runtime/half.h"
#include "runtime/snippet_host.h"

namespace attnjit::tuner {

namespace {

std::vector<float> draw(size_t n, DType dt, std::mt19937_64& rng) {
  std::normal_distribution<float> dist(0.f, 1.f);
  std::vector<float> x(n);
  for (float& e : x) e = round_to(dt, dist(rng));
  return x;
}

std::vector<unsigned char> to_storage(DType dt, const std::vector<float>& x) {
  std::vector<unsigned char> bytes(x.size() * static_cast<size_t>(dtype_bytes(dt)));
  for (size_t i = 0; i < x.size(); ++i) store_from_float(dt, bytes.data(), static_cast<int64_t>(i), x[i]);
  return bytes;
}

}  // namespace

PrefillCase::PrefillCase(Backend& backend, const ProblemSpec& spec, const RunShape& shape,
                         uint64_t seed, int copies)
    : ProblemCase(backend), spec_(spec), shape_(shape) {
  if (spec.family != Family::Prefill)
    throw SpecError("family: PrefillCase needs a prefill problem, got " + spec.key());
  if (shape.batch < 1 || shape.heads_q < 1 || shape.heads_kv < 1 || shape.seqlen_q < 1 ||
      shape.seqlen_k < 1 || shape.heads_q % shape.heads_kv != 0)
    throw SpecError("shape: invalid run shape for " + spec.key());
  if (copies < 1) throw SpecError("copies: need at least one buffer set");
  std::mt19937_64 rng(seed);
  q_ = draw(q_elems(), spec.dtype, rng);
  k_ = draw(kv_elems(), spec.dtype, rng);
  v_ = draw(kv_elems(), spec.dtype, rng);
  const auto qb = to_storage(spec.dtype, q_), kb = to_storage(spec.dtype, k_),
             vb = to_storage(spec.dtype, v_);
  const size_t es = static_cast<size_t>(dtype_bytes(spec.dtype));
  for (int c = 0; c < copies; ++c) {
    Set s{DeviceBuffer(backend, qb.size()), DeviceBuffer(backend, kb.size()),
          DeviceBuffer(backend, vb.size()), DeviceBuffer(backend, q_elems() * es),
          DeviceBuffer(backend, lse_elems() * sizeof(float))};
    backend.copy_to_device(s.q.get(), qb.data(), qb.size());
    backend.copy_to_device(s.k.get(), kb.data(), kb.size());
    backend.copy_to_device(s.v.get(), vb.data(), vb.size());
    sets_.push_back(std::move(s));
  }
  // Dense [batch, seqlen, heads, head_dim] layouts; the softmax scale is the default.
  for (const Set& s : sets_) {
    PrefillArgs a;
    a.problem = {spec.dtype, spec.head_dim, spec.mask, shape.batch, shape.heads_q, shape.heads_kv,
                 shape.seqlen_q, shape.seqlen_k};
    a.q = TensorView::bshd(s.q.get(), shape.seqlen_q, shape.heads_q, spec.head_dim);
    a.k = TensorView::bshd(s.k.get(), shape.seqlen_k, shape.heads_kv, spec.head_dim);
    a.v = TensorView::bshd(s.v.get(), shape.seqlen_k, shape.heads_kv, spec.head_dim);
    a.o = TensorView::bshd(s.o.get(), shape.seqlen_q, shape.heads_q, spec.head_dim);
    a.lse = LseView::dense(static_cast<float*>(s.lse.get()), shape.heads_q, shape.seqlen_q);
    args_.push_back(a);
  }
  // User variants. The tuner knows nothing of what the snippets' aux tensors mean, so it feeds
  // each one as zeros, long enough for any per-token, per-head or per-(batch, head) index (a
  // document mask then sees one document: dense attention's cost, the conservative timing).
  if (has_user_variants(spec)) {
    const int64_t n = std::max({shape.seqlen_q, shape.seqlen_k, shape.batch * shape.heads_q, int64_t{1}});
    aux_ = DeviceBuffer(backend, static_cast<size_t>(n) * 4);
    backend.fill_bytes(aux_.get(), 0, aux_.size());
    aux_host_.assign(aux_.size(), 0);
    for (int i = 0; i < kMaxAuxTensors; ++i) {
      aux_params_.aux[i] = aux_host_.data();
      aux_params_.aux_size[i] = n;
    }
    for (PrefillArgs& a : args_) {
      if (!spec.score_mod.empty()) a.problem.score_mod = snippet_text("score_mod", spec.score_mod);
      if (!spec.mask_mod.empty()) a.problem.mask_mod = snippet_text("mask_mod", spec.mask_mod);
      for (int i = 0; i < kMaxAux; ++i) a.aux[i] = {aux_.get(), AuxType::I32, n};
    }
    if (spec.block_sparse != 0) {
      BuiltBlockMask bm = build_block_mask_on(backend, args_[0].problem, args_[0].aux, spec.block_sparse, false, false);
      block_mask_ = bm.storage;
      for (PrefillArgs& a : args_) {
        a.problem.block_sparse = spec.block_sparse;
        a.block_mask = bm.view;
      }
    }
  }
}

size_t PrefillCase::q_elems() const {
  return static_cast<size_t>(shape_.batch * shape_.seqlen_q * shape_.heads_q * spec_.head_dim);
}
size_t PrefillCase::kv_elems() const {
  return static_cast<size_t>(shape_.batch * shape_.seqlen_k * shape_.heads_kv * spec_.head_dim);
}
size_t PrefillCase::lse_elems() const {
  return static_cast<size_t>(shape_.batch * shape_.heads_q * shape_.seqlen_q);
}

size_t PrefillCase::bytes_per_set(const ProblemSpec& spec, const RunShape& s) {
  const size_t es = static_cast<size_t>(dtype_bytes(spec.dtype));
  const size_t q = static_cast<size_t>(s.batch * s.seqlen_q * s.heads_q * spec.head_dim);
  const size_t kv = static_cast<size_t>(s.batch * s.seqlen_k * s.heads_kv * spec.head_dim);
  const size_t lse = static_cast<size_t>(s.batch * s.heads_q * s.seqlen_q);
  return (2 * q + 2 * kv) * es + lse * sizeof(float);
}

LaunchArgs PrefillCase::args(int set) const { return {&args_.at(static_cast<size_t>(set)), nullptr}; }

ReferenceProblem PrefillCase::reference_problem() const {
  ReferenceProblem rp;
  rp.batch = shape_.batch;
  rp.heads_q = shape_.heads_q;
  rp.heads_kv = shape_.heads_kv;
  rp.seqlen_q = shape_.seqlen_q;
  rp.seqlen_k = shape_.seqlen_k;
  rp.head_dim = spec_.head_dim;
  rp.mask = spec_.mask;
  rp.softcap = spec_.softcap;
  const HostSnippets hs = host_snippets(spec_, &aux_params_);
  rp.score_mod = hs.score_mod;
  rp.mask_mod = hs.mask_mod;
  return rp;
}

void PrefillCase::poison_outputs(int set) {
  Set& s = sets_.at(static_cast<size_t>(set));
  // 0xFF bytes are NaN in f16, bf16 and f32 alike.
  backend_.fill_bytes(s.o.get(), 0xFF, s.o.size());
  backend_.fill_bytes(s.lse.get(), 0xFF, s.lse.size());
}

void PrefillCase::read(int set, std::vector<float>& o, std::vector<float>& lse) const {
  const Set& s = sets_.at(static_cast<size_t>(set));
  read_o_and_lse(backend_, spec_.dtype, s.o, q_elems(), s.lse, lse_elems(), o, lse);
}

}  // namespace attnjit::tuner
