// PLACEHOLDER — replaced by the owner of the prefill_cpu template.
#include <stdexcept>
#include "codegen/kernel_template.h"

namespace attnjit {
namespace {
class Placeholder final : public KernelTemplate {
 public:
  std::string_view name() const override { return "prefill_cpu"; }
  std::string version_hash() const override { return "none"; }
  bool supports(const ProblemSpec&, const Target&) const override { return false; }
  std::vector<TileConfig> search_space(const ProblemSpec&, const Target&) const override { return {}; }
  TileConfig default_config(const ProblemSpec&, const Target&) const override { return {}; }
  std::optional<std::string> can_implement(const ProblemSpec&, const TileConfig&, const Target&) const override {
    return "template prefill_cpu not built yet";
  }
  KernelSource render(const ProblemSpec&, const TileConfig&, const Target&) const override {
    throw SpecError("template prefill_cpu not built yet");
  }
  LaunchGeometry geometry(const ProblemSpec&, const TileConfig&, const Target&, const RunShape&) const override { return {}; }
};
}  // namespace
const KernelTemplate& prefill_cpu_template() { static Placeholder t; return t; }
}  // namespace attnjit
