#include "codegen/problem_spec.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>

#include "codegen/parse_util.h"

namespace attnjit {

using detail::is_pow2;
using detail::parse_int;

void validate_mask(const MaskSpec& mask) {
  if (mask.kind == MaskKind::SlidingWindow) {
    if (mask.window_left < 0)
      throw SpecError("window_left: must be >= 0, got " + std::to_string(mask.window_left));
    if (mask.window_right < 0)
      throw SpecError("window_right: must be >= 0, got " + std::to_string(mask.window_right));
  } else if (mask.window_left != 0 || mask.window_right != 0) {
    throw SpecError("window_left/window_right: only allowed with mask sliding_window");
  }
}

void validate_softcap(double c) {
  if (!(c >= 0) || !std::isfinite(c))
    throw SpecError("softcap: must be 0 (off) or a finite number > 0, got " + softcap_string(c));
}

void validate_snippet_hash(std::string_view field, std::string_view h) {
  bool ok = h.size() == 16;
  for (char ch : h) ok = ok && ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'));
  if (!ok)
    throw SpecError(std::string(field) + ": a snippet hash is 16 lowercase hex digits, got '" +
                    std::string(h.substr(0, 40)) + "'");
}

void validate_block_sparse(int t) {
  if (t != 0 && (!is_pow2(t) || t < 16 || t > 128))
    throw SpecError("block_sparse: the block-mask tile must be 0 (off) or a power of two in 16..128, got " +
                    std::to_string(t));
}

std::string softcap_string(double c) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, c);  // shortest round-trip form
  std::string out(buf, r.ptr);
  // Keys allow only [A-Za-z0-9_.-]: "1e+100" is written "1e100" (from_chars reads both).
  if (auto plus = out.find('+'); plus != std::string::npos) out.erase(plus, 1);
  return out;
}

void validate_page_size(int64_t page_size) {
  if (page_size != 0 && (!is_pow2(page_size) || page_size > 256))
    throw SpecError("page_size: must be 0 (contiguous) or a power of two in 1..256, got " +
                    std::to_string(page_size));
}

int64_t length_bucket(int64_t n) {
  int64_t b = 16;
  while (b < n) b <<= 1;
  return b;
}

std::string ProblemSpec::key() const {
  std::string k;
  k += to_string(family);
  k += '_';
  k += to_string(dtype);
  k += "_hd" + std::to_string(head_dim) + '_';
  switch (mask.kind) {
    case MaskKind::None: k += "none"; break;
    case MaskKind::Causal: k += "causal"; break;
    case MaskKind::SlidingWindow:
      k += "sw" + std::to_string(mask.window_left) + '-' + std::to_string(mask.window_right);
      break;
  }
  if (softcap != 0) k += "_sc" + softcap_string(softcap);
  if (alibi) k += "_alibi";
  if (sink) k += "_sink";
  if (!score_mod.empty()) k += "_sm" + score_mod;
  if (!mask_mod.empty()) k += "_mm" + mask_mod;
  if (block_sparse != 0) k += "_bs" + std::to_string(block_sparse);
  k += "_g" + std::to_string(group);
  k += "_q" + std::to_string(seqlen_q);
  k += "_k" + std::to_string(seqlen_k);
  if (family == Family::Decode || page_size != 0) k += "_p" + std::to_string(page_size);
  if (kv_dtype != KvDType::Same) k += "_kv-" + std::string(to_string(kv_dtype));
  if (varlen) k += "_varlen";
  if (even) k += "_even";
  return k;
}

void ProblemSpec::validate() const {
  if (std::find(std::begin(kHeadDims), std::end(kHeadDims), head_dim) == std::end(kHeadDims))
    throw SpecError("head_dim: unsupported value " + std::to_string(head_dim) +
                    " (allowed: 32, 64, 96, 128, 192, 256)");
  if (group < 1 || group > 128)
    throw SpecError("group: heads_q / heads_kv must be in 1..128, got " + std::to_string(group));
  validate_mask(mask);
  validate_softcap(softcap);
  if (!score_mod.empty()) validate_snippet_hash("score_mod", score_mod);
  if (!mask_mod.empty()) validate_snippet_hash("mask_mod", mask_mod);
  validate_block_sparse(block_sparse);
  if (family == Family::Decode && block_sparse != 0)
    throw SpecError("block_sparse: prefill only (decode reads every key of its range once; a mask_mod masks them)");
  if (!is_pow2(seqlen_k) || seqlen_k < 16)
    throw SpecError("seqlen_k: bucket must be a power of two >= 16, got " + std::to_string(seqlen_k));
  if (family == Family::Prefill) {
    if (!is_pow2(seqlen_q) || seqlen_q < 16)
      throw SpecError("seqlen_q: bucket must be a power of two >= 16, got " +
                      std::to_string(seqlen_q));
    validate_page_size(page_size);
    if (even && (varlen || page_size != 0))
      throw SpecError("even: not with varlen or paged KV (lengths differ per sequence)");
    if (kv_dtype != KvDType::Same)
      throw SpecError("kv_dtype: an fp8 KV cache (" + std::string(to_string(kv_dtype)) +
                      ") is supported for decode problems only");
  } else {
    if (seqlen_q < 1 || seqlen_q > 16)
      throw SpecError("seqlen_q: decode query tokens per sequence must be in 1..16, got " +
                      std::to_string(seqlen_q));
    validate_page_size(page_size);
    if (even) throw SpecError("even: only prefill problems have the even-length specialization");
    if (varlen) throw SpecError("varlen: only prefill problems take packed (varlen) batches");
  }
}

