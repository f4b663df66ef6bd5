// protocol/smtp/data_codec.hpp — the body of a DATA command on the wire (RFC 5321 §4.1.1.4,
// §4.5.2): the server's decoder and the client's encoder.
//
// DataDecoder contract (server side, after the 354 reply):
// - decode(in, out) consumes bytes of `in` up to and including the end-of-data line and no
//   further: bytes after it belong to the next command (PIPELINING). It returns how many
//   bytes it consumed and whether the end was reached. Feeding the same stream split at any
//   points gives the same output and the same result (a property test checks it).
// - The end of data is CRLF "." CRLF and nothing else. The body starts at a line start, so
//   ".\r\n" as the first line is an empty message. A bare LF or a bare CR (not part of a
//   CRLF) is a violation by default; no such sequence ("\n.\n", "\n.\r\n", "\r.\r\n",
//   "\r\n.\n", ...) can end the message or start another one (CVE-2023-51764/5/6). With the
//   named leniency flags, bare LF / bare CR are normalised to CRLF instead — and still never
//   end the message: only a line that follows a real CRLF can be the end-of-data line or
//   carry a stuffed dot; after a bare line end, a '.' is content.
// - A '.' at the start of a line is removed (dot-unstuffing). Line ends in `out` are CRLF.
// - Limits: a line longer than line_bytes_max octets on the wire (CRLF included; RFC 5321
//   §4.5.3.1.6: 1000) and a body larger than message_bytes_max are violations, and so is a
//   NUL octet (a next hop that strips NULs would read "\r\n\0.\r\n" as the end of data).
// - After the first violation the decoder keeps reading to the real end of data (so the
//   session stays in step with the client) but appends nothing more: `out` holds exactly the
//   body octets before the violation, however the input was split, and is to be discarded.
//   violation() tells the server which reply to give after the end; only the first counts.
// - decode after the end returns {0, true} and changes nothing.
//
// DataEncoder contract (client side): encode(body, out) appends the wire form of body bytes
// given in any number of pieces: every line end becomes CRLF (a bare LF or bare CR in the
// input is normalised, so the encoder never emits a bare CR or LF), and a '.' starting a
// line is doubled. finish(out) appends the CRLF that ends an unterminated last line, then
// ".\r\n". The decoder gives back exactly the normalised body.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace tern::protocol::smtp {

struct DataDecoderOptions {
  std::uint64_t message_bytes_max = 0;  // decoded body octets; 0 means no limit
  std::size_t line_bytes_max = 1000;    // wire octets including CRLF; 0 means no limit
  bool normalize_bare_lf = false;       // leniency: a bare LF counts as a line end (CRLF)
  bool normalize_bare_cr = false;       // leniency: a bare CR counts as a line end (CRLF)
};

enum class DataViolation {
  none,
  bare_lf,        // reply 550 5.5.2 (with the cause named)
  bare_cr,        // reply 550 5.5.2
  line_too_long,  // reply 550 5.6.0 (a content fault: RFC 3463 X.6 is media)
  nul,            // reply 550 5.6.0: RFC 5322 §2.3 and RFC 6152 §3 allow no NUL in a message
  too_large,      // reply 552 5.3.4 (RFC 1870 §6.2)
};

// BodyScanner contract (server side, BDAT bodies that are not BODY=BINARYMIME): BDAT carries
// no end-of-data line, but its body is still text that may be relayed over DATA later, so it
// obeys DATA's rules: scan(chunk) finds the first NUL octet or the first line longer than
// line_bytes_max octets (its line end included; 0: no limit), however the body is split
// into chunks and the chunks into reads. Only the first violation counts.
class BodyScanner {
 public:
  explicit BodyScanner(std::size_t line_bytes_max = 1000) : line_bytes_max_(line_bytes_max) {}
  DataViolation scan(std::string_view bytes);
  DataViolation violation() const { return violation_; }

 private:
  std::size_t line_bytes_max_;
  std::uint64_t line_bytes_ = 0;
  DataViolation violation_ = DataViolation::none;
};

struct DecodeStep {
  std::size_t consumed = 0;
  bool finished = false;
};

class DataDecoder {
 public:
  explicit DataDecoder(DataDecoderOptions options = {}) : options_(options) {}

  DecodeStep decode(std::span<const char> in, std::string& out);

  bool finished() const { return state_ == State::finished; }
  DataViolation violation() const { return violation_; }
  // Decoded body octets so far (counting those not appended after a violation).
  std::uint64_t body_bytes() const { return body_bytes_; }

 private:
  enum class State { line_start, in_line, cr, dot, dot_cr, finished };

  void emit(const char* first, const char* last, std::string& out);
  void emit_line_end(std::string& out, bool real_crlf);
  void violate(DataViolation violation);

  DataDecoderOptions options_;
  State state_ = State::line_start;
  DataViolation violation_ = DataViolation::none;
  std::uint64_t body_bytes_ = 0;
  std::uint64_t line_bytes_ = 0;  // wire octets of the current line, without its line end
};

class DataEncoder {
 public:
  // Without dot-stuffing the encoder only normalises line ends: the form of a BDAT chunk
  // of a text body (RFC 3030 sends chunks as they are; no terminator to protect).
  explicit DataEncoder(bool dot_stuffing = true) : dot_stuffing_(dot_stuffing) {}

  void encode(std::span<const char> body, std::string& out);
  // Ends an unterminated last line with CRLF (a pending CR becomes CRLF).
  void end_lines(std::string& out);
  // end_lines, then the end-of-data line ".\r\n".
  void finish(std::string& out);

 private:
  bool dot_stuffing_ = true;
  bool line_start_ = true;
  bool pending_cr_ = false;  // the last input byte was a CR whose LF may come next
};

}  // namespace tern::protocol::smtp
