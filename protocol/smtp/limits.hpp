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
  static constexpr std::size_t rfc_local_part_bytes = 64;     // §4.5.3.1.1
  static constexpr std::size_t rfc_domain_bytes = 255;        // §4.5.3.1.2
  static constexpr std::size_t rfc_path_bytes = 256;          // §4.5.3.1.3, with "<" and ">"
  static constexpr std::size_t rfc_command_line_bytes = 512;  // §4.5.3.1.4, with CRLF
  static constexpr std::size_t rfc_reply_line_bytes = 512;    // §4.5.3.1.5, with CRLF
  static constexpr std::size_t rfc_text_line_bytes = 1000;    // §4.5.3.1.6, with CRLF

  std::size_t local_part_bytes_max = rfc_local_part_bytes;
  std::size_t domain_bytes_max = rfc_domain_bytes;
  std::size_t path_bytes_max = rfc_path_bytes;
  std::size_t command_line_bytes_max = rfc_command_line_bytes;
  std::size_t reply_line_bytes_max = rfc_reply_line_bytes;
  std::size_t text_line_bytes_max = rfc_text_line_bytes;

  // True when no limit is below its RFC value.
  constexpr bool valid() const {
    return local_part_bytes_max >= rfc_local_part_bytes && domain_bytes_max >= rfc_domain_bytes &&
           path_bytes_max >= rfc_path_bytes && command_line_bytes_max >= rfc_command_line_bytes &&
           reply_line_bytes_max >= rfc_reply_line_bytes &&
           text_line_bytes_max >= rfc_text_line_bytes;
  }

  // The limits the parsers apply: each one raised to at least its RFC value.
  constexpr GrammarLimits effective() const {
    GrammarLimits e = *this;
    e.local_part_bytes_max = std::max(local_part_bytes_max, rfc_local_part_bytes);
    e.domain_bytes_max = std::max(domain_bytes_max, rfc_domain_bytes);
    e.path_bytes_max = std::max(path_bytes_max, rfc_path_bytes);
    e.command_line_bytes_max = std::max(command_line_bytes_max, rfc_command_line_bytes);
    e.reply_line_bytes_max = std::max(reply_line_bytes_max, rfc_reply_line_bytes);
    e.text_line_bytes_max = std::max(text_line_bytes_max, rfc_text_line_bytes);
    return e;
  }

  friend constexpr bool operator==(const GrammarLimits&, const GrammarLimits&) = default;
};

}  // namespace tern::protocol::smtp