ProblemSpec ProblemSpec::parse(std::string_view key) {
  auto toks = detail::split(key, '_');
  if (toks.size() < 7)
    throw SpecError("problem key: expected family_dtype_hdD_mask_gG_qQ_kK[_pP][_varlen][_even], got '" +
                    std::string(key) + "'");
  ProblemSpec s;
  s.family = parse_family(toks[0]);
  s.dtype = parse_dtype(toks[1]);
  int64_t v = 0;
  if (!detail::take_prefixed(toks[2], "hd", "head_dim", v, detail::kIntMin, detail::kIntMax))
    throw SpecError("head_dim: expected 'hd<D>', got '" + std::string(toks[2]) + "'");
  s.head_dim = static_cast<int>(v);
  std::string_view m = toks[3];
  if (m.substr(0, 2) == "sw" && m != "sw") {
    auto lr = detail::split(m.substr(2), '-');
    if (lr.size() != 2)
      throw SpecError("mask: sliding window must be 'sw<left>-<right>', got '" + std::string(m) + "'");
    s.mask.kind = MaskKind::SlidingWindow;
    s.mask.window_left = parse_int("window_left", lr[0]);
    s.mask.window_right = parse_int("window_right", lr[1]);
  } else {
    s.mask.kind = parse_mask_kind(m);
    if (s.mask.kind == MaskKind::SlidingWindow)
      throw SpecError("mask: sliding window must be 'sw<left>-<right>', got '" + std::string(m) + "'");
  }
  size_t i = 4;
  if (toks[i].substr(0, 2) == "sc") {
    const std::string_view c = toks[i].substr(2);
    const auto r = std::from_chars(c.data(), c.data() + c.size(), s.softcap);
    // Exactly one spelling per value, so a key names one cache entry and one database row.
    if (r.ec != std::errc() || r.ptr != c.data() + c.size() || !std::isfinite(s.softcap) ||
        s.softcap <= 0 || softcap_string(s.softcap) != c)
      throw SpecError("softcap: expected 'sc<C>' with C > 0 in shortest form (sc50, sc30.5), got '" +
                      std::string(toks[i]) + "'");
    ++i;
  }
  // Flags in their fixed order; a misplaced one falls through to the "unexpected field" error.
  if (i < toks.size() && toks[i] == "alibi") {
    s.alibi = true;
    ++i;
  }
  if (i < toks.size() && toks[i] == "sink") {
    s.sink = true;
    ++i;
  }
  // User variants, in this order: sm<hash>, mm<hash>, bs<tile>.
  if (i < toks.size() && toks[i].substr(0, 2) == "sm") {
    validate_snippet_hash("score_mod", toks[i].substr(2));
    s.score_mod = std::string(toks[i].substr(2));
    ++i;
  }
  if (i < toks.size() && toks[i].substr(0, 2) == "mm") {
    validate_snippet_hash("mask_mod", toks[i].substr(2));
    s.mask_mod = std::string(toks[i].substr(2));
    ++i;
  }
  if (i < toks.size() && toks[i].substr(0, 2) == "bs") {
    if (!detail::take_prefixed(toks[i], "bs", "block_sparse", v, detail::kIntMin, detail::kIntMax))
      throw SpecError("block_sparse: expected 'bs<tile>', got '" + std::string(toks[i]) + "'");
    s.block_sparse = static_cast<int>(v);
    ++i;
  }
  if (toks.size() < i + 3)
    throw SpecError("problem key: expected family_dtype_hdD_mask[_scC][_alibi][_sink][_smH][_mmH][_bsT]_gG_qQ_kK[_pP][_varlen][_even], got '" +
                    std::string(key) + "'");
  if (toks[i] == "alibi" || toks[i] == "sink" || toks[i].substr(0, 2) == "sc" || toks[i].substr(0, 2) == "sm" ||
      toks[i].substr(0, 2) == "mm" || toks[i].substr(0, 2) == "bs")
    throw SpecError(std::string(toks[i]) + ": misplaced or repeated; the order is mask[_scC][_alibi][_sink][_smH][_mmH][_bsT]_gG, in '" +
                    std::string(key) + "'");
  if (!detail::take_prefixed(toks[i], "g", "group", v, detail::kIntMin, detail::kIntMax))
    throw SpecError("group: expected 'g<G>', got '" + std::string(toks[i]) + "'");
  s.group = static_cast<int>(v);
  // Lengths reach kernels as int: a bucket is at most 2^31.
  constexpr int64_t kMaxBucket = int64_t(1) << 31;
  if (!detail::take_prefixed(toks[i + 1], "q", "seqlen_q", s.seqlen_q, 0, kMaxBucket))
    throw SpecError("seqlen_q: expected 'q<N>', got '" + std::string(toks[i + 1]) + "'");
  if (!detail::take_prefixed(toks[i + 2], "k", "seqlen_k", s.seqlen_k, 0, kMaxBucket))
    throw SpecError("seqlen_k: expected 'k<N>', got '" + std::string(toks[i + 2]) + "'");
  i += 3;
  if (s.family == Family::Decode) {
    if (i >= toks.size() || !detail::take_prefixed(toks[i], "p", "page_size", v, detail::kIntMin, detail::kIntMax))
      throw SpecError("page_size: decode keys end in '_p<P>' (p0 = contiguous)");
    s.page_size = static_cast<int>(v);
    ++i;
    if (i < toks.size() && toks[i].substr(0, 3) == "kv-") {
      s.kv_dtype = parse_kv_dtype(toks[i].substr(3));
      if (s.kv_dtype == KvDType::Same)  // one spelling per problem: "same" is the absent field
        throw SpecError("kv_dtype: write no '_kv-' field for K/V in the query's dtype, got '" +
                        std::string(toks[i]) + "'");
      ++i;
    }
  } else if (i < toks.size() && toks[i].size() > 1 && toks[i][0] == 'p' && toks[i][1] >= '0' && toks[i][1] <= '9') {
    // Prefill keys carry _p<P> only for a paged KV cache: p0 has one spelling, the absent field.
    if (!detail::take_prefixed(toks[i], "p", "page_size", v, 1, 256))
      throw SpecError("page_size: expected 'p<P>' with P a power of two in [1, 256], got '" +
                      std::string(toks[i]) + "'");
    s.page_size = static_cast<int>(v);
    ++i;
  }
  if (i < toks.size() && toks[i] == "varlen") {
    s.varlen = true;
    ++i;
  }
  if (i < toks.size() && toks[i] == "even") {
    s.even = true;
    ++i;
  }
  if (i != toks.size())
    throw SpecError("problem key: unexpected field '" + std::string(toks[i]) + "' in '" +
                    std::string(key) + "'");
  s.validate();
  return s;
}

