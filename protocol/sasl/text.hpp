// protocol/sasl/text.hpp — small byte-string checks the SASL mechanisms share.
//
// Contract: pure functions on bytes; none allocates except json_string, none fails.
// - is_utf8: well-formed UTF-8 per RFC 3629 (no overlongs, no surrogates, nothing above
//   U+10FFFF); the empty string is well-formed.
// - iequals: ASCII case-insensitive equality (mechanism names, auth schemes).
// - is_b64token: RFC 6750 §2.1 b64token, 1*(ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" /
//   "/") *"=", which is what a Bearer token may be.
// - json_string: `s` as a JSON string literal with quotes; control characters, '"' and '\'
//   escaped. The input is expected to be UTF-8; other bytes are copied as they are.
#pragma once

#include <string>
#include <string_view>

namespace tern::protocol::sasl {

bool is_utf8(std::string_view s);
bool iequals(std::string_view a, std::string_view b);
bool is_b64token(std::string_view s);
std::string json_string(std::string_view s);

}  // namespace tern::protocol::sasl
