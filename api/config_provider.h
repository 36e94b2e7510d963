// ConfigProvider: how the Runtime picks a TileConfig for a problem. The default uses each
// template's built-in heuristic; the tuning database plugs in its own provider (exact tuned
// entry -> nearest tuned bucket -> default) through Runtime::set_config_provider.
#pragma once

#include <string>

#include "codegen/kernel_template.h"

namespace attnjit {

struct ConfigChoice {
  TileConfig config;
  // Where it came from, for logs and PreparedKernel::config_source: "default", "db:exact",
  // "db:nearest:<problem key>", ...
  std::string source;
};

class ConfigProvider {
 public:
  virtual ~ConfigProvider() = default;
  // Called once per ProblemSpec key per Runtime (results are memoized until
  // Runtime::clear_plans), possibly from several threads at once: must be thread-safe and
  // must not block on tuning. A config that fails tmpl.can_implement is replaced by the
  // template's default (the source then says why).
  virtual ConfigChoice choose(const KernelTemplate& tmpl, const ProblemSpec& spec,
                              const Target& target) = 0;
};

// The template's default_config, source "default".
class DefaultConfigProvider final : public ConfigProvider {
 public:
  ConfigChoice choose(const KernelTemplate& tmpl, const ProblemSpec& spec,
                      const Target& target) override;
};

}  // namespace attnjit
