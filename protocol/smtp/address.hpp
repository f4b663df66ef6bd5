// protocol/smtp/address.hpp — domains, address literals, mailboxes and paths (RFC 5321 §4.1.2,
// §4.1.3; RFC 6531 for UTF-8).
//
// Contract:
// - Every parse_* function takes the exact text of one element and an AddressOptions
//   (limits, whether UTF-8 is allowed, i.e. SMTPUTF8 is in effect). It returns the value or
//   an AddressError whose `fault` says why (syntax, a limit exceeded, non-ASCII without
//   SMTPUTF8) and whose `error` gives the offset in the given text and a short message
//   naming the rule ("local part exceeds 64 octets"). The *_prefix forms parse the element
//   at the start of the text and also return how many bytes it used (a command line carries
//   parameters after the path).
// - Limits are measured on the wire form given: local part and domain (or address literal,
//   brackets included) by RFC 5321 §4.5.3.1.1-2, a path with its angle brackets and any
//   source route by §4.5.3.1.3.
// - Source routes (`<@a,@b:user@c>`) are accepted and ignored (RFC 5321 §4.1.1.3, Appendix
//   C); Path::source_route_ignored records that one was present.
// - serialize(x) gives the canonical wire form: the local part quoted only when it is not a
//   Dot-string (and then only '"' and '\' escaped), IPv4 literals without leading zeros,
//   IPv6 literals in RFC 5952 form (lowercase, the longest run of two or more zero groups
//   compressed; always pure hex, never the dotted IPv4 tail, because that is never longer
//   than any accepted input form and so a parsed value re-serializes within its limits),
//   never a source route. For every value a parser returned, parse(serialize(x)) == x, with
//   one exception by design: serialize drops a source route, so source_route_ignored comes
//   back false. serialize on a value no parser could return (a local part with a control
//   character, an empty domain) produces text the parsers reject; check with the parsers.
// - Domains and local parts keep the case the peer used: local parts are case-sensitive
//   (RFC 5321 §2.4) and a relay must not rewrite them. U-labels are checked for UTF-8
//   well-formedness and LDH-style hyphen rules only, not against the IDNA2008 tables.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "protocol/core/expected.hpp"
#include "protocol/core/result.hpp"
#include "protocol/smtp/limits.hpp"

namespace tern::protocol::smtp {

struct Domain {
  std::string name;  // dot-separated labels, no trailing dot
  friend bool operator==(const Domain&, const Domain&) = default;
};

struct Ipv4Literal {
  std::array<std::uint8_t, 4> octets{};
  friend bool operator==(const Ipv4Literal&, const Ipv4Literal&) = default;
};

struct Ipv6Literal {
  std::array<std::uint8_t, 16> octets{};
  friend bool operator==(const Ipv6Literal&, const Ipv6Literal&) = default;
};

// General-address-literal = Standardized-tag ":" 1*dcontent (never the tag "IPv6").
struct GeneralLiteral {
  std::string tag;
  std::string content;
  friend bool operator==(const GeneralLiteral&, const GeneralLiteral&) = default;
};

// The right-hand side of a mailbox and the argument of EHLO/HELO/LHLO.
using Host = std::variant<Domain, Ipv4Literal, Ipv6Literal, GeneralLiteral>;

struct Mailbox {
  std::string local_part;  // decoded: quotes and quoted-pair backslashes removed
  Host host;
  friend bool operator==(const Mailbox&, const Mailbox&) = default;
};

struct Path {
  Mailbox mailbox;
  bool source_route_ignored = false;
  friend bool operator==(const Path&, const Path&) = default;
};

// Reverse-path: empty optional is the null path "<>".
struct ReversePath {
  std::optional<Path> path;
  bool is_null() const { return !path.has_value(); }
  friend bool operator==(const ReversePath&, const ReversePath&) = default;
};

// Forward-path: empty optional is the bare "<Postmaster>" (any case) of RFC 5321 §4.1.1.3.
// "<Postmaster@domain>" is an ordinary Path; is_postmaster() recognizes both.
struct ForwardPath {
  std::optional<Path> path;
  bool is_bare_postmaster() const { return !path.has_value(); }
  friend bool operator==(const ForwardPath&, const ForwardPath&) = default;
};

enum class AddressFault {
  syntax,     // the text does not match the grammar (includes malformed UTF-8)
  too_long,   // a local part, domain or path exceeds its limit
  non_ascii,  // 8-bit bytes while SMTPUTF8 is not in effect
};

struct AddressError {
  AddressFault fault = AddressFault::syntax;
  Error error;
  friend bool operator==(const AddressError&, const AddressError&) = default;
};

template <class T>
using AddressResult = Expected<T, AddressError>;

template <class T>
struct Prefix {
  T value;
  std::size_t length = 0;  // bytes of the input the value came from
};

struct AddressOptions {
  GrammarLimits limits;
  bool utf8 = false;  // SMTPUTF8 in effect: UTF-8 local parts and U-labels allowed
};

AddressResult<Domain> parse_domain(std::string_view text, const AddressOptions& options);
AddressResult<Host> parse_host(std::string_view text, const AddressOptions& options);
AddressResult<Mailbox> parse_mailbox(std::string_view text, const AddressOptions& options);
AddressResult<ReversePath> parse_reverse_path(std::string_view text, const AddressOptions& options);
AddressResult<ForwardPath> parse_forward_path(std::string_view text, const AddressOptions& options);
AddressResult<Prefix<ReversePath>> parse_reverse_path_prefix(std::string_view text,
                                                             const AddressOptions& options);
AddressResult<Prefix<ForwardPath>> parse_forward_path_prefix(std::string_view text,
                                                             const AddressOptions& options);

// Canonical wire forms (see the contract above).
std::string serialize_local_part(std::string_view local_part);
std::string serialize(const Host& host);
std::string serialize(const Mailbox& mailbox);
std::string serialize(const Path& path);  // "<local@host>"
std::string serialize(const ReversePath& path);
std::string serialize(const ForwardPath& path);

// "Postmaster" compared case-insensitively (RFC 5321 §4.1.1.3); the domain is the caller's
// to check against its own names.
bool is_postmaster(const ForwardPath& path);

// True when the value holds any non-ASCII byte (so it needs SMTPUTF8 on the wire).
bool needs_smtputf8(const Mailbox& mailbox);
bool needs_smtputf8(const Host& host);

}  // namespace tern::protocol::smtp
