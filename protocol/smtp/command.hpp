// protocol/smtp/command.hpp — SMTP/LMTP commands (RFC 5321 §4.1, RFC 2033 LHLO, RFC 3030
// BDAT, RFC 3207 STARTTLS, RFC 4954 AUTH): parsing one line, serializing one line.
//
// Contract:
// - parse_command(line, options) takes ONE command line WITHOUT its CRLF (the caller splits
//   lines; a CR or LF left inside the line is a fault, never a line end). It returns the
//   Command or a CommandError that says which reply a server should send: `code` and
//   `status` (RFC 3463), `error` (offset in the line and a precise message, e.g. "local
//   part exceeds 64 octets"), and `usage` ("Syntax: MAIL FROM:<address> [parameters]")
//   when the verb was recognized. to_reply() builds that reply.
// - Verbs, "FROM:", "TO:", "LAST" and AUTH mechanism names are case-insensitive. The RFC form
//   is "MAIL FROM:<path>" with nothing between ':' and '<'; ONE space there is accepted too
//   because many clients send it (Outlook, old Exchange); two are not. Parameters are
//   separated by exactly one SP. Trailing spaces are a fault unless
//   ParseOptions::allow_trailing_whitespace (then trailing SP/HT are ignored).
// - Non-ASCII bytes: accepted in addresses, EHLO domains, VRFY/EXPN/NOOP/HELP text and
//   parameter values only when `smtputf8` is set (the session's business: for MAIL, that the
//   server offers SMTPUTF8 — the MAIL line must then also carry the SMTPUTF8 parameter to
//   use a UTF-8 reverse-path, RFC 6531 §3.4; for RCPT/VRFY/EXPN, that the transaction uses
//   it). A non-ASCII address without it is 553 with RFC 6531's enhanced code 5.6.7
//   ("Non-ASCII addresses not permitted for that sender/recipient").
// - In LMTP mode (`lmtp`) LHLO is the greeting and HELO/EHLO are unrecognized (500 5.5.1);
//   in SMTP mode LHLO is unrecognized (RFC 2033 §4.1 keeps the two apart).
// - Unknown MAIL/RCPT parameters are kept in the params' `unknown` list; with
//   `reject_unknown_params` the parse fails with 555 5.5.4 instead (RFC 5321 §4.1.1.11).
// - serialize(command) gives the canonical line with CRLF. It fails when the command holds a
//   value no parser could produce (a CR in VRFY text, a bad domain): it re-parses its own
//   output and compares, so parse(serialize(c)) == c holds for every c it accepts, under
//   options with smtputf8 set, lmtp set for Lhlo, and limits large enough for c. Source
//   routes are the one thing not preserved (see address.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "protocol/core/expected.hpp"
#include "protocol/core/result.hpp"
#include "protocol/smtp/address.hpp"
#include "protocol/smtp/limits.hpp"
#include "protocol/smtp/params.hpp"
#include "protocol/smtp/reply.hpp"

namespace tern::protocol::smtp {

struct Ehlo {
  Host host;
  friend bool operator==(const Ehlo&, const Ehlo&) = default;
};
struct Helo {
  Host host;
  friend bool operator==(const Helo&, const Helo&) = default;
};
struct Lhlo {
  Host host;
  friend bool operator==(const Lhlo&, const Lhlo&) = default;
};
struct Mail {
  ReversePath path;
  MailParams params;
  friend bool operator==(const Mail&, const Mail&) = default;
};
struct Rcpt {
  ForwardPath path;
  RcptParams params;
  friend bool operator==(const Rcpt&, const Rcpt&) = default;
};
struct Data {
  friend bool operator==(const Data&, const Data&) = default;
};
struct Bdat {
  std::uint64_t chunk_bytes = 0;
  bool last = false;
  friend bool operator==(const Bdat&, const Bdat&) = default;
};
struct Rset {
  friend bool operator==(const Rset&, const Rset&) = default;
};
struct Noop {
  std::optional<std::string> text;
  friend bool operator==(const Noop&, const Noop&) = default;
};
struct Quit {
  friend bool operator==(const Quit&, const Quit&) = default;
};
struct Vrfy {
  std::string text;
  friend bool operator==(const Vrfy&, const Vrfy&) = default;
};
struct Expn {
  std::string text;
  friend bool operator==(const Expn&, const Expn&) = default;
};
struct Help {
  std::optional<std::string> topic;
  friend bool operator==(const Help&, const Help&) = default;
};
struct StartTls {
  friend bool operator==(const StartTls&, const StartTls&) = default;
};
struct Auth {
  std::string mechanism;                        // upper-cased, 1..20 of [A-Z0-9-_]
  std::optional<std::string> initial_response;  // base64 as sent; "" stands for "="
  friend bool operator==(const Auth&, const Auth&) = default;
};

using Command = std::variant<Ehlo, Helo, Lhlo, Mail, Rcpt, Data, Bdat, Rset, Noop, Quit, Vrfy, Expn,
                             Help, StartTls, Auth>;

// The verb as it is written on the wire ("EHLO", "STARTTLS").
std::string_view verb_name(const Command& command);

struct ParseOptions {
  GrammarLimits limits;
  bool smtputf8 = false;
  bool lmtp = false;
  std::uint64_t bdat_chunk_bytes_max = 64ull * 1024 * 1024;
  bool reject_unknown_params = false;
  bool allow_trailing_whitespace = false;
};

struct CommandError {
  std::uint16_t code = 500;
  EnhancedStatus status{5, 5, 1};
  Error error;
  std::string usage;  // "Syntax: ..." when the verb was recognized, else empty
  // For a well-formed BDAT refused for its size: the chunk the client will send anyway, so
  // the session can discard exactly that many bytes (RFC 3030 §2).
  std::optional<std::uint64_t> bdat_chunk_bytes;

  // "<code> <status> <message>", plus a second line with the usage when there is one.
  Reply to_reply() const;
  friend bool operator==(const CommandError&, const CommandError&) = default;
};

using CommandResult = Expected<Command, CommandError>;

// A std::string_view converts implicitly; a string literal would bring its NUL along, so
// pass std::string_view("...") or a span of the exact bytes.
CommandResult parse_command(std::span<const char> line, const ParseOptions& options);

Result<std::string> serialize(const Command& command);

}  // namespace tern::protocol::smtp
