// AMX tile state for this process. Linux (5.16 and newer) leaves the AMX tile data out of a
// process's state until the process asks for it (arch_prctl ARCH_REQ_XCOMP_PERM,
// XFEATURE_XTILEDATA); a tile instruction before that raises SIGILL. The CPU backend asks once,
// before it names amx-* among the JIT's target features, and names them only if granted, so a
// kernel with tiles is never compiled for (or loaded from the disk cache into) a process that
// cannot run it.
#pragma once

#include <string>

namespace attnjit {

// Asks once per process; true when the tile state is granted (false off Linux x86-64, or when
// the kernel or hypervisor refuses; *why then says which).
bool request_amx_tiles(std::string* why = nullptr);

// The target-feature list with +amx-* turned into -amx-* unless request_amx_tiles() grants them.
std::string amx_features_granted(const std::string& features);

}  // namespace attnjit
