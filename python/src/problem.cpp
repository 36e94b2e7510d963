// Problem keys: the library's one canonical form, parsed and formatted for the Python
// dataclasses (attnjit/_problem.py), which hold no grammar of their own.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#include "attnjit/attnjit.h"

namespace nb = nanobind;

namespace attnjit::python {
namespace {

nb::dict fields_of(const ProblemSpec& s) {
  nb::dict d;
  d["family"] = std::string(to_string(s.family));
  d["dtype"] = std::string(to_string(s.dtype));
  d["head_dim"] = s.head_dim;
  d["mask"] = std::string(to_string(s.mask.kind));
  d["window_left"] = s.mask.window_left;
  d["window_right"] = s.mask.window_right;
  d["group"] = s.group;
  d["seqlen_q"] = s.seqlen_q;
  d["seqlen_k"] = s.seqlen_k;
  d["page_size"] = s.page_size;
  d["even"] = s.even;
  d["softcap"] = s.softcap;
  d["varlen"] = s.varlen;
  d["alibi"] = s.alibi;
  d["sink"] = s.sink;
  d["score_mod"] = s.score_mod;
  d["mask_mod"] = s.mask_mod;
  d["block_sparse"] = s.block_sparse;
  d["kv_dtype"] = std::string(to_string(s.kv_dtype));
  return d;
}

}  // namespace

void bind_problem(nb::module_& m) {
  m.def(
      "parse_problem", [](const std::string& key) { return fields_of(ProblemSpec::parse(key)); }, nb::arg("key"),
      "The fields of a canonical problem key (SpecError naming the field when it is malformed).");
  m.def(
      "problem_key",
      [](const std::string& family, const std::string& dtype, int head_dim, const std::string& mask,
         int64_t window_left, int64_t window_right, int group, int64_t seqlen_q, int64_t seqlen_k, int page_size,
         bool even, double softcap, bool varlen, bool alibi, bool sink, const std::string& score_mod,
         const std::string& mask_mod, int block_sparse, const std::string& kv_dtype) {
        ProblemSpec s;
        s.family = parse_family(family);
        s.dtype = parse_dtype(dtype);
        s.head_dim = head_dim;
        s.mask = {parse_mask_kind(mask), window_left, window_right};
        s.group = group;
        s.seqlen_q = seqlen_q;
        s.seqlen_k = seqlen_k;
        s.page_size = page_size;
        s.even = even;
        s.softcap = softcap;
        s.varlen = varlen;
        s.alibi = alibi;
        s.sink = sink;
        s.score_mod = score_mod;
        s.mask_mod = mask_mod;
        s.block_sparse = block_sparse;
        s.kv_dtype = parse_kv_dtype(kv_dtype);
        s.validate();
        return s.key();
      },
      nb::arg("family"), nb::arg("dtype"), nb::arg("head_dim"), nb::arg("mask"), nb::arg("window_left"),
      nb::arg("window_right"), nb::arg("group"), nb::arg("seqlen_q"), nb::arg("seqlen_k"), nb::arg("page_size"),
      nb::arg("even"), nb::kw_only(), nb::arg("softcap") = 0.0, nb::arg("varlen") = false, nb::arg("alibi") = false,
      nb::arg("sink") = false, nb::arg("score_mod") = "", nb::arg("mask_mod") = "", nb::arg("block_sparse") = 0,
      nb::arg("kv_dtype") = "same",
      "The canonical key of a problem given field by field (validated): the variants' fields\n"
      "(softcap 0 = off, snippet hashes '' = none, block_sparse 0 = none, kv_dtype same | e4m3 | e5m2)\n"
      "are keywords.");
  m.def(
      "problem_for_shape",
      [](const std::string& family, const std::string& dtype, int head_dim, const std::string& mask,
         int64_t window_left, int64_t window_right, int64_t heads_q, int64_t heads_kv, int64_t seqlen_q,
         int64_t seqlen_k, int page_size) {
        return fields_of(ProblemSpec::for_shape(parse_family(family), parse_dtype(dtype), head_dim,
                                                {parse_mask_kind(mask), window_left, window_right}, heads_q,
                                                heads_kv, seqlen_q, seqlen_k, page_size));
      },
      nb::arg("family"), nb::arg("dtype"), nb::arg("head_dim"), nb::arg("mask"), nb::arg("window_left"),
      nb::arg("window_right"), nb::arg("heads_q"), nb::arg("heads_kv"), nb::arg("seqlen_q"), nb::arg("seqlen_k"),
      nb::arg("page_size"),
      "The fields of the problem a concrete call runs (lengths in buckets, 'even' derived).");
}

}  // namespace attnjit::python
