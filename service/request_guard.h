// Checks on a request's head made before any byte of its body is read. cpp-httplib 0.11 would
// read a chunked body of any size, read a body without a length to EOF, and inflate gzip / br
// bodies without a cap (Debian builds it with zlib and brotli); it cannot be configured not
// to, so the server refuses such requests here, from the headers alone:
//   - a body on a route that takes none                          400 field "body"
//   - Transfer-Encoding other than "chunked"                    501 field "Transfer-Encoding"
//   - both Transfer-Encoding and Content-Length (smuggling)     400 field "Content-Length"
//   - a malformed or repeated Content-Length                     400 field "Content-Length"
//   - Content-Length over the limit                              413 field "body"
//   - a body route with neither Content-Length nor chunked       411 field "Content-Length"
//   - any Content-Encoding but identity                          415 field "Content-Encoding"
//   - a multipart/form-data body                                 415 field "Content-Type"
// Chunked bodies within the rules are still counted while they are read (see ConnStream and
// the server's body reader), so they cannot exceed the limit either.
#pragma once

#include <cstddef>
#include <optional>

#include <httplib.h>

#include "service/api_error.h"

namespace attnjit::service {

std::optional<ApiError> check_body_framing(const httplib::Request& req, bool route_takes_body,
                                           size_t max_body_bytes);

// Strict Content-Length value: digits only, no sign, no overflow. nullopt when malformed.
std::optional<uint64_t> parse_content_length(const std::string& value);

}  // namespace attnjit::service
