// protocol/smtp/reply.hpp — SMTP/LMTP replies (RFC 5321 §4.2) with enhanced status codes
// (RFC 3463, RFC 2034), their serialization and an incremental parser.
//
// Contract:
// - Reply: a code 200..599, an optional enhanced status code whose class equals the code's
//   first digit, and one or more text lines. Text is HT, SP..'~' and 8-bit bytes (servers
//   send UTF-8 or Latin-1); never CR, LF, NUL or other controls.
// - check(reply) names the first broken rule; serialize(reply) fails with that error and
//   otherwise gives "250-2.0.0 a\r\n250 2.0.0 z\r\n": the enhanced code repeated on every
//   line, as RFC 2034 §4 shows; a line with empty text is "250" / "250-" (or the enhanced
//   code alone).
// - ReplyParser reads a byte stream of replies. feed() returns how many bytes it consumed:
//   it stops early when `ready_replies_max` complete replies wait to be polled (call poll()
//   and feed the rest) and at the first fault. poll() hands out complete replies in order.
//   A fault — a line over line_bytes_max (CRLF included), a reply over lines_max lines or
//   reply_bytes_max bytes, a bad code, a bad separator, a control character in the text, or
//   a multi-line reply whose lines disagree on the code — puts the parser in a failed state
//   (failed(), error() with the stream offset); replies completed before it can still be
//   polled, further feed() calls consume nothing. Memory is bounded by the options.
// - Line ends: CRLF, and bare LF is accepted too: replies cross from server to client, and
//   no downstream parser re-reads them, so a lenient line end cannot smuggle anything; it
//   only spares us failing on broken servers. A CR anywhere else is a fault.
// - Codes are kept raw by the parser. With `enhanced_status_codes` (the server advertised
//   ENHANCEDSTATUSCODES) each reply goes through extract_enhanced_status() before poll().
//   That helper is also public: when the first line's text begins with "c.s.d" (class equal
//   to the code's first digit, subject and detail 1-3 digits) followed by SP or the end, the
//   code moves into Reply::enhanced and is stripped from every line that repeats it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/core/result.hpp"

namespace tern::protocol::smtp {

struct EnhancedStatus {
  std::uint16_t klass = 2;    // 2, 4 or 5
  std::uint16_t subject = 0;  // 0..999
  std::uint16_t detail = 0;   // 0..999
  friend bool operator==(const EnhancedStatus&, const EnhancedStatus&) = default;
};

// "5.1.3" -> {5,1,3}; nullopt unless the whole text is class "." 1*3DIGIT "." 1*3DIGIT.
std::optional<EnhancedStatus> parse_enhanced_status(std::string_view text);
std::string to_string(const EnhancedStatus& status);

struct Reply {
  std::uint16_t code = 250;
  std::optional<EnhancedStatus> enhanced;
  std::vector<std::string> lines;  // at least one
  friend bool operator==(const Reply&, const Reply&) = default;
};

std::optional<Error> check(const Reply& reply);
Result<std::string> serialize(const Reply& reply);
Reply extract_enhanced_status(Reply reply);

struct ReplyParserOptions {
  std::size_t line_bytes_max = std::size_t{100} * 1024;  // CRLF included
  std::size_t lines_max = 10'000;
  std::size_t reply_bytes_max =
      std::size_t{1024} * 1024;        // all lines of one reply, line ends included
  std::size_t ready_replies_max = 64;  // complete replies waiting for poll()
  bool enhanced_status_codes = false;
};

class ReplyParser {
 public:
  explicit ReplyParser(ReplyParserOptions options = {});

  std::size_t feed(std::span<const char> bytes);
  std::optional<Reply> poll();

  bool failed() const { return error_.has_value(); }
  const std::optional<Error>& error() const { return error_; }
  // True between replies: no partial line and no unfinished multi-line reply.
  bool idle() const { return partial_.empty() && !current_; }

 private:
  bool on_line(std::string_view line, std::size_t line_bytes);
  void set_error(std::size_t offset, std::string message);

  ReplyParserOptions options_;
  std::string partial_;           // bytes of an unfinished line
  std::optional<Reply> current_;  // an unfinished multi-line reply
  std::size_t current_bytes_ = 0;
  std::deque<Reply> ready_;
  std::size_t stream_offset_ = 0;  // bytes consumed before this feed() call
  std::optional<Error> error_;
};

}  // namespace tern::protocol::smtp
