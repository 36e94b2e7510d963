// The compiled-kernel cache key — one format for the memory and the disk cache, GPU and CPU:
//   <platform>|<source hash>|<compiler identity>|<arch>
// The source hash covers the text, the embedded headers, the options, the entry and the arch
// (KernelSource::finalize); the compiler identity ("nvrtc-13.0", "llvm-14.0.6 x86_64-pc-linux-gnu")
// keeps binaries of another compiler or host from being reused.
#pragma once

#include <string>
#include <string_view>

#include "codegen/kernel_source.h"

namespace attnjit {

inline std::string compile_cache_key(const KernelSource& src, std::string_view compiler) {
  return std::string(to_string(src.platform)) + "|" + src.hash + "|" + std::string(compiler) + "|" +
         src.arch;
}

}  // namespace attnjit
