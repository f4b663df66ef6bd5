// protocol/mail/dsn.hpp — delivery status notifications: the RFC 3461 parameters that ask
// for them and the RFC 3464 / RFC 6522 message that carries them.
//
// Contract:
// - build_dsn(input) gives the whole DSN message: RFC 5322 header (From MAILER-DAEMON@MTA,
//   To the original sender, Subject, Date, Message-ID, MIME-Version, Content-Type
//   multipart/report; report-type=delivery-status, Auto-Submitted: auto-replied per
//   RFC 3834), then three parts: text/plain for people, message/delivery-status (RFC 3464),
//   and the returned content: message/rfc822 with the whole message when RET=FULL and it is
//   at most returned_bytes_max long, else text/rfc822-headers with its header section (cut
//   at a line end at returned_bytes_max; part 1 then says so). It is pure: the caller
//   passes the times and the unique seed that makes the Message-ID and the boundary.
//   Guarantees for any input: every line ends in CRLF, no line exceeds 998 octets (header
//   fields are folded at spaces, over-long words and returned lines are broken), no caller
//   text can add a header field or a delivery-status field (control bytes become a space),
//   and the boundary occurs nowhere in the parts. Bytes >= 0x80 in caller text or in the
//   returned message are kept and reported in Dsn::eight_bit (send with 8BITMIME/SMTPUTF8).
//   Fails (Error::offset = the recipient's index for recipient faults, else 0) for: a null
//   reverse-path ("" or "<>": RFC 3461 §6.1 forbids a DSN to it), no recipients, more than
//   recipients_max, an empty reporting MTA / message-id domain / seed after sanitising, an
//   empty final recipient, a status that is not RFC 3463 "class.subject.detail".
// - notify_wants(params, action) says whether the RCPT parameters (as stored, e.g.
//   "NOTIFY=FAILURE,DELAY ORCPT=rfc822;a@b") ask for a DSN of that action. failed wants
//   FAILURE, delayed wants DELAY, delivered/relayed/expanded want SUCCESS; NEVER wants none.
//   Without NOTIFY, or with a malformed one, the RFC 3461 default FAILURE,DELAY applies
//   (better a bounce than silence). It never fails.
// - xtext_decode(text) decodes RFC 3461 §4 xtext ("+XX", upper-case hex); it fails on a
//   byte outside "!".."~", a bare "=", or a "+" not followed by two upper-case hex digits.
// - orcpt_of(params) gives the ORCPT parameter's address type and decoded address, nullopt
//   when there is no ORCPT; it fails when the value is over 500 bytes (RFC 3461 §4.2), has
//   no ";", an address type that is not an atom, or an empty or malformed xtext address.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/core/result.hpp"

namespace tern::protocol::mail {

enum class Action { failed, delayed, delivered, relayed, expanded };
enum class Ret { absent, hdrs, full };

struct OriginalRecipient {
  std::string addr_type;  // "rfc822"
  std::string address;    // xtext-decoded
  friend bool operator==(const OriginalRecipient&, const OriginalRecipient&) = default;
};

struct DsnRecipient {
  std::string final_recipient;  // "user@example.com"
  std::optional<OriginalRecipient> original_recipient;
  Action action = Action::failed;
  std::string status;                          // RFC 3463, "5.1.1"
  std::optional<std::string> remote_mta;       // host name, written as "dns; NAME"
  std::optional<std::string> diagnostic_code;  // "smtp; 550 5.1.1 no such user"
  std::int64_t last_attempt_unix = 0;
  std::optional<std::int64_t> will_retry_until_unix;  // written only for delayed
};

struct DsnInput {
  std::string reporting_mta;      // our host name
  std::string message_id_domain;  // right side of the Message-ID
  std::string seed;               // unique per DSN: [A-Za-z0-9._-] kept, cut at 40 bytes
  std::int64_t arrival_unix = 0;
  std::int64_t now_unix = 0;
  std::string envelope_sender;       // the original MAIL FROM, with or without <>
  std::optional<std::string> envid;  // ENVID, already xtext-decoded
  Ret ret = Ret::absent;
  std::string_view original_message;  // headers + body, CRLF; must outlive the call
  std::vector<DsnRecipient> recipients;
  std::size_t returned_bytes_max = 1'000'000;
  std::size_t recipients_max = 1'000;
};

struct Dsn {
  std::string message;       // the complete DSN, CRLF line ends
  std::string message_id;    // "<...>", as in its Message-ID field
  bool eight_bit = false;    // some byte >= 0x80 is in the message
  bool content_cut = false;  // full content asked but headers returned, or headers cut
};

// Each caller value is cut at this many bytes (a UTF-8 sequence is not split).
inline constexpr std::size_t kDsnValueBytesMax = 1'000;
inline constexpr std::size_t kDsnDiagnosticBytesMax = 4'000;
inline constexpr std::size_t kOrcptBytesMax = 500;

Result<Dsn> build_dsn(const DsnInput& input);

bool notify_wants(std::string_view rcpt_params, Action action);
Result<std::string> xtext_decode(std::string_view text);
Result<std::optional<OriginalRecipient>> orcpt_of(std::string_view rcpt_params);

}  // namespace tern::protocol::mail
