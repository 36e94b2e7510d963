// `--kv-dtype same|e4m3|e5m2` for the commands that take problem keys (compile, tune): the same
// as writing the key's `_kv-e4m3` field. Refused (exit 2, naming the flag) for prefill problems.
#pragma once

#include <string>

#include "cli/command.h"
#include "codegen/problem_spec.h"

namespace attnjit::cli {

inline ProblemSpec with_kv_dtype(ProblemSpec spec, const std::string& flag) {
  if (flag.empty()) return spec;
  try {
    spec.kv_dtype = parse_kv_dtype(flag);
    spec.validate();
  } catch (const SpecError& e) {
    throw UsageError(std::string("--kv-dtype: ") + e.what());
  }
  return spec;
}

}  // namespace attnjit::cli
