// protocol/sasl/base64.hpp — strict RFC 4648 §4 base64, as SASL profiles carry it on the wire.
//
// Contract:
// - encode(bytes) returns the standard-alphabet encoding with '=' padding; it cannot fail.
//   encoded_size(n) is the exact length encode() gives for n bytes.
// - decode(text, decoded_bytes_max) accepts only canonical base64: the standard alphabet
//   (A-Z a-z 0-9 + /), a length that is a multiple of 4, '=' only as the last one or two
//   characters, no whitespace, nothing after the padding, and zero bits where the last
//   character carries bits the output has no room for (RFC 4648 §3.5). So every accepted
//   text is exactly encode(decode(text)). The empty text decodes to the empty string.
//   It fails with an Error whose offset is the index in `text` of the offending character
//   (for a bad length: text.size(); for a result over decoded_bytes_max: the index of the
//   first group that would go past the limit). Nothing is allocated before the length checks.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "protocol/core/result.hpp"

namespace tern::protocol::sasl {

std::size_t encoded_size(std::size_t decoded_bytes);

std::string base64_encode(std::string_view bytes);

Result<std::string> base64_decode(std::string_view text, std::size_t decoded_bytes_max);

}  // namespace tern::protocol::sasl
