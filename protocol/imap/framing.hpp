// protocol/imap/framing.hpp — incremental framing of IMAP responses (client side) and
// commands (server side): lines, CRLF, and literals, within Limits.
//
// Contract:
// - ResponseParser. feed(bytes) consumes bytes and returns how many; it stops early once
//   limits.ready_responses_max responses wait to be polled, and consumes nothing once failed.
//   poll() returns the next complete response (grammar.hpp's parse_response). Every line
//   must end with CRLF and fit limits.line_bytes_max (CRLF included); untagged data
//   responses may carry "{n}" literals (each within literal_bytes_max, at most literals_max).
//   Any fault — a bare LF, an over-long line, a bad literal, a response that does not parse —
//   fails the parser for good: error() says where and why. The responses and the failure do
//   not depend on how the input was split. reset() forgets partial input, waiting
//   responses and a failure (used after STARTTLS, when pre-TLS bytes must be dropped).
// - CommandReader. feed(bytes) consumes bytes up to the end of a command, or of a line that
//   ends with a synchronizing literal header, and returns how many; then state() says:
//     complete        parts() is the command; call reset() before the next one;
//     literal_wanted  literal() is the "{n}" header just read: the caller either sends a
//                     continuation request and calls accept_literal() (only when n is
//                     within literal_bytes_max), or answers the command and calls reset()
//                     (the client then abandons it, RFC 9051 §7.5);
//     line_too_long   a line went past line_bytes_max: the stream cannot be resynchronized.
//   A "{n+}" literal is read without asking; one over literal_bytes_max, or past
//   literals_max, is read and dropped, and oversize() reports it at completion. A line that
//   ends with a bare LF completes the command with bare_lf() set. In raw mode (set_raw)
//   every line is a command of one part, with no literal (AUTHENTICATE responses).
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "protocol/imap/grammar.hpp"

namespace tern::protocol::imap {

class ResponseParser {
 public:
  explicit ResponseParser(Limits limits = {}) : limits_(limits) {}

  std::size_t feed(std::span<const char> bytes);
  std::optional<Response> poll();
  bool failed() const { return error_.has_value(); }
  const std::optional<Error>& error() const { return error_; }
  bool idle() const { return buf_.empty() && ready_.empty(); }  // nothing partial or waiting
  void reset();

 private:
  void end_segment();
  Limits limits_;
  std::string buf_;            // the response so far
  std::size_t seg_start_ = 0;  // where the current line starts in buf_
  std::size_t literal_left_ = 0;
  std::size_t literals_ = 0;
  bool in_literal_ = false;
  std::deque<Response> ready_;
  std::optional<Error> error_;
};

class CommandReader {
 public:
  enum class State { reading, literal_wanted, complete, line_too_long };

  explicit CommandReader(Limits limits = {}) : limits_(limits) {}

  std::size_t feed(std::span<const char> bytes);
  State state() const { return state_; }
  const std::vector<CommandPart>& parts() const { return parts_; }
  LiteralHeader literal() const { return header_; }
  bool oversize() const { return oversize_; }
  bool bare_lf() const { return bare_lf_; }
  void accept_literal();
  void reset();
  void set_raw(bool raw) { raw_ = raw; }

 private:
  void end_line();
  void start_literal(const LiteralHeader& header);
  Limits limits_;
  State state_ = State::reading;
  std::vector<CommandPart> parts_;
  std::string line_;
  LiteralHeader header_;
  std::size_t literal_left_ = 0;
  bool in_literal_ = false;
  bool discarding_ = false;  // the current literal is read and dropped
  bool oversize_ = false;
  bool bare_lf_ = false;
  bool raw_ = false;
};

}  // namespace tern::protocol::imap
