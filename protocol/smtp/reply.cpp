#include "protocol/smtp/reply.hpp"

#include <algorithm>
#include <cstring>

#include "protocol/smtp/chars.hpp"

namespace tern::protocol::smtp {
namespace {

bool is_text_byte(char c) {
  const unsigned char b = chars::u8(c);
  return c == '\t' || (b >= 32 && b != 127);
}

bool parse_number(std::string_view s, std::uint16_t& out) {
  if (s.empty() || s.size() > 3) return false;
  out = 0;
  for (char c : s) {
    if (!chars::is_digit(c)) return false;
    out = static_cast<std::uint16_t>(out * 10 + (c - '0'));
  }
  return true;
}

std::optional<std::uint16_t> reply_code(std::string_view line) {
  if (line.size() < 3) return std::nullopt;
  std::uint16_t code = 0;
  if (!parse_number(line.substr(0, 3), code) || code < 200 || code > 599) return std::nullopt;
  return code;
}

// The enhanced code at the start of a line's text, if it matches the reply class.
std::optional<EnhancedStatus> leading_status(std::string_view text, std::uint16_t code,
                                             std::size_t& token_bytes) {
  const std::size_t sp = text.find(' ');
  const std::string_view token = text.substr(0, sp);
  auto status = parse_enhanced_status(token);
  if (!status || status->klass != code / 100) return std::nullopt;
  token_bytes = sp == std::string_view::npos ? token.size() : sp + 1;
  return status;
}

}  // namespace

std::optional<EnhancedStatus> parse_enhanced_status(std::string_view text) {
  if (text.size() < 5 || (text[0] != '2' && text[0] != '4' && text[0] != '5') || text[1] != '.') {
    return std::nullopt;
  }
  const std::string_view rest = text.substr(2);
  const std::size_t dot = rest.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  EnhancedStatus s;
  s.klass = static_cast<std::uint16_t>(text[0] - '0');
  if (!parse_number(rest.substr(0, dot), s.subject) ||
      !parse_number(rest.substr(dot + 1), s.detail)) {
    return std::nullopt;
  }
  return s;
}

std::string to_string(const EnhancedStatus& s) {
  return std::to_string(s.klass) + "." + std::to_string(s.subject) + "." + std::to_string(s.detail);
}

std::optional<Error> check(const Reply& reply) {
  if (reply.code < 200 || reply.code > 599) return fail(0, "reply code outside 200..599");
  if (reply.lines.empty()) return fail(0, "reply without a line");
  if (reply.enhanced) {
    const EnhancedStatus& e = *reply.enhanced;
    if (e.klass != reply.code / 100)
      return fail(0, "enhanced status class differs from the reply code");
    if (e.klass == 3) return fail(0, "RFC 3463 has no enhanced status class 3");
    if (e.subject > 999 || e.detail > 999)
      return fail(0, "enhanced status subject or detail above 999");
  }
  for (std::size_t i = 0; i < reply.lines.size(); ++i) {
    for (char c : reply.lines[i]) {
      if (!is_text_byte(c)) return fail(i, "control character in reply text");
    }
  }
  return std::nullopt;
}

Result<std::string> serialize(const Reply& reply) {
  if (auto e = check(reply)) return *e;
  const std::string code = std::to_string(reply.code);
  const std::string status = reply.enhanced ? to_string(*reply.enhanced) : std::string();
  std::string out;
  for (std::size_t i = 0; i < reply.lines.size(); ++i) {
    const std::string& text = reply.lines[i];
    out += code;
    const bool last = i + 1 == reply.lines.size();
    std::string body = status;
    if (!text.empty()) body += (body.empty() ? "" : " ") + text;
    if (!last)
      out.push_back('-');
    else if (!body.empty())
      out.push_back(' ');
    out += body;
    out += "\r\n";
  }
  return out;
}

Reply extract_enhanced_status(Reply reply) {
  if (reply.enhanced || reply.lines.empty()) return reply;
  std::size_t bytes = 0;
  auto first = leading_status(reply.lines[0], reply.code, bytes);
  if (!first) return reply;
  reply.enhanced = first;
  for (std::string& line : reply.lines) {
    auto s = leading_status(line, reply.code, bytes);
    if (s && *s == *first) line.erase(0, bytes);
  }
  return reply;
}

ReplyParser::ReplyParser(ReplyParserOptions options) : options_(options) {
  // Zero would make feed() consume nothing forever; one is the smallest useful queue.
  options_.ready_replies_max = std::max<std::size_t>(options_.ready_replies_max, 1);
}

void ReplyParser::set_error(std::size_t offset, std::string message) {
  error_ = fail(offset, std::move(message));
  partial_.clear();
  partial_.shrink_to_fit();
  current_.reset();
}

bool ReplyParser::on_line(std::string_view line, std::size_t line_bytes) {
  const auto code = reply_code(line);
  if (!code) return set_error(stream_offset_, "invalid reply code"), false;
  const bool more = line.size() > 3 && line[3] == '-';
  if (line.size() > 3 && !more && line[3] != ' ')
    return set_error(stream_offset_ + 3, "expected SP or '-' after the code"), false;
  std::string_view text = line.size() > 3 ? line.substr(4) : std::string_view();
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!is_text_byte(text[i]))
      return set_error(stream_offset_ + 4 + i, "control character in reply text"), false;
  }
  if (!current_) {
    current_ = Reply{*code, std::nullopt, {}};
    current_bytes_ = 0;
  } else if (current_->code != *code) {
    return set_error(stream_offset_, "reply code changes inside a multi-line reply"), false;
  }
  current_bytes_ += line_bytes;
  if (current_->lines.size() >= options_.lines_max)
    return set_error(stream_offset_, "reply has too many lines"), false;
  if (current_bytes_ > options_.reply_bytes_max)
    return set_error(stream_offset_, "reply too long"), false;
  current_->lines.emplace_back(text);
  if (!more) {
    Reply done = std::move(*current_);
    current_.reset();
    ready_.push_back(options_.enhanced_status_codes ? extract_enhanced_status(std::move(done))
                                                    : std::move(done));
  }
  return true;
}

std::size_t ReplyParser::feed(std::span<const char> bytes) {
  std::size_t pos = 0;
  while (pos < bytes.size() && !failed() && ready_.size() < options_.ready_replies_max) {
    const char* start = bytes.data() + pos;
    const auto* lf = static_cast<const char*>(std::memchr(start, '\n', bytes.size() - pos));
    if (lf == nullptr) {
      partial_.append(start, bytes.size() - pos);
      // Even the LF alone would not fit any more.
      if (partial_.size() >= options_.line_bytes_max)
        set_error(stream_offset_, "reply line too long");
      pos = bytes.size();
      break;
    }
    const std::size_t take = static_cast<std::size_t>(lf - start) + 1;
    const std::size_t line_bytes = partial_.size() + take;
    if (line_bytes > options_.line_bytes_max) {
      set_error(stream_offset_, "reply line too long");
      break;
    }
    std::string_view line;
    if (partial_.empty()) {
      line = std::string_view(start, take - 1);
    } else {
      partial_.append(start, take - 1);
      line = partial_;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const bool ok = on_line(line, line_bytes);
    partial_.clear();
    if (!ok) break;
    pos += take;
    stream_offset_ += line_bytes;
  }
  return pos;
}

std::optional<Reply> ReplyParser::poll() {
  if (ready_.empty()) return std::nullopt;
  Reply r = std::move(ready_.front());
  ready_.pop_front();
  return r;
}

}  // namespace tern::protocol::smtp
