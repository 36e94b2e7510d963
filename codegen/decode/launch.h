// The part of the launch contract both decode templates (sm80, CPU) share, layered over their
// base class: the split workspace and the DecodeParams buffer of codegen/decode/arguments.h.
#pragma once

#include <vector>

#include "codegen/decode/arguments.h"
#include "codegen/kernel_template.h"

namespace attnjit {

template <class Base>
class DecodeLaunch : public Base {
 public:
  using Base::Base;

  WorkspaceSize workspace_bytes(const ProblemSpec& spec, const TileConfig& c, const Target& target,
                                const RunShape& shape) const override {
    return decode_workspace_bytes(spec, c, target, shape);
  }
  std::vector<unsigned char> build_arguments(const ProblemSpec& spec, const TileConfig& c, const Target& target,
                                             const LaunchArgs& args, const Workspace& ws) const override {
    return decode_arguments(spec, c, target, args, ws);
  }
};

}  // namespace attnjit
