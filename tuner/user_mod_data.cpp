#include "tuner/user_mod_data.h"

#include <algorithm>

#include "codegen/snippet.h"
#include "runtime/snippet_host.h"

namespace attnjit::tuner {

UserModData::UserModData(Backend& backend, const ProblemSpec& spec, const RunShape& shape) : spec_(spec) {
  if (spec.score_mod.empty() && spec.mask_mod.empty()) return;
  n_ = std::max({shape.seqlen_q, shape.seqlen_k, shape.batch * shape.heads_q, int64_t{1}});
  aux_ = DeviceBuffer(backend, static_cast<size_t>(n_) * 4);
  backend.fill_bytes(aux_.get(), 0, aux_.size());
  host_.assign(aux_.size(), 0);
  for (int i = 0; i < kMaxAuxTensors; ++i) {
    host_params_.aux[i] = host_.data();
    host_params_.aux_size[i] = n_;
  }
}

namespace {
template <class Args>
void attach_to(const ProblemSpec& spec, const DeviceBuffer& aux, int64_t n, Args& a) {
  if (n == 0) return;
  if (!spec.score_mod.empty()) a.problem.score_mod = snippet_text("score_mod", spec.score_mod);
  if (!spec.mask_mod.empty()) a.problem.mask_mod = snippet_text("mask_mod", spec.mask_mod);
  for (int i = 0; i < kMaxAux; ++i) a.aux[i] = {aux.get(), AuxType::I32, n};
}
}  // namespace

void UserModData::attach(PrefillArgs& a) const { attach_to(spec_, aux_, n_, a); }
void UserModData::attach(DecodeArgs& a) const { attach_to(spec_, aux_, n_, a); }

void UserModData::attach(ReferenceProblem& rp) const {
  if (n_ == 0) return;
  const HostSnippets hs = host_snippets(spec_, &host_params_);
  rp.score_mod = hs.score_mod;
  rp.mask_mod = hs.mask_mod;
}

}  // namespace attnjit::tuner
