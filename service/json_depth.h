// Bounded JSON nesting. nlohmann::json recurses when it serializes, compares and converts
// values, so a body of 70,000 '[' crashed the server with a stack overflow; every request body
// is scanned here first (one pass, strings and escapes skipped) and refused beyond the bound.
#pragma once

#include <cstddef>
#include <string_view>

namespace attnjit::service {

// Deepest array / object nesting anywhere in `text` (JSON or JSON Lines), scanning no further
// than one level past `limit`: the result is at most limit + 1.
size_t json_nesting_depth(std::string_view text, size_t limit);

// Our bodies nest 3 levels deep; 64 leaves room and stays far from any stack limit.
inline constexpr size_t kMaxJsonDepth = 64;

}  // namespace attnjit::service
