// protocol/mail/received.hpp — the trace header a receiving MTA prepends (RFC 5321 §4.4,
// RFC 5322 §3.6.7), and the RFC 5322 date it carries.
//
// Contract:
// - format_rfc5322_date(unix_seconds) gives "Sat, 21 Nov 2026 10:04:05 +0000" (UTC) for
//   any time from 1970 to 9999; it needs no clock and no locale.
// - received_header(facts) gives the whole header field, folded, ending in CRLF:
//     Received: from HELO (REVERSE [IP])
//     	by HOSTNAME (Tern) with PROTOCOL id ID
//     	(using TLSv1.3 with cipher NAME (256 bits))       only with TLS
//     	for <RCPT>; DATE                                   "for" only with one recipient
//   PROTOCOL follows RFC 3848: SMTP/ESMTP/LMTP plus S (TLS) and A (authenticated). The
//   authenticated identity is not written (it would leak the login to every recipient;
//   the A says enough). Every value that came from the client is sanitised: bytes outside
//   printable ASCII and "();\\" become '?', and each is cut at 255 bytes, so a header
//   never breaks and never injects another field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace tern::protocol::mail {

struct ReceivedFacts {
  std::string helo;          // as the client said it ("" when it never did)
  std::string remote_ip;     // "192.0.2.1", "2001:db8::1"
  std::string reverse_name;  // PTR name when known, else ""
  std::string hostname;      // ours
  bool lmtp = false;
  bool esmtp = true;  // EHLO/LHLO rather than HELO
  bool tls = false;
  bool authenticated = false;
  bool utf8 = false;        // the transaction used SMTPUTF8: "UTF8SMTP..." (RFC 6531 §3.7.3)
  std::string tls_version;  // "TLSv1.3"
  std::string tls_cipher;
  int tls_cipher_bits = 0;
  std::string id;  // the queue id
  std::optional<std::string> single_recipient;
  std::int64_t unix_seconds = 0;
};

std::string format_rfc5322_date(std::int64_t unix_seconds);
std::string received_header(const ReceivedFacts& facts);

}  // namespace tern::protocol::mail
