// Incremental framing of responses and commands (framing.hpp).
#include "protocol/imap/framing.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

namespace tern::protocol::imap {
namespace {

// Bytes up to and including the next LF, or all of them; `found` says whether LF was seen.
std::size_t take_line(std::span<const char> bytes, bool& found) {
  const void* lf = std::memchr(bytes.data(), '\n', bytes.size());
  found = lf != nullptr;
  if (!found) return bytes.size();
  return static_cast<std::size_t>(static_cast<const char*>(lf) - bytes.data()) + 1;
}

}  // namespace

// ---- ResponseParser ----------------------------------------------------------------------

std::size_t ResponseParser::feed(std::span<const char> bytes) {
  std::size_t used = 0;
  while (used < bytes.size() && !error_ && ready_.size() < limits_.ready_responses_max) {
    const auto rest = bytes.subspan(used);
    if (in_literal_) {
      const std::size_t take = std::min(literal_left_, rest.size());
      buf_.append(rest.data(), take);
      used += take;
      literal_left_ -= take;
      if (literal_left_ == 0) {
        in_literal_ = false;
        seg_start_ = buf_.size();
      }
      continue;
    }
    bool found = false;
    const std::size_t take = take_line(rest, found);
    if (buf_.size() - seg_start_ + take > limits_.line_bytes_max) {
      error_ = fail(buf_.size(), "line too long");
      break;
    }
    buf_.append(rest.data(), take);
    used += take;
    if (found) end_segment();
  }
  return used;
}

void ResponseParser::end_segment() {
  const std::size_t end = buf_.size() - 1;  // the LF
  if (end == seg_start_ || buf_[end - 1] != '\r') {
    error_ = fail(end, "line not ended by CRLF");
    return;
  }
  const std::string_view seg(buf_.data() + seg_start_, end - 1 - seg_start_);
  const std::string_view first(buf_.data(), seg_start_ == 0 ? seg.size() : buf_.find("\r\n"));
  if (is_data_line(first)) {
    if (auto header = literal_header_at_end(seg, false)) {
      if (!*header) {
        error_ = fail(seg_start_ + header->error().offset, header->error().message);
        return;
      }
      if ((*header)->bytes > limits_.literal_bytes_max || ++literals_ > limits_.literals_max) {
        error_ = fail(seg_start_ + (*header)->offset, "literal too large or too many literals");
        return;
      }
      literal_left_ = (*header)->bytes;
      in_literal_ = literal_left_ != 0;
      seg_start_ = buf_.size();
      return;
    }
  }
  auto response = parse_response(std::string_view(buf_.data(), end - 1), limits_);
  if (!response) {
    error_ = response.error();
    return;
  }
  ready_.push_back(std::move(*response));
  buf_.clear();
  seg_start_ = 0;
  literals_ = 0;
}

std::optional<Response> ResponseParser::poll() {
  if (ready_.empty()) return std::nullopt;
  Response r = std::move(ready_.front());
  ready_.pop_front();
  return r;
}

void ResponseParser::reset() {
  buf_.clear();
  seg_start_ = 0;
  literal_left_ = 0;
  literals_ = 0;
  in_literal_ = false;
  ready_.clear();
  error_.reset();
}

// ---- CommandReader -----------------------------------------------------------------------

std::size_t CommandReader::feed(std::span<const char> bytes) {
  std::size_t used = 0;
  while (used < bytes.size() && state_ == State::reading) {
    const auto rest = bytes.subspan(used);
    if (in_literal_) {
      const std::size_t take = std::min(literal_left_, rest.size());
      if (!discarding_) parts_.back().literal->append(rest.data(), take);
      used += take;
      literal_left_ -= take;
      in_literal_ = literal_left_ != 0;
      continue;
    }
    bool found = false;
    const std::size_t take = take_line(rest, found);
    if (line_.size() + take > limits_.line_bytes_max) {
      state_ = State::line_too_long;
      break;
    }
    line_.append(rest.data(), take);
    used += take;
    if (found) end_line();
  }
  return used;
}

void CommandReader::end_line() {
  line_.pop_back();  // LF
  if (line_.empty() || line_.back() != '\r') {
    bare_lf_ = true;
  } else {
    line_.pop_back();
  }
  const auto header = bare_lf_ || raw_ ? std::nullopt : literal_header_at_end(line_, true);
  if (!header || !*header) {  // no literal, or a malformed one: the parser will say so
    parts_.push_back(CommandPart{std::exchange(line_, {}), std::nullopt});
    state_ = State::complete;
    return;
  }
  header_ = **header;
  parts_.push_back(CommandPart{std::exchange(line_, {}), std::string()});
  if (header_.non_sync) {
    start_literal(header_);
  } else {
    state_ = State::literal_wanted;
  }
}

void CommandReader::start_literal(const LiteralHeader& header) {
  discarding_ = header.bytes > limits_.literal_bytes_max || parts_.size() > limits_.literals_max;
  if (discarding_) {
    oversize_ = true;
    parts_.back().literal.reset();
  }
  literal_left_ = header.bytes;
  in_literal_ = literal_left_ != 0;
}

void CommandReader::accept_literal() {
  if (state_ != State::literal_wanted) return;
  state_ = State::reading;
  start_literal(header_);
}

void CommandReader::reset() {
  state_ = State::reading;
  parts_.clear();
  line_.clear();
  header_ = {};
  literal_left_ = 0;
  in_literal_ = false;
  discarding_ = false;
  oversize_ = false;
  bare_lf_ = false;
}

}  // namespace tern::protocol::imap
