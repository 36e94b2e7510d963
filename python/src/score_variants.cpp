#include "score_variants.h"

#include <string>

namespace attnjit::python {
namespace {

// PrefillArgs and DecodeArgs name these fields alike.
template <class Args>
void fill(const Arg* slopes, const Arg* sinks, const Arg& q, int64_t batch, int64_t heads_q, const Placement& where,
          Args& a) {
  if (slopes) {
    const Arg& s = *slopes;
    expect_dtype(s, nb::dtype<float>(), "float32");
    if (s.a.ndim() != 1 && s.a.ndim() != 2)
      throw nb::value_error(("alibi_slopes: expected shape [heads_q] or [batch, heads_q], got " +
                             std::to_string(s.a.ndim()) + " dimensions").c_str());
    expect_extent(s, s.a.ndim() - 1, heads_q, "heads_q", q);
    if (s.a.ndim() == 2) expect_extent(s, 0, batch, "batch", q);
    expect_device(s, where);
    expect_unit_last_stride(s);
    a.problem.alibi = true;
    a.alibi_slopes = static_cast<const float*>(s.a.data());
    // A batch of one (or a broadcast batch dimension) shares one vector.
    a.alibi_batch_stride = s.a.ndim() == 2 && batch > 1 ? s.a.stride(0) : 0;
    if (s.a.ndim() == 2 && batch > 1 && a.alibi_batch_stride < heads_q)
      throw nb::value_error("alibi_slopes: rows of [batch, heads_q] must not overlap (stride(0) >= heads_q)");
  }
  if (sinks) {
    const Arg& s = *sinks;
    expect_dtype(s, nb::dtype<float>(), "float32");
    expect_ndim(s, 1, "[heads_q]");
    expect_extent(s, 0, heads_q, "heads_q", q);
    expect_device(s, where);
    expect_unit_last_stride(s);
    a.problem.sink = true;
    a.sinks = static_cast<const float*>(s.a.data());
  }
}

}  // namespace

ScoreVariantArgs::ScoreVariantArgs(nb::handle slopes_obj, nb::handle sinks_obj)
    : slopes(to_opt_arg("alibi_slopes", slopes_obj)), sinks(to_opt_arg("sinks", sinks_obj)) {}

void score_variant_args(const Arg* slopes, const Arg* sinks, const Arg& q, int64_t batch, int64_t heads_q,
                        const Placement& where, PrefillArgs& a) {
  fill(slopes, sinks, q, batch, heads_q, where, a);
}

void score_variant_args(const Arg* slopes, const Arg* sinks, const Arg& q, int64_t batch, int64_t heads_q,
                        const Placement& where, DecodeArgs& a) {
  fill(slopes, sinks, q, batch, heads_q, where, a);
}

}  // namespace attnjit::python
