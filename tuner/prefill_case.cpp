#include "tuner/prefill_case.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <string>

#include "codegen/user_variant.h"
#include "runtime/block_mask_builder.h"
#include "runtime/half.h"
#include "tuner/workload.h"

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

// Rows [0, lens[b]) of each sequence of a dense padded [b, max, row] array, back to back.
std::vector<float> pack(const std::vector<float>& dense, const std::vector<int64_t>& lens, int64_t max,
                        int64_t row) {
  std::vector<float> out;
  for (size_t b = 0; b < lens.size(); ++b) {
    const auto first = dense.begin() + static_cast<int64_t>(b) * max * row;
    out.insert(out.end(), first, first + lens[b] * row);
  }
  return out;
}

std::vector<int32_t> offsets(const std::vector<int64_t>& lens) {
  std::vector<int32_t> cu(1, 0);
  for (int64_t l : lens) cu.push_back(static_cast<int32_t>(cu.back() + l));
  return cu;
}

}  // namespace

PrefillCase::PrefillCase(Backend& backend, const ProblemSpec& spec, const RunShape& shape,
                         uint64_t seed, int copies, bool reduced)
    : ProblemCase(backend), spec_(spec), shape_(shape) {
  if (spec.family != Family::Prefill)
    throw SpecError("family: PrefillCase needs a prefill problem, got " + spec.key());
  if (shape.batch < 1 || shape.heads_q < 1 || shape.heads_kv < 1 || shape.seqlen_q < 1 ||
      shape.seqlen_k < 1 || shape.heads_q % shape.heads_kv != 0)
    throw SpecError("shape: invalid run shape for " + spec.key());
  if (copies < 1) throw SpecError("copies: need at least one buffer set");
  seqlens_q_ = case_seqlens_q(spec, shape);
  seqlens_k_ = case_seqlens_k(spec, shape, seqlens_q_, reduced);
  if (spec.varlen) {
    const int64_t total = std::accumulate(seqlens_q_.begin(), seqlens_q_.end(), int64_t{0});
    if (total != shape.total_q)
      throw SpecError("total_q: the tuner's mixed lengths for " + shape.key() + " have " + std::to_string(total) +
                      " query rows, the shape says " + std::to_string(shape.total_q));
  }
  std::mt19937_64 rng(seed);
  q_ = draw(q_elems(), spec.dtype, rng);
  k_ = draw(kv_elems(), spec.dtype, rng);
  v_ = draw(kv_elems(), spec.dtype, rng);
  // Padding rows of the dense host view are zero: the reference never reads them.
  const int64_t D = spec.head_dim;
  for (int64_t b = 0; b < shape.batch; ++b) {
    const int64_t qrow = shape.heads_q * D, krow = shape.heads_kv * D;
    std::fill(q_.begin() + (b * shape.seqlen_q + seqlens_q_[b]) * qrow, q_.begin() + (b + 1) * shape.seqlen_q * qrow, 0.f);
    std::fill(k_.begin() + (b * shape.seqlen_k + seqlens_k_[b]) * krow, k_.begin() + (b + 1) * shape.seqlen_k * krow, 0.f);
    std::fill(v_.begin() + (b * shape.seqlen_k + seqlens_k_[b]) * krow, v_.begin() + (b + 1) * shape.seqlen_k * krow, 0.f);
  }
  if (ragged()) build_ragged(seed);
  const auto qb = to_storage(spec.dtype, spec.varlen ? pack(q_, seqlens_q_, shape.seqlen_q, shape.heads_q * D) : q_);
  const auto kb = to_storage(spec.dtype, device_kv(k_)), vb = to_storage(spec.dtype, device_kv(v_));
  const size_t lse_dev = static_cast<size_t>(shape.heads_q * dev_q_rows());
  for (int c = 0; c < copies; ++c) {
    Set s{DeviceBuffer(backend, std::max<size_t>(qb.size(), 16)), DeviceBuffer(backend, std::max<size_t>(kb.size(), 16)),
          DeviceBuffer(backend, std::max<size_t>(vb.size(), 16)), DeviceBuffer(backend, std::max<size_t>(qb.size(), 16)),
          DeviceBuffer(backend, std::max<size_t>(lse_dev, 1) * sizeof(float))};
    backend.copy_to_device(s.q.get(), qb.data(), qb.size());
    backend.copy_to_device(s.k.get(), kb.data(), kb.size());
    backend.copy_to_device(s.v.get(), vb.data(), vb.size());
    sets_.push_back(std::move(s));
  }
  // Dense [batch, seqlen, heads, head_dim] layouts (packed / paged for ragged keys); the
  // softmax scale is the default.
  const int64_t qrow = shape.heads_q * D, krow = shape.heads_kv * D;
  variants_ = ScoreVariantData(backend, spec.alibi, spec.sink, shape.batch, shape.heads_q, seed);
  for (const Set& s : sets_) {
    PrefillArgs a;
    a.problem = {spec.dtype, spec.head_dim, spec.mask, shape.batch, shape.heads_q, shape.heads_kv,
                 shape.seqlen_q, shape.seqlen_k};
    a.problem.softcap = spec.softcap;
    a.q = TensorView::bshd(s.q.get(), shape.seqlen_q, shape.heads_q, spec.head_dim);
    a.k = TensorView::bshd(s.k.get(), shape.seqlen_k, shape.heads_kv, spec.head_dim);
    a.v = TensorView::bshd(s.v.get(), shape.seqlen_k, shape.heads_kv, spec.head_dim);
    a.o = TensorView::bshd(s.o.get(), shape.seqlen_q, shape.heads_q, spec.head_dim);
    a.lse = LseView::dense(static_cast<float*>(s.lse.get()), shape.heads_q, shape.seqlen_q);
    if (spec.varlen) {
      a.problem.varlen = true;
      a.problem.total_q = dev_q_rows();
      a.q = {s.q.get(), 0, qrow, D};
      a.o = {s.o.get(), 0, qrow, D};
      a.lse = {static_cast<float*>(s.lse.get()), 0, dev_q_rows()};
      a.cu_seqlens_q = static_cast<const int32_t*>(cu_q_buf_.get());
      if (spec.page_size == 0) {
        a.problem.total_k = dev_k_rows();
        a.k = {s.k.get(), 0, krow, D};
        a.v = {s.v.get(), 0, krow, D};
        a.cu_seqlens_k = static_cast<const int32_t*>(cu_k_buf_.get());
      }
    }
    if (spec.page_size != 0) {
      a.problem.page_size = spec.page_size;
      a.problem.num_pages = num_pages_;
      a.problem.max_pages = pages_per_seq_;
      a.k = {s.k.get(), spec.page_size * krow, krow, D};
      a.v = {s.v.get(), spec.page_size * krow, krow, D};
      a.seqused_k = static_cast<const int32_t*>(used_k_buf_.get());
      a.block_table = static_cast<const int32_t*>(table_buf_.get());
      a.block_table_stride = pages_per_seq_;
    }
    variants_.attach(a);
    args_.push_back(a);
  }
  // User variants: zero aux tensors and the snippet texts (tuner/user_mod_data.h).
  if (has_user_variants(spec)) {
    user_ = UserModData(backend, spec, shape);
    for (PrefillArgs& a : args_) user_.attach(a);
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

void PrefillCase::build_ragged(uint64_t seed) {
  auto upload = [&](DeviceBuffer& buf, const std::vector<int32_t>& host) {
    buf = DeviceBuffer(backend_, std::max<size_t>(host.size(), 1) * sizeof(int32_t));
    backend_.copy_to_device(buf.get(), host.data(), host.size() * sizeof(int32_t));
  };
  cu_q_ = offsets(seqlens_q_);
  cu_k_ = offsets(seqlens_k_);
  if (spec_.varlen) upload(cu_q_buf_, cu_q_);
  if (spec_.varlen && spec_.page_size == 0) upload(cu_k_buf_, cu_k_);
  if (spec_.page_size != 0) {
    // Pages dealt out in shuffled order: a kernel that assumes page i follows page i-1 fails.
    pages_per_seq_ = std::max<int64_t>(1, (shape_.seqlen_k + spec_.page_size - 1) / spec_.page_size);
    num_pages_ = shape_.batch * pages_per_seq_;
    table_.resize(static_cast<size_t>(num_pages_));
    std::iota(table_.begin(), table_.end(), 0);
    std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ull);
    std::shuffle(table_.begin(), table_.end(), rng);
    used_k_.assign(seqlens_k_.begin(), seqlens_k_.end());
    upload(used_k_buf_, used_k_);
    upload(table_buf_, table_);
  }
}

// K or V as the device holds it: dense, packed by cu_seqlens_k, or scattered over the pages.
std::vector<float> PrefillCase::device_kv(const std::vector<float>& dense) const {
  const int64_t row = shape_.heads_kv * spec_.head_dim;
  if (spec_.page_size == 0)
    return spec_.varlen ? pack(dense, seqlens_k_, shape_.seqlen_k, row) : dense;
  const int64_t P = spec_.page_size;
  std::vector<float> out(static_cast<size_t>(num_pages_ * P * row), 0.f);
  for (int64_t b = 0; b < shape_.batch; ++b)
    for (int64_t n = 0; n < seqlens_k_[b]; ++n) {
      const int64_t page = table_[static_cast<size_t>(b * pages_per_seq_ + n / P)];
      std::copy_n(dense.begin() + (b * shape_.seqlen_k + n) * row, row, out.begin() + (page * P + n % P) * row);
    }
  return out;
}

int64_t PrefillCase::dev_q_rows() const {
  return spec_.varlen ? std::accumulate(seqlens_q_.begin(), seqlens_q_.end(), int64_t{0}) : shape_.batch * shape_.seqlen_q;
}
int64_t PrefillCase::dev_k_rows() const {
  if (spec_.page_size != 0) return num_pages_ * spec_.page_size;
  return spec_.varlen ? std::accumulate(seqlens_k_.begin(), seqlens_k_.end(), int64_t{0}) : shape_.batch * shape_.seqlen_k;
}

size_t PrefillCase::kv_elems() const {
  return static_cast<size_t>(shape_.batch * shape_.seqlen_k * shape_.heads_kv * spec_.head_dim);
}

size_t PrefillCase::bytes_per_set(const ProblemSpec& spec, const RunShape& s) {
  const size_t es = static_cast<size_t>(dtype_bytes(spec.dtype));
  // Varlen: the packed rows; paged: at most the dense size (pages round up by < one per sequence).
  const int64_t q_rows = spec.varlen && s.total_q > 0 ? s.total_q : s.batch * s.seqlen_q;
  const size_t q = static_cast<size_t>(q_rows * s.heads_q * spec.head_dim);
  const size_t kv = static_cast<size_t>(s.batch * (s.seqlen_k + spec.page_size) * s.heads_kv * spec.head_dim);
  const size_t lse = static_cast<size_t>(q_rows * s.heads_q);
  return (2 * q + 2 * kv) * es + lse * sizeof(float);
}

LaunchArgs PrefillCase::args(int set) const { return {&args_.at(static_cast<size_t>(set)), nullptr}; }

ReferenceProblem PrefillCase::reference_problem() const {
  ReferenceProblem rp = reference_problem_at(shape_, spec_.head_dim, spec_.mask, spec_.softcap);
  if (ragged()) {
    rp.seqlens_q = seqlens_q_;
    rp.seqlens_k = seqlens_k_;
  }
  variants_.attach(rp);
  user_.attach(rp);
  return rp;
}

void PrefillCase::poison_outputs(int set) {
  Set& s = sets_.at(static_cast<size_t>(set));
  poison_o_and_lse(backend_, s.o, s.lse);
}

void PrefillCase::read(int set, std::vector<float>& o, std::vector<float>& lse) const {
  const Set& s = sets_.at(static_cast<size_t>(set));
  if (!spec_.varlen) {
    read_o_and_lse(backend_, spec_.dtype, s.o, q_elems(), s.lse, lse_elems(), o, lse);
    return;
  }
  // Packed [total_q, h, d] and LSE [h, total_q] back into the dense padded view: padding rows
  // are what the reference gives rows with no query (O = 0, LSE = -inf).
  std::vector<float> po, pl;
  const int64_t tq = dev_q_rows(), H = shape_.heads_q, D = spec_.head_dim, S = shape_.seqlen_q;
  read_o_and_lse(backend_, spec_.dtype, s.o, static_cast<size_t>(tq * H * D), s.lse, static_cast<size_t>(tq * H), po, pl);
  o.assign(q_elems(), 0.f);
  lse.assign(lse_elems(), -std::numeric_limits<float>::infinity());
  for (int64_t b = 0; b < shape_.batch; ++b)
    for (int64_t i = 0; i < seqlens_q_[b]; ++i) {
      const int64_t row = cu_q_[b] + i;
      std::copy_n(po.begin() + row * H * D, H * D, o.begin() + (b * S + i) * H * D);
      for (int64_t h = 0; h < H; ++h) lse[static_cast<size_t>((b * H + h) * S + i)] = pl[static_cast<size_t>(h * tq + row)];
    }
}

}  // namespace attnjit::tuner
