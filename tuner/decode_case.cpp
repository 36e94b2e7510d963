#include "tuner/decode_case.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <string>

#include "codegen/decode/plan.h"
#include "runtime/fp8.h"
#include "runtime/half.h"

namespace attnjit::tuner {

namespace {

// Values drawn one by one up to this many, then repeated: the tuning shape of a long GPU
// decode key is hundreds of millions of elements, and the values only need to be ordinary
// (the reduced problem, which the reference checks, is far below this).
constexpr size_t kDrawnElems = size_t(1) << 22;

std::vector<float> draw(size_t n, DType dt, std::mt19937_64& rng) {
  std::normal_distribution<float> dist(0.f, 1.f);
  std::vector<float> x(n);
  const size_t m = std::min(n, kDrawnElems);
  for (size_t i = 0; i < m; ++i) x[i] = round_to(dt, dist(rng));
  for (size_t i = m; i < n; ++i) x[i] = x[i - m];
  return x;
}

// fp8 caches: one scale per tensor that maps the drawn values (|x| up to ~5) into the format's
// range; k_ / v_ then hold code * scale, what the reference and the kernel both see.
constexpr float kFp8Scale = 1.f / 64.f;

std::vector<unsigned char> to_storage(DType dt, const std::vector<float>& x, KvDType kv = KvDType::Same) {
  if (kv != KvDType::Same) {
    std::vector<unsigned char> codes(x.size());
    for (size_t i = 0; i < x.size(); ++i) codes[i] = fp8_from_float(kv, x[i] / kFp8Scale);
    return codes;
  }
  std::vector<unsigned char> bytes(x.size() * static_cast<size_t>(dtype_bytes(dt)));
  for (size_t i = 0; i < x.size(); ++i) store_from_float(dt, bytes.data(), static_cast<int64_t>(i), x[i]);
  return bytes;
}

// x rounded through the fp8 cache (code * scale); unchanged for K/V in the query's dtype.
void through_cache(std::vector<float>& x, KvDType kv) {
  if (kv == KvDType::Same) return;
  for (float& e : x) e = float(fp8_dequantize(kv, fp8_from_float(kv, e / kFp8Scale), kFp8Scale));
}

DeviceBuffer upload(Backend& be, const void* src, size_t bytes) {
  DeviceBuffer b(be, std::max<size_t>(bytes, 16));
  if (bytes) be.copy_to_device(b.get(), src, bytes);
  return b;
}

}  // namespace

DecodeCase::DecodeCase(Backend& backend, const ProblemSpec& spec, const RunShape& shape,
                       std::vector<int64_t> seqlens, uint64_t seed, int copies, bool keep_host)
    : ProblemCase(backend), spec_(spec), shape_(shape), seqlens_(std::move(seqlens)) {
  if (spec.family != Family::Decode)
    throw SpecError("family: DecodeCase needs a decode problem, got " + spec.key());
  if (shape.batch < 1 || shape.heads_q < 1 || shape.heads_kv < 1 || shape.seqlen_q != spec.seqlen_q ||
      shape.seqlen_k < 1 || shape.heads_q % shape.heads_kv != 0)
    throw SpecError("shape: invalid decode run shape for " + spec.key());
  if (copies < 1) throw SpecError("copies: need at least one buffer set");
  if (seqlens_.empty()) seqlens_.assign(static_cast<size_t>(shape.batch), shape.seqlen_k);
  if (static_cast<int64_t>(seqlens_.size()) != shape.batch)
    throw SpecError("seqlens: expected one length per sequence (" + std::to_string(shape.batch) + ")");
  for (size_t b = 0; b < seqlens_.size(); ++b)
    if (seqlens_[b] < 0 || seqlens_[b] > shape.seqlen_k)
      throw SpecError("seqlens[" + std::to_string(b) + "]: outside 0..seqlen_k");

  const int64_t D = spec.head_dim, row = shape.heads_kv * D;
  const size_t kv_elems = static_cast<size_t>(shape.batch * shape.seqlen_k * row);
  std::mt19937_64 rng(seed);
  q_ = draw(q_elems(), spec.dtype, rng);
  k_ = draw(kv_elems, spec.dtype, rng);
  v_ = draw(kv_elems, spec.dtype, rng);
  through_cache(k_, spec.kv_dtype);
  through_cache(v_, spec.kv_dtype);

  // Device K/V: dense for a contiguous cache; for a paged one, sequence b's page p goes to
  // physical page table[b * pages_per_seq + p], a shuffled permutation.
  std::vector<unsigned char> kb, vb;
  std::vector<int32_t> table;
  const size_t es = static_cast<size_t>(dtype_bytes(spec.dtype));
  if (spec.page_size > 0) {
    const int64_t ps = spec.page_size, pps = pages_per_seq(), pages = shape.batch * pps;
    table.resize(static_cast<size_t>(pages));
    std::iota(table.begin(), table.end(), 0);
    std::shuffle(table.begin(), table.end(), std::mt19937_64(seed ^ 0x7a6e5ULL));
    std::vector<float> kp(static_cast<size_t>(pages * ps * row), 0.f), vp(kp.size(), 0.f);
    for (int64_t b = 0; b < shape.batch; ++b)
      for (int64_t j = 0; j < shape.seqlen_k; ++j) {
        const int64_t page = table[static_cast<size_t>(b * pps + j / ps)];
        const size_t dst = static_cast<size_t>((page * ps + j % ps) * row);
        const size_t src = static_cast<size_t>((b * shape.seqlen_k + j) * row);
        std::copy_n(k_.begin() + src, row, kp.begin() + dst);
        std::copy_n(v_.begin() + src, row, vp.begin() + dst);
      }
    kb = to_storage(spec.dtype, kp, spec.kv_dtype);
    vb = to_storage(spec.dtype, vp, spec.kv_dtype);
  } else {
    kb = to_storage(spec.dtype, k_, spec.kv_dtype);
    vb = to_storage(spec.dtype, v_, spec.kv_dtype);
  }
  const float scales[2] = {kFp8Scale, kFp8Scale};
  const auto qb = to_storage(spec.dtype, q_);
  std::vector<int32_t> lens(seqlens_.begin(), seqlens_.end());
  for (int c = 0; c < copies; ++c) {
    Set s;
    s.q = upload(backend, qb.data(), qb.size());
    s.k = upload(backend, kb.data(), kb.size());
    s.v = upload(backend, vb.data(), vb.size());
    s.o = DeviceBuffer(backend, q_elems() * es);
    s.lse = DeviceBuffer(backend, lse_elems() * sizeof(float));
    s.seqlens = upload(backend, lens.data(), lens.size() * sizeof(int32_t));
    if (!table.empty()) s.table = upload(backend, table.data(), table.size() * sizeof(int32_t));
    if (spec.kv_dtype != KvDType::Same) s.kv_scales = upload(backend, scales, sizeof scales);
    sets_.push_back(std::move(s));
  }
  const int64_t d = spec.head_dim;
  variants_ = ScoreVariantData(backend, spec.alibi, spec.sink, shape.batch, shape.heads_q, seed);
  user_ = UserModData(backend, spec, shape);
  for (const Set& s : sets_) {
    DecodeArgs a;
    a.problem.dtype = spec.dtype;
    a.problem.head_dim = spec.head_dim;
    a.problem.mask = spec.mask;
    a.problem.batch = shape.batch;
    a.problem.heads_q = shape.heads_q;
    a.problem.heads_kv = shape.heads_kv;
    a.problem.q_tokens = shape.seqlen_q;
    a.problem.max_seqlen_k = shape.seqlen_k;
    a.problem.page_size = spec.page_size;
    a.problem.kv_dtype = spec.kv_dtype;
    a.problem.softcap = spec.softcap;
    variants_.attach(a);
    user_.attach(a);
    if (spec.kv_dtype != KvDType::Same) {
      a.k_scale = static_cast<const float*>(s.kv_scales.get());
      a.v_scale = a.k_scale + 1;
    }
    a.q = TensorView::bshd(s.q.get(), shape.seqlen_q, shape.heads_q, d);
    a.o = TensorView::bshd(s.o.get(), shape.seqlen_q, shape.heads_q, d);
    a.lse = LseView::dense(static_cast<float*>(s.lse.get()), shape.heads_q, shape.seqlen_q);
    a.seqlens_k = static_cast<const int32_t*>(s.seqlens.get());
    if (spec.page_size > 0) {
      // [num_pages, page_size, heads_kv, head_dim]: the batch stride is the page stride.
      a.problem.kv_capacity = pages_per_seq() * spec.page_size;
      a.problem.num_pages = shape.batch * pages_per_seq();
      a.k = {s.k.get(), row * spec.page_size, row, d};
      a.v = {s.v.get(), row * spec.page_size, row, d};
      a.block_table = static_cast<const int32_t*>(s.table.get());
      a.block_table_stride = pages_per_seq();
    } else {
      a.problem.kv_capacity = shape.seqlen_k;
      a.k = TensorView::bshd(s.k.get(), shape.seqlen_k, shape.heads_kv, d);
      a.v = TensorView::bshd(s.v.get(), shape.seqlen_k, shape.heads_kv, d);
    }
    args_.push_back(a);
  }
  if (!keep_host)
    for (std::vector<float>* x : {&q_, &k_, &v_}) std::vector<float>().swap(*x);  // frees the memory
}

int64_t DecodeCase::pages_per_seq() const {
  return spec_.page_size > 0 ? (shape_.seqlen_k + spec_.page_size - 1) / spec_.page_size : 0;
}


size_t DecodeCase::bytes_per_set(const ProblemSpec& spec, const RunShape& s) {
  const size_t es = static_cast<size_t>(dtype_bytes(spec.dtype));
  const size_t kvs = static_cast<size_t>(kv_dtype_bytes(spec.dtype, spec.kv_dtype));
  const int64_t cap = spec.page_size > 0 ? (s.seqlen_k + spec.page_size - 1) / spec.page_size * spec.page_size
                                         : s.seqlen_k;
  const size_t q = static_cast<size_t>(s.batch * s.seqlen_q * s.heads_q * spec.head_dim);
  const size_t kv = static_cast<size_t>(s.batch * cap * s.heads_kv * spec.head_dim);
  const size_t lse = static_cast<size_t>(s.batch * s.heads_q * s.seqlen_q);
  return 2 * q * es + 2 * kv * kvs + lse * sizeof(float);
}

ReferenceProblem DecodeCase::reference_problem() const {
  ReferenceProblem rp = reference_problem_at(shape_, spec_.head_dim, spec_.mask, spec_.softcap);
  rp.seqlens_k = seqlens_;
  variants_.attach(rp);
  user_.attach(rp);
  return rp;
}

LaunchArgs DecodeCase::args(int set) const { return {nullptr, &args_.at(static_cast<size_t>(set))}; }

void DecodeCase::poison_outputs(int set) {
  Set& s = sets_.at(static_cast<size_t>(set));
  poison_o_and_lse(backend_, s.o, s.lse);
}

void DecodeCase::read(int set, std::vector<float>& o, std::vector<float>& lse) const {
  const Set& s = sets_.at(static_cast<size_t>(set));
  read_o_and_lse(backend_, spec_.dtype, s.o, q_elems(), s.lse, lse_elems(), o, lse);
}

}  // namespace attnjit::tuner
