#include "codegen/registry.h"

#include <algorithm>

namespace attnjit {

// Each template's module defines its accessor. The list is explicit rather than built by static
// registrars: a static library drops object files nothing references, registrars included.
const KernelTemplate& prefill_sm80_template();
const KernelTemplate& prefill_sm90_template();
const KernelTemplate& decode_sm80_template();
const KernelTemplate& prefill_cpu_template();
const KernelTemplate& decode_cpu_template();

std::vector<const KernelTemplate*> all_templates() {
  return {&prefill_sm80_template(), &prefill_sm90_template(), &decode_sm80_template(), &prefill_cpu_template(),
          &decode_cpu_template()};
}

std::vector<const KernelTemplate*> applicable_templates(const ProblemSpec& spec, const Target& target) {
  std::vector<const KernelTemplate*> out;
  for (const KernelTemplate* t : all_templates())
    if (t->family() == spec.family && t->archs().contains(target) && t->supports(spec, target))
      out.push_back(t);
  std::stable_sort(out.begin(), out.end(), [](const KernelTemplate* a, const KernelTemplate* b) {
    return a->priority() > b->priority();
  });
  return out;
}

const KernelTemplate& select_template(const ProblemSpec& spec, const Target& target) {
  const auto ts = applicable_templates(spec, target);
  if (ts.empty())
    throw SpecError("no kernel template implements " + spec.key() + " on " + target.key() +
                    " (family " + std::string(to_string(spec.family)) + ", dtype " +
                    std::string(to_string(spec.dtype)) + ")");
  return *ts.front();
}

const KernelTemplate& template_for(const ProblemSpec& spec, const Target& target, const TileConfig& cfg) {
  if (cfg.tmpl.empty()) return select_template(spec, target);
  std::string known;
  for (const KernelTemplate* t : applicable_templates(spec, target)) {
    if (t->short_name() == cfg.tmpl) return *t;
    known += (known.empty() ? "" : ", ") + std::string(t->short_name());
  }
  throw SpecError("config: template '" + cfg.tmpl + "' does not implement " + spec.key() + " on " +
                  target.key() + " (templates that do: " + (known.empty() ? "none" : known) + ")");
}

std::vector<TileConfig> search_space(const ProblemSpec& spec, const Target& target) {
  std::vector<TileConfig> out;
  for (const KernelTemplate* t : applicable_templates(spec, target)) {
    auto s = t->search_space(spec, target);
    out.insert(out.end(), s.begin(), s.end());
  }
  return out;
}

TileConfig default_config(const ProblemSpec& spec, const Target& target) {
  return select_template(spec, target).default_config(spec, target);
}

}  // namespace attnjit
