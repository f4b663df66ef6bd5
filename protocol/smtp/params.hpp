// protocol/smtp/params.hpp — ESMTP parameters of MAIL and RCPT (RFC 5321 §4.1.2) and the
// typed values of the extensions Tern knows, plus xtext (RFC 3461 §4).
//
// Contract:
// - parse_esmtp_params("K1=V1 K2") splits the text after a path into the generic list:
//   esmtp-keyword ["=" esmtp-value], separated by exactly one SP. Keywords are
//   case-insensitive and come back upper-cased; values keep their bytes. With `utf8` set
//   (SMTPUTF8 in effect, RFC 6531 §3.3) a value may hold well-formed UTF-8. An empty text
//   is the empty list. Fails on any grammar fault (an empty value, two spaces, a trailing
//   space) and on a keyword given twice, in any case.
// - parse_mail_params / parse_rcpt_params turn the generic list into MailParams / RcptParams:
//   each known keyword valid on that command is checked and stored typed; every other
//   keyword (unknown, or known but belonging to the other command) goes, in order, to
//   `unknown` — whether to answer 555 is the server's decision (known_param() and
//   param_applies_to() say what is known). Each fails with the keyword and the rule broken.
// - serialize_params(p) gives " K=V K=V" (each parameter preceded by one SP; empty when
//   there are none) in a fixed order, typed parameters first, then `unknown` in order.
//   parse(serialize(p)) == p for every value a parser returned.
// - xtext_decode is strict: only xchar ("!".."~" except "+" and "=") and "+" followed by two
//   UPPER-case hex digits; xtext_encode encodes exactly the octets xtext cannot carry as is.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/core/result.hpp"
#include "protocol/smtp/address.hpp"

namespace tern::protocol::smtp {

struct EsmtpParam {
  std::string keyword;               // upper-cased
  std::optional<std::string> value;  // absent for "KEYWORD" alone
  friend bool operator==(const EsmtpParam&, const EsmtpParam&) = default;
};

enum class KnownParam {
  size,
  body,
  smtputf8,
  auth,
  ret,
  envid,
  holdfor,
  holduntil,
  by,
  mt_priority,
  requiretls,  // MAIL
  notify,
  orcpt,  // RCPT
};
enum class ParamCommand { mail, rcpt };

std::optional<KnownParam> known_param(std::string_view keyword);  // case-insensitive
bool param_applies_to(KnownParam param, ParamCommand command);

enum class BodyType { seven_bit, eight_bit_mime, binary_mime };  // RFC 6152, RFC 3030
enum class RetType { full, hdrs };                               // RFC 3461 §4.3

// RFC 3461 §4.1: NEVER, or any non-empty set of SUCCESS, FAILURE, DELAY.
struct Notify {
  bool never = false;
  bool success = false;
  bool failure = false;
  bool delay = false;
  friend bool operator==(const Notify&, const Notify&) = default;
};

// RFC 3461 §4.2: ORCPT=addr-type;xtext. `address` is decoded.
struct Orcpt {
  std::string addr_type;  // as given, e.g. "rfc822"
  std::string address;
  friend bool operator==(const Orcpt&, const Orcpt&) = default;
};

// RFC 4865 HOLDUNTIL: an RFC 3339 date-time, kept as a UTC instant.
struct HoldUntil {
  std::int64_t unix_seconds = 0;
  std::uint32_t nanoseconds = 0;  // fractional seconds beyond 9 digits are truncated
  friend bool operator==(const HoldUntil&, const HoldUntil&) = default;
};

// RFC 2852 BY=time;mode[T]: seconds (-999999999..999999999), R(eturn) or N(otify), trace.
struct DeliverBy {
  enum class Mode { notify, return_ };
  std::int64_t seconds = 0;
  Mode mode = Mode::notify;
  bool trace = false;
  friend bool operator==(const DeliverBy&, const DeliverBy&) = default;
};

// RFC 4954 §5: AUTH=<mailbox> or AUTH=<> (empty optional).
struct AuthParam {
  std::optional<Mailbox> mailbox;
  friend bool operator==(const AuthParam&, const AuthParam&) = default;
};

struct MailParams {
  std::optional<std::uint64_t> size;  // RFC 1870; a value above 2^64-1 saturates
  std::optional<BodyType> body;
  bool smtputf8 = false;  // RFC 6531
  std::optional<AuthParam> auth;
  std::optional<RetType> ret;
  std::optional<std::string> envid;               // decoded, printable ASCII, RFC 3461 §4.4
  std::optional<std::uint32_t> hold_for_seconds;  // RFC 4865, 1*9DIGIT
  std::optional<HoldUntil> hold_until;            // RFC 4865, exclusive with hold_for
  std::optional<DeliverBy> by;
  std::optional<int> mt_priority;  // RFC 6710, -9..9
  bool requiretls = false;         // RFC 8689
  std::vector<EsmtpParam> unknown;
  friend bool operator==(const MailParams&, const MailParams&) = default;
};

struct RcptParams {
  std::optional<Notify> notify;
  std::optional<Orcpt> orcpt;
  std::vector<EsmtpParam> unknown;
  friend bool operator==(const RcptParams&, const RcptParams&) = default;
};

struct ParamOptions {
  GrammarLimits limits;  // for the mailbox inside AUTH=
  bool utf8 = false;     // SMTPUTF8 in effect
};

Result<std::vector<EsmtpParam>> parse_esmtp_params(std::string_view text, bool utf8);
Result<MailParams> parse_mail_params(std::string_view text, const ParamOptions& options);
Result<RcptParams> parse_rcpt_params(std::string_view text, const ParamOptions& options);

std::string serialize_params(const MailParams& params);
std::string serialize_params(const RcptParams& params);

Result<std::string> xtext_decode(std::string_view text);
std::string xtext_encode(std::string_view raw);

// RFC 3339 date-time <-> HoldUntil (exposed for tests and for the queue's release time).
Result<HoldUntil> parse_date_time(std::string_view text);
std::string format_date_time(const HoldUntil& t);  // "YYYY-MM-DDTHH:MM:SS[.fffffffff]Z"

}  // namespace tern::protocol::smtp
