#include "codegen/kernel_template.h"

#include "codegen/decode/arguments.h"
#include "codegen/prefill/arguments.h"

namespace attnjit {

RunShape LaunchArgs::shape() const {
  if ((prefill != nullptr) == (decode != nullptr))
    throw SpecError("launch: exactly one of prefill / decode arguments must be given");
  return prefill ? prefill_shape(prefill->problem) : decode_shape(decode->problem);
}

bool ArchRange::contains(const Target& t) const {
  if (t.platform != platform) return false;
  if (platform != Platform::Cuda) return true;
  const int cc = t.cc_major * 10 + t.cc_minor;
  return cc >= min_cc && cc <= max_cc;
}

std::string KernelTemplate::name() const {
  return std::string(to_string(family())) + "_" + std::string(short_name());
}

std::string KernelTemplate::kernel_name(const ProblemSpec& spec, const TileConfig& cfg,
                                        const Target& target) const {
  return name() + "/" + spec.key() + "/" + cfg.key() + "/" + target.key();
}

std::string KernelTemplate::cpu_entry(const ProblemSpec& spec, const TileConfig& cfg) const {
  return "attnjit_" + name() + "_" + identifier(spec.key() + "_" + cfg.key());
}

WorkspaceSize KernelTemplate::workspace_bytes(const ProblemSpec&, const TileConfig&, const Target&,
                                              const RunShape&) const {
  return {};
}

KernelLaunch KernelTemplate::make_launch(const ProblemSpec& spec, const TileConfig& cfg,
                                         const Target& target, const LaunchArgs& args,
                                         const Workspace& ws) const {
  KernelLaunch l;
  l.params = build_arguments(spec, cfg, target, args, ws);
  l.geometry = geometry(spec, cfg, target, args.shape());
  return l;
}

}  // namespace attnjit
