#include "api/tuned_config.h"

#include <map>
#include <vector>

#include "codegen/registry.h"

namespace attnjit {

const std::string& cached_version_hash(const KernelTemplate& tmpl) {
  thread_local std::map<const KernelTemplate*, std::string> memo;
  auto it = memo.find(&tmpl);
  if (it == memo.end()) it = memo.emplace(&tmpl, tmpl.version_hash()).first;
  return it->second;
}

TunedConfig choose_tuned_config(const KernelTemplate& tmpl, const ProblemSpec& spec, const Target& target,
                                const TemplateLookup& lookup) {
  std::vector<const KernelTemplate*> ts{&tmpl};  // the asked template, then the others
  for (const KernelTemplate* t : applicable_templates(spec, target))
    if (t->name() != tmpl.name()) ts.push_back(t);
  LookupResult best;
  const KernelTemplate* found_in = &tmpl;
  for (const KernelTemplate* t : ts) {
    LookupResult lr = lookup(*t, cached_version_hash(*t));
    if (t == &tmpl) best.explanation = lr.explanation;  // what a miss reports
    if (lr.reason == LookupReason::Default || !lr.entry) continue;
    if (!best.entry || lr.reason < best.reason ||
        (lr.reason == best.reason && lr.entry->median_ms < best.entry->median_ms)) {
      best = std::move(lr);
      found_in = t;
    }
  }

  TunedConfig out;
  out.explanation = best.explanation;
  if (best.entry) {
    std::string illegal;
    try {
      TileConfig cfg = TileConfig::parse(best.entry->config);
      // A config found under a template's hash is that template's, unless its key names another.
      const KernelTemplate& owner = cfg.tmpl.empty() || cfg.tmpl == found_in->short_name()
                                        ? *found_in : template_for(spec, target, cfg);
      if (auto why = owner.can_implement(spec, cfg, target)) {
        illegal = *why;
        out.source = "default (tuned " + best.entry->config + " cannot run here: " + *why + ")";
      } else {
        out.config = cfg;
        out.owner = &owner;
        out.source = "db:" + std::string(to_string(best.reason));
        if (best.reason != LookupReason::Exact) out.source += ":" + best.entry->problem;
        out.lookup = std::move(best);
        return out;
      }
    } catch (const SpecError& e) {
      illegal = e.what();
      out.source = std::string("default (stored config unreadable: ") + e.what() + ")";
    }
    out.explanation += "; rejected for this problem (" + illegal + "), using the default";
  } else {
    out.source = "default";
    if (out.explanation.empty()) out.explanation = "no tuned entry: the template's built-in default";
  }
  out.lookup.explanation = best.explanation;
  out.lookup.reason = LookupReason::Default;
  out.config = tmpl.default_config(spec, target);
  out.owner = &tmpl;
  return out;
}

TunedConfig choose_tuned_config(const Database& db, const DeviceInfo& device, const KernelTemplate& tmpl,
                                const ProblemSpec& spec, const Target& target) {
  return choose_tuned_config(tmpl, spec, target, [&](const KernelTemplate&, const std::string& hash) {
    return db.lookup(device, spec, hash);
  });
}

TunedConfig choose_tuned_config(const Database& db, const std::string& device_or_target,
                                const KernelTemplate& tmpl, const ProblemSpec& spec, const Target& target) {
  return choose_tuned_config(tmpl, spec, target, [&](const KernelTemplate&, const std::string& hash) {
    return db.lookup(std::string_view(device_or_target), spec, hash);
  });
}

}  // namespace attnjit
