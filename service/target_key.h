// Target keys as clients send them: "sm_80" ... "sm_90a" for GPUs, "cpu-<llvm cpu name>" for
// CPUs (codegen/target.h). One parser for the service, the client and `attnjit query`.
#pragma once

#include <string>

#include "codegen/target.h"

namespace attnjit::service {

// Throws SpecError naming the allowed forms. `isa` (a stored CPU feature string) sets the CPU
// target's features and vector width.
Target target_from_key(const std::string& key, const std::string& isa = {});

}  // namespace attnjit::service
