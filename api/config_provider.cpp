#include "api/config_provider.h"

namespace attnjit {

ConfigChoice DefaultConfigProvider::choose(const KernelTemplate& tmpl, const ProblemSpec& spec,
                                           const Target& target) {
  return {tmpl.default_config(spec, target), "default"};
}

}  // namespace attnjit
