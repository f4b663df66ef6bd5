// protocol/smtp/limits.hpp — the size limits of the SMTP grammar.
//
// Contract: GrammarLimits carries the limits of RFC 5321 §4.5.3.1 as its defaults. A caller
// may RAISE any limit (§4.5.3.1 allows it: "to the maximum extent possible, implementation
// techniques that impose no limits on the length of these objects should be used"), never
// lower one below the RFC value, because a peer that obeys the RFC must never be refused.
// valid() reports a lowered limit (misuse); every parser in this module applies
// effective(), which raises each lowered limit back to the RFC value, so misuse can never
// make the grammar stricter than the RFC.
#pragma once

#include <algorithm>
#include <cstddef>

namespace tern::protocol::smtp {

struct GrammarLimits {
  static constexpr std::size_t kRfcLocalPartBytes = 64;     // §4.5.3.1.1
  static constexpr std::size_t kRfcDomainBytes = 255;       // §4.5.3.1.2
  static constexpr std::size_t kRfcPathBytes = 256;         // §4.5.3.1.3, with "<" and ">"
  static constexpr std::size_t kRfcCommandLineBytes = 512;  // §4.5.3.1.4, with CRLF
  static constexpr std::size_t kRfcReplyLineBytes = 512;    // §4.5.3.1.5, with CRLF
  static constexpr std::size_t kRfcTextLineBytes = 1000;    // §4.5.3.1.6, with CRLF

  std::size_t local_part_bytes_max = kRfcLocalPartBytes;
  std::size_t domain_bytes_max = kRfcDomainBytes;
  std::size_t path_bytes_max = kRfcPathBytes;
  std::size_t command_line_bytes_max = kRfcCommandLineBytes;
  std::size_t reply_line_bytes_max = kRfcReplyLineBytes;
  std::size_t text_line_bytes_max = kRfcTextLineBytes;

  // True when no limit is below its RFC value.
  constexpr bool valid() const {
    return local_part_bytes_max >= kRfcLocalPartBytes && domain_bytes_max >= kRfcDomainBytes &&
           path_bytes_max >= kRfcPathBytes && command_line_bytes_max >= kRfcCommandLineBytes &&
           reply_line_bytes_max >= kRfcReplyLineBytes && text_line_bytes_max >= kRfcTextLineBytes;
  }

  // The limits the parsers apply: each one raised to at least its RFC value.
  constexpr GrammarLimits effective() const {
    GrammarLimits e = *this;
    e.local_part_bytes_max = std::max(local_part_bytes_max, kRfcLocalPartBytes);
    e.domain_bytes_max = std::max(domain_bytes_max, kRfcDomainBytes);
    e.path_bytes_max = std::max(path_bytes_max, kRfcPathBytes);
    e.command_line_bytes_max = std::max(command_line_bytes_max, kRfcCommandLineBytes);
    e.reply_line_bytes_max = std::max(reply_line_bytes_max, kRfcReplyLineBytes);
    e.text_line_bytes_max = std::max(text_line_bytes_max, kRfcTextLineBytes);
    return e;
  }

  friend constexpr bool operator==(const GrammarLimits&, const GrammarLimits&) = default;
};

}  // namespace tern::protocol::smtp
