// protocol/sasl/wire.hpp — SASL messages as SMTP (RFC 4954 §4) and IMAP (RFC 9051 §6.2.2)
// carry them: one base64 line per message.
//
// Contract:
// - decode_client_line(line, position, decoded_bytes_max): `line` is one client line without
//   its CRLF (for an initial response: the argument after the mechanism name). "*" alone is
//   Cancel, in either position. As an initial response "=" alone is the empty message and an
//   empty line is an error (the empty message must be sent as "="); as a continuation the
//   empty line is the empty message. Anything else must be strict base64 (base64.hpp),
//   decoding to at most decoded_bytes_max bytes. Errors carry the offset in `line`.
// - encode_challenge(bytes): the text after "334 " (SMTP) or "+ " (IMAP): plain base64, so
//   the empty challenge is the empty text.
// - encode_initial_response(bytes): "=" for the empty message, base64 otherwise.
// - encode_response(bytes): a continuation line: base64, empty for the empty message.
// - cancel_line(): "*".
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

#include "protocol/core/result.hpp"

namespace tern::protocol::sasl {

struct Cancel {
  friend bool operator==(const Cancel&, const Cancel&) = default;
};

struct Bytes {
  std::string data;
  friend bool operator==(const Bytes&, const Bytes&) = default;
};

using ClientLine = std::variant<Cancel, Bytes>;

enum class LinePosition { initial_response, continuation };

Result<ClientLine> decode_client_line(std::string_view line, LinePosition position,
                                      std::size_t decoded_bytes_max);

std::string encode_challenge(std::string_view bytes);
std::string encode_initial_response(std::string_view bytes);
std::string encode_response(std::string_view bytes);
std::string_view cancel_line();

}  // namespace tern::protocol::sasl
