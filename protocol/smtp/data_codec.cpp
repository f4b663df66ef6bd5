#include "protocol/smtp/data_codec.hpp"

#include <algorithm>
#include <cstring>

#include "protocol/core/scan.hpp"

namespace tern::protocol::smtp {

void DataDecoder::violate(DataViolation violation) {
  if (violation_ == DataViolation::none) violation_ = violation;
}

void DataDecoder::emit(const char* first, const char* last, std::string& out) {
  const auto count = static_cast<std::uint64_t>(last - first);
  if (violation_ == DataViolation::none) {
    // How many more octets each limit allows; the one with less room is crossed first (on
    // a tie, by the same octet: the line limit is named, as a byte-by-byte reading would).
    constexpr std::uint64_t kNoLimit = UINT64_MAX;
    const std::uint64_t line_content_max =
        options_.line_bytes_max >= 2 ? options_.line_bytes_max - 2 : 0;
    const std::uint64_t line_room = options_.line_bytes_max == 0 ? kNoLimit
                                    : line_content_max > line_bytes_
                                        ? line_content_max - line_bytes_
                                        : 0;
    const std::uint64_t size_room = options_.message_bytes_max == 0 ? kNoLimit
                                    : options_.message_bytes_max > body_bytes_
                                        ? options_.message_bytes_max - body_bytes_
                                        : 0;
    const void* nul = std::memchr(first, '\0', static_cast<std::size_t>(count));
    const std::uint64_t nul_room =
        nul == nullptr ? kNoLimit
                       : static_cast<std::uint64_t>(static_cast<const char*>(nul) - first);
    const std::uint64_t room = std::min(line_room, size_room);
    if (nul_room < room && nul_room < count) {
      out.append(first, static_cast<std::size_t>(nul_room));
      violate(DataViolation::nul);
    } else if (count > line_room || count > size_room) {
      // Keep the octets before the one that crosses, so the output does not depend on how
      // the input was split.
      out.append(first, static_cast<std::size_t>(room));
      violate(line_room <= size_room ? DataViolation::line_too_long : DataViolation::too_large);
    } else {
      out.append(first, static_cast<std::size_t>(count));
    }
  }
  line_bytes_ += count;
  body_bytes_ += count;
}

void DataDecoder::emit_line_end(std::string& out, bool real_crlf) {
  static constexpr char kCrlf[] = "\r\n";
  line_bytes_ = 0;
  body_bytes_ += 2;
  if (options_.message_bytes_max != 0 && body_bytes_ > options_.message_bytes_max) {
    violate(DataViolation::too_large);
  }
  if (violation_ == DataViolation::none) out.append(kCrlf, 2);
  // Only a real CRLF starts a line where '.' means anything: after a bare CR or LF (even a
  // normalised one) a '.' is plain content, so "\n.\r\n" can never end the data.
  state_ = real_crlf ? State::line_start : State::in_line;
}

DataViolation BodyScanner::scan(std::string_view bytes) {
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  while (p != end && violation_ == DataViolation::none) {
    const void* lf = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
    const char* stop = lf == nullptr ? end : static_cast<const char*>(lf) + 1;
    const auto length = static_cast<std::size_t>(stop - p);
    const void* nul = std::memchr(p, '\0', length);
    const std::uint64_t room = line_bytes_max_ == 0            ? UINT64_MAX
                               : line_bytes_max_ > line_bytes_ ? line_bytes_max_ - line_bytes_
                                                               : 0;
    const auto nul_at =
        nul == nullptr ? UINT64_MAX : static_cast<std::uint64_t>(static_cast<const char*>(nul) - p);
    if (nul_at < room && nul_at < length) {
      violation_ = DataViolation::nul;
    } else if (length > room) {
      violation_ = DataViolation::line_too_long;
    }
    line_bytes_ = lf == nullptr ? line_bytes_ + length : 0;
    p = stop;
  }
  return violation_;
}

DecodeStep DataDecoder::decode(std::span<const char> in, std::string& out) {
  const char* const begin = in.data();
  const char* const end = begin + in.size();
  const char* p = begin;
  while (p != end && state_ != State::finished) {
    switch (state_) {
      case State::line_start:
        if (*p == '.') {
          state_ = State::dot;
          ++line_bytes_;  // the stuffed dot is on the wire, not in the body
          ++p;
        } else {
          state_ = State::in_line;
        }
        break;
      case State::in_line: {
        const char* stop = find_cr_or_lf(p, end);
        emit(p, stop, out);
        p = stop;
        if (p == end) break;
        if (*p == '\r') {
          state_ = State::cr;
        } else {  // a bare LF
          if (!options_.normalize_bare_lf) violate(DataViolation::bare_lf);
          emit_line_end(out, false);
        }
        ++p;
        break;
      }
      case State::cr:
        if (*p == '\n') {
          ++p;
          emit_line_end(out, true);
        } else {
          if (!options_.normalize_bare_cr) violate(DataViolation::bare_cr);
          emit_line_end(out, false);  // the byte after the CR starts the next line
        }
        break;
      case State::dot:
        if (*p == '\r') {
          state_ = State::dot_cr;
          ++p;
        } else {
          state_ = State::in_line;  // an unstuffed line: the dot is dropped
        }
        break;
      case State::dot_cr:
        if (*p == '\n') {
          state_ = State::finished;
          ++p;
        } else {
          // "." CR <not LF>: a bare CR after a lone dot. Never the end of data.
          if (!options_.normalize_bare_cr) violate(DataViolation::bare_cr);
          emit_line_end(out, false);
        }
        break;
      case State::finished: break;
    }
  }
  return {static_cast<std::size_t>(p - begin), state_ == State::finished};
}

void DataEncoder::encode(std::span<const char> body, std::string& out) {
  const char* p = body.data();
  const char* const end = p + body.size();
  while (p != end) {
    if (pending_cr_) {
      pending_cr_ = false;
      out.append("\r\n", 2);
      line_start_ = true;
      if (*p == '\n') {
        ++p;
        continue;
      }
    }
    if (dot_stuffing_ && line_start_ && *p == '.') out.push_back('.');
    line_start_ = false;
    const char* stop = find_cr_or_lf(p, end);
    out.append(p, static_cast<std::size_t>(stop - p));
    p = stop;
    if (p == end) break;
    if (*p == '\r') {
      pending_cr_ = true;  // CRLF or a bare CR: the next byte tells, maybe in the next call
    } else {
      out.append("\r\n", 2);  // a bare LF becomes CRLF
      line_start_ = true;
    }
    ++p;
  }
}

void DataEncoder::end_lines(std::string& out) {
  if (pending_cr_ || !line_start_) out.append("\r\n", 2);
  pending_cr_ = false;
  line_start_ = true;
}

void DataEncoder::finish(std::string& out) {
  end_lines(out);
  out.append(".\r\n", 3);
}

}  // namespace tern::protocol::smtp
