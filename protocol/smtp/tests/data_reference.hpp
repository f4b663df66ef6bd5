// A deliberately naive, byte-at-a-time reading of RFC 5321 §4.5.2 over a whole input: the
// oracle that DataDecoder and DataEncoder are checked against (unit, property and fuzz).
// It shares no code with the codec.
#pragma once

#include <string>
#include <string_view>

#include "protocol/smtp/data_codec.hpp"

namespace tern::protocol::smtp::reference {

struct Decoded {
  std::size_t consumed = 0;
  bool finished = false;
  std::string out;  // the body octets before the first violation
  DataViolation violation = DataViolation::none;
  std::uint64_t body_bytes = 0;
};

inline Decoded decode(std::string_view in, const DataDecoderOptions& o) {
  Decoded r;
  std::size_t line = 0;
  bool line_start = true;
  auto violate = [&](DataViolation v) {
    if (r.violation == DataViolation::none) r.violation = v;
  };
  auto content = [&](char c) {
    ++line;
    ++r.body_bytes;
    if (o.line_bytes_max != 0 && line + 2 > o.line_bytes_max) violate(DataViolation::line_too_long);
    if (o.message_bytes_max != 0 && r.body_bytes > o.message_bytes_max)
      violate(DataViolation::too_large);
    if (c == '\0') violate(DataViolation::nul);
    if (r.violation == DataViolation::none) r.out += c;
  };
  // Only a real CRLF makes the next line one whose leading '.' is special.
  auto line_end = [&](bool real_crlf) {
    line = 0;
    r.body_bytes += 2;
    if (o.message_bytes_max != 0 && r.body_bytes > o.message_bytes_max)
      violate(DataViolation::too_large);
    if (r.violation == DataViolation::none) r.out += "\r\n";
    line_start = real_crlf;
  };
  std::size_t i = 0;
  while (i < in.size()) {
    if (line_start) {
      line_start = false;
      if (in.substr(i, 3) == ".\r\n") {
        r.consumed = i + 3;
        r.finished = true;
        return r;
      }
      if (in[i] == '.') {  // a stuffed dot: on the wire, not in the body
        ++line;
        ++i;
        continue;
      }
    }
    const char c = in[i];
    if (c == '\r') {
      if (i + 1 == in.size()) break;  // a CR whose next byte has not arrived
      if (in[i + 1] == '\n') {
        line_end(true);
        i += 2;
        continue;
      }
      if (!o.normalize_bare_cr) violate(DataViolation::bare_cr);
      line_end(false);
      ++i;
      continue;
    }
    if (c == '\n') {
      if (!o.normalize_bare_lf) violate(DataViolation::bare_lf);
      line_end(false);
      ++i;
      continue;
    }
    content(c);
    ++i;
  }
  r.consumed = in.size();
  return r;
}

// What a body means once every line end is CRLF (bare CR and bare LF count as line ends)
// and a last line without an end gets one.
inline std::string normalize(std::string_view body) {
  std::string out;
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\r') {
      out += "\r\n";
      if (i + 1 < body.size() && body[i + 1] == '\n') ++i;
    } else if (body[i] == '\n') {
      out += "\r\n";
    } else {
      out += body[i];
    }
  }
  if (!out.empty() && !out.ends_with("\r\n")) out += "\r\n";
  return out;
}

// BodyScanner's oracle: the first NUL or over-long line (line end included) of a whole body.
inline DataViolation scan(std::string_view body, std::size_t line_bytes_max) {
  std::size_t line = 0;
  for (const char c : body) {
    ++line;
    if (line_bytes_max != 0 && line > line_bytes_max) return DataViolation::line_too_long;
    if (c == '\0') return DataViolation::nul;
    if (c == '\n') line = 0;
  }
  return DataViolation::none;
}

}  // namespace tern::protocol::smtp::reference
