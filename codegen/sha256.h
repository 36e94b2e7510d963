// SHA-256 (FIPS 180-4), for naming user snippets: their key must not collide by design, since
// the service hands out kernels by it (codegen/snippet.h). Small and dependency-free.
#pragma once

#include <string>
#include <string_view>

namespace attnjit {

// The digest of `bytes` as 64 lowercase hex digits.
std::string sha256_hex(std::string_view bytes);

}  // namespace attnjit
