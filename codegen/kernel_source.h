// KernelSource: what codegen hands the runtime — a small generated prelude plus the embedded
// template headers it includes, the entry point, and the compiler options. hash is a content
// hash over all of it, so a cached binary is never stale.
#pragma once

#include <cstdint>
#include <string_view>
#include <string>
#include <utility>
#include <vector>

#include "attnjit/launch.h"
#include "attnjit/types.h"

namespace attnjit {

struct KernelSource {
  Platform platform = Platform::Cuda;
  std::string name;        // "<template>/<problem key>/<config key>/<target key>": for logs
  std::string text;        // the generated translation unit (prelude + #include of the template)
  // Headers the text may #include, by name (the embedded templates). For NVRTC they go in as
  // in-memory headers; for clang as an in-memory file system.
  std::vector<std::pair<std::string, std::string>> headers;
  // GPU: NVRTC name expression of the __global__ instantiation, resolved with
  // nvrtcGetLoweredName. CPU: the extern "C" symbol to look up.
  std::string entry;
  std::vector<std::string> options;  // compiler options, arch included
  std::string arch;                  // "sm_90a" | CPU name
  std::string hash;                  // 32 hex chars, XXH3-128 over everything above

  // Fills `hash` from the other fields.
  void finalize();
};

// A key as a C identifier (CPU kernel entry symbols): every character outside [A-Za-z0-9]
// becomes '_', which loses '-' and '.'. Test names spell keys reversibly instead
// (tests/common/test_name.h).
std::string identifier(std::string_view key);

// XXH3-128 of a byte string as 32 lowercase hex chars.
std::string content_hash(std::string_view bytes);

}  // namespace attnjit
