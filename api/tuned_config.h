// The one rule that turns the tuning database into a config for (problem, target) — used by the
// Runtime's DbConfigProvider and by the service's /v1/best and /v1/kernel alike.
//
// Every template that implements the problem on the target is looked up (results are keyed by
// each template's version hash: the one asked for first, then each applicable member); the
// closest lookup reason wins (db/lookup.h), then the fastest. A stored config that cannot be
// read, or that this exact problem cannot run (can_implement), falls back to the asked
// template's default, and the result says why.
#pragma once

#include <functional>
#include <string>

#include "codegen/kernel_template.h"
#include "db/database.h"
#include "db/lookup.h"

namespace attnjit {

struct TunedConfig {
  TileConfig config;
  const KernelTemplate* owner = nullptr;  // the template that runs `config`
  LookupResult lookup;       // reason Default and no entry when the default is used
  // "db:exact", "db:nearest_bucket:<tuned problem>", "db:same_arch:<tuned problem>", "default",
  // or "default (<why a tuned config was not used>)" — PreparedKernel::config_source.
  std::string source;
  // The lookup's explanation, plus why a tuned config was rejected — the service's answer.
  std::string explanation;
};

// One lookup of one template version (db.lookup with a device or a device/target key).
using TemplateLookup = std::function<LookupResult(const KernelTemplate& tmpl, const std::string& version_hash)>;

TunedConfig choose_tuned_config(const KernelTemplate& tmpl, const ProblemSpec& spec, const Target& target,
                                const TemplateLookup& lookup);
// By device identity (the Runtime) or by fingerprint / target key ("sm_90a"; CLI, service).
TunedConfig choose_tuned_config(const Database& db, const DeviceInfo& device, const KernelTemplate& tmpl,
                                const ProblemSpec& spec, const Target& target);
TunedConfig choose_tuned_config(const Database& db, const std::string& device_or_target,
                                const KernelTemplate& tmpl, const ProblemSpec& spec, const Target& target);

// KernelTemplate::version_hash(), which hashes the template text on each call, remembered per
// thread (it cannot change within a process): lookups sit on the service's hot path.
const std::string& cached_version_hash(const KernelTemplate& tmpl);

}  // namespace attnjit
