// The template registry: every kernel template, with the arch range it runs on and its priority.
// A problem's search space is the union over every template that implements it on the target,
// each config naming its template (TileConfig::tmpl), so templates compete in one tuning run;
// the default is the highest-priority template's default.
#pragma once

#include <memory>
#include <vector>

#include "codegen/kernel_template.h"

namespace attnjit {

// Every registered template.
std::vector<const KernelTemplate*> all_templates();
// The templates that implement `spec` on `target`, highest priority first.
std::vector<const KernelTemplate*> applicable_templates(const ProblemSpec& spec, const Target& target);
// The template for (spec, target) as tuning, lookups and the service see it: the one applicable
// template, or — where several apply — their union: its search space is every member's, its
// default the highest-priority member's that takes the problem by default (default_for), its version hash covers every member, and it hands
// rendering, geometry and arguments to the member a config names. Throws SpecError naming what
// is unsupported when none applies.
const KernelTemplate& select_template(const ProblemSpec& spec, const Target& target);
// The union of `members` (highest priority first), as select_template builds it.
std::unique_ptr<KernelTemplate> make_union_template(std::vector<const KernelTemplate*> members);
// The concrete template a config names (cfg.tmpl; an old key without a template name means the
// highest-priority one). Throws SpecError if that template does not implement (spec, target).
const KernelTemplate& template_for(const ProblemSpec& spec, const Target& target, const TileConfig& cfg);
// The union of the applicable templates' search spaces.
std::vector<TileConfig> search_space(const ProblemSpec& spec, const Target& target);
// The default config: select_template's (the highest-priority template that takes it by default).
TileConfig default_config(const ProblemSpec& spec, const Target& target);

}  // namespace attnjit
