// Base64 (RFC 4648, standard alphabet, padded): CUBINs travel inside JSON.
#pragma once

#include <string>
#include <string_view>

namespace attnjit::service {

std::string base64_encode(std::string_view bytes);
// Throws std::invalid_argument on a character outside the alphabet or a bad length.
std::string base64_decode(std::string_view text);

}  // namespace attnjit::service
