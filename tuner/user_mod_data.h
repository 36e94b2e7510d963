// The aux tensors of a problem's user snippets (score_mod / mask_mod) for tuning cases: the
// tuner knows nothing of what they mean, so each is zeros, long enough for any per-token,
// per-head or per-(batch, head) index (a document mask then sees one document: dense
// attention's cost, the conservative timing). Uploaded once, attached to every launch (the
// snippet texts with them), and the host copy is what the float64 reference's snippets read.
// Empty when the spec has no snippets.
#pragma once

#include <cstdint>
#include <vector>

#include "attnjit/problem_spec.h"
#include "attnjit/tensors.h"
#include "runtime/backend.h"
#include "runtime/reference_attention.h"
#include "templates/prefill/params.h"

namespace attnjit::tuner {

class UserModData {
 public:
  UserModData() = default;
  UserModData(Backend& backend, const ProblemSpec& spec, const RunShape& shape);

  // The snippet texts (from the snippet store, by the spec's hashes) and the aux tensors.
  void attach(PrefillArgs& a) const;
  void attach(DecodeArgs& a) const;
  // The snippets as host callbacks reading the host aux copy (the JIT compiles them; throws
  // SnippetError for one that does not compile). The object must outlive rp.
  void attach(ReferenceProblem& rp) const;

 private:
  ProblemSpec spec_;
  int64_t n_ = 0;  // elements per aux tensor (0: no snippets)
  DeviceBuffer aux_;
  std::vector<unsigned char> host_;
  UserModParams host_params_{};
};

}  // namespace attnjit::tuner