ProblemSpec ProblemSpec::for_shape(Family family, DType dtype, int head_dim, MaskSpec mask,
                                   int64_t heads_q, int64_t heads_kv, int64_t seqlen_q,
                                   int64_t seqlen_k, int page_size) {
  if (heads_q < 1) throw SpecError("heads_q: must be >= 1, got " + std::to_string(heads_q));
  if (heads_kv < 1) throw SpecError("heads_kv: must be >= 1, got " + std::to_string(heads_kv));
  if (heads_q % heads_kv != 0)
    throw SpecError("heads_q: must be a multiple of heads_kv (" + std::to_string(heads_q) +
                    " % " + std::to_string(heads_kv) + " != 0)");
  if (seqlen_q < (family == Family::Prefill ? 1 : 1))
    throw SpecError("seqlen_q: must be >= 1, got " + std::to_string(seqlen_q));
  if (seqlen_k < 0) throw SpecError("seqlen_k: must be >= 0, got " + std::to_string(seqlen_k));
  ProblemSpec s;
  s.family = family;
  s.dtype = dtype;
  s.head_dim = head_dim;
  s.mask = mask;
  s.group = static_cast<int>(heads_q / heads_kv);
  s.seqlen_k = length_bucket(seqlen_k);
  if (family == Family::Prefill) {
    s.seqlen_q = length_bucket(seqlen_q);
    s.page_size = page_size;
    s.even = seqlen_q % kEvenAlignment == 0 && seqlen_k % kEvenAlignment == 0 && seqlen_k > 0 &&
             page_size == 0;
  } else {
    s.seqlen_q = seqlen_q;
    s.page_size = page_size;
  }
  s.validate();
  return s;
}

}  // namespace attnjit
