#include "tuner/problem_case.h"

#include "codegen/registry.h"
#include "runtime/half.h"
#include "tuner/decode_case.h"
#include "tuner/prefill_case.h"
#include "tuner/workload.h"

namespace attnjit::tuner {

void read_o_and_lse(Backend& backend, DType dtype, const DeviceBuffer& o_buf, size_t o_elems,
                    const DeviceBuffer& lse_buf, size_t lse_elems, std::vector<float>& o,
                    std::vector<float>& lse) {
  std::vector<unsigned char> ob(o_buf.size());
  backend.copy_to_host(ob.data(), o_buf.get(), ob.size());
  o.resize(o_elems);
  for (size_t i = 0; i < o.size(); ++i) o[i] = load_as_float(dtype, ob.data(), static_cast<int64_t>(i));
  lse.resize(lse_elems);
  backend.copy_to_host(lse.data(), lse_buf.get(), lse.size() * sizeof(float));
}

void poison_o_and_lse(Backend& backend, DeviceBuffer& o_buf, DeviceBuffer& lse_buf) {
  backend.fill_bytes(o_buf.get(), 0xFF, o_buf.size());
  backend.fill_bytes(lse_buf.get(), 0xFF, lse_buf.size());
}

std::vector<unsigned char> ProblemCase::launch_args(int set, const TileConfig& cfg) {
  const Target& t = backend_.target();
  const KernelTemplate& tmpl = template_for(spec(), t, cfg);
  const WorkspaceSize need = tmpl.workspace_bytes(spec(), cfg, t, shape());
  auto grow = [&](DeviceBuffer& b, int64_t bytes, bool zero) {
    if (bytes <= 0 || (b.get() && static_cast<int64_t>(b.size()) >= bytes)) return;
    b = DeviceBuffer(backend_, static_cast<size_t>(bytes));
    if (zero) backend_.fill_bytes(b.get(), 0, b.size());
  };
  grow(ws_zeroed_, need.zeroed, true);
  grow(ws_scratch_, need.scratch, false);
  return tmpl.build_arguments(spec(), cfg, t, args(set), Workspace{ws_zeroed_.get(), ws_scratch_.get()});
}

size_t ProblemCase::q_elems() const {
  return static_cast<size_t>(shape().batch * shape().seqlen_q * shape().heads_q * spec().head_dim);
}

size_t ProblemCase::lse_elems() const {
  return static_cast<size_t>(shape().batch * shape().heads_q * shape().seqlen_q);
}

void ProblemCase::poison(int set) {
  poison_outputs(set);
  if (ws_zeroed_.get()) backend_.fill_bytes(ws_zeroed_.get(), 0, ws_zeroed_.size());
}

size_t case_bytes_per_set(const ProblemSpec& spec, const RunShape& shape) {
  return spec.family == Family::Decode ? DecodeCase::bytes_per_set(spec, shape)
                                       : PrefillCase::bytes_per_set(spec, shape);
}

std::unique_ptr<ProblemCase> make_problem_case(Backend& backend, const ProblemSpec& spec,
                                               const RunShape& shape, uint64_t seed, int copies,
                                               bool reduced) {
  if (spec.family != Family::Decode)
    return std::make_unique<PrefillCase>(backend, spec, shape, seed, copies, reduced);
  return std::make_unique<DecodeCase>(backend, spec, shape,
                                      reduced ? reduced_seqlens(spec, shape) : std::vector<int64_t>{},
                                      seed, copies, /*keep_host=*/reduced);
}

}  // namespace attnjit::tuner
