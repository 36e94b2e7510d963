// The template registry: every kernel template, with the arch range it runs on and its priority.
// A problem's search space is the union over every template that implements it on the target,
// each config naming its template (TileConfig::tmpl), so templates compete in one tuning run;
// the default is the highest-priority template's default.
#pragma once

#include <vector>

#include "codegen/kernel_template.h"

namespace attnjit {

// Every registered template.
std::vector<const KernelTemplate*> all_templates();
// The templates that implement `spec` on `target`, highest priority first.
std::vector<const KernelTemplate*> applicable_templates(const ProblemSpec& spec, const Target& target);
// The highest-priority template implementing (spec, target); throws SpecError naming what is
// unsupported.
const KernelTemplate& select_template(const ProblemSpec& spec, const Target& target);
// The template a config names (cfg.tmpl; an old key without a template name means the
// highest-priority one). Throws SpecError if that template does not implement (spec, target).
const KernelTemplate& template_for(const ProblemSpec& spec, const Target& target, const TileConfig& cfg);
// The union of the applicable templates' search spaces.
std::vector<TileConfig> search_space(const ProblemSpec& spec, const Target& target);
// The default config: the highest-priority template's.
TileConfig default_config(const ProblemSpec& spec, const Target& target);

}  // namespace attnjit
