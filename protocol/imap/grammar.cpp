// Strings, responses and commands of the IMAP authentication subset (grammar.hpp).
#include "protocol/imap/grammar.hpp"

#include <array>
#include <cstdint>

namespace tern::protocol::imap {
namespace {

constexpr std::string_view kCrlf = "\r\n";

bool is_text_char(char c) {
  return c != '\0' && c != '\r' && c != '\n';
}

bool is_text(std::string_view s) {
  for (const char c : s) {
    if (!is_text_char(c)) return false;
  }
  return true;
}

std::optional<Status> status_of(std::string_view word) {
  static constexpr std::array<Status, 5> kAll{Status::ok, Status::no, Status::bad, Status::preauth,
                                              Status::bye};
  for (const Status s : kAll) {
    if (iequals(word, status_name(s))) return s;
  }
  return std::nullopt;
}

// The word that starts at `pos` (up to SP or the end).
std::string_view word_at(std::string_view s, std::size_t pos) {
  const std::size_t end = s.find(' ', pos);
  return s.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
}

bool fits_line(std::size_t bytes_without_crlf, const Limits& limits) {
  return bytes_without_crlf + kCrlf.size() <= limits.line_bytes_max;
}

// resp-text after the status word: [SP ["[" code "]" [SP text]] / text]; `base` is the
// offset of `s` in the response, for error offsets.
Result<StatusResponse> parse_resp_text(StatusResponse out, std::string_view s, std::size_t base) {
  if (s.empty()) return out;
  if (s[0] != ' ') return fail(base, "expected SP after the status");
  s.remove_prefix(1);
  ++base;
  if (!s.empty() && s[0] == '[') {
    std::size_t pos = 1;
    while (pos < s.size() && is_atom_char(s[pos])) ++pos;
    if (pos == 1) return fail(base + 1, "expected a response code");
    ResponseCode code{std::string(s.substr(1, pos - 1)), {}};
    if (pos < s.size() && s[pos] == ' ') {
      const std::size_t close = s.find(']', pos + 1);
      if (close == std::string_view::npos || close == pos + 1)
        return fail(base + pos, "bad response code text");
      code.text = std::string(s.substr(pos + 1, close - pos - 1));
      pos = close;
    }
    if (pos >= s.size() || s[pos] != ']') return fail(base + pos, "expected ']'");
    ++pos;
    if (pos < s.size() && s[pos] != ' ') return fail(base + pos, "expected SP after ']'");
    if (pos < s.size()) ++pos;
    out.code = std::move(code);
    s.remove_prefix(pos);
    base += pos;
  }
  out.text = std::string(s);
  return out;
}

Result<Response> parse_status(std::string tag, Status status, std::string_view rest,
                              std::size_t base) {
  StatusResponse r{std::move(tag), status, std::nullopt, {}};
  auto parsed = parse_resp_text(std::move(r), rest, base);
  if (!parsed) return parsed.error();
  return Response{std::move(*parsed)};
}

Result<Response> parse_capabilities(std::string_view rest, std::size_t base, const Limits& limits) {
  if (rest.empty()) return Response{CapabilityResponse{}};
  if (rest[0] != ' ') return fail(base, "expected SP after CAPABILITY");
  auto caps = parse_capability_list(rest.substr(1), limits);
  if (!caps) return fail(base + 1 + caps.error().offset, caps.error().message);
  return Response{CapabilityResponse{std::move(*caps)}};
}

// The raw text of a data response: segments joined by literals, each segment within limits.
std::optional<Error> check_data(std::string_view text, const Limits& limits) {
  std::size_t pos = 0;
  std::size_t literals = 0;
  while (true) {
    const std::size_t end = text.find(kCrlf, pos);
    const std::string_view seg =
        text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    if (!fits_line(seg.size(), limits)) return fail(pos, "line too long");
    if (!is_text(seg)) return fail(pos, "control character in a response");
    if (end == std::string_view::npos) return std::nullopt;
    const auto header = literal_header_at_end(seg, false);
    if (!header) return fail(end, "line break outside a literal");
    if (!*header) return fail(pos + header->error().offset, header->error().message);
    const std::size_t n = (*header)->bytes;
    if (n > limits.literal_bytes_max) return fail(pos + (*header)->offset, "literal too large");
    if (++literals > limits.literals_max) return fail(pos + (*header)->offset, "too many literals");
    if (text.size() - (end + 2) < n) return fail(text.size(), "literal cut short");
    pos = end + 2 + n;
  }
}

Result<Response> parse_untagged(std::string_view text, const Limits& limits) {
  if (text.size() < 3 || text[1] != ' ') return fail(1, "expected SP after *");
  const std::string_view word = word_at(text, 2);
  const std::size_t after = 2 + word.size();
  if (const auto status = status_of(word)) {
    if (!is_text(text)) return fail(0, "control character in a response");
    return parse_status({}, *status, text.substr(after), after);
  }
  if (iequals(word, "CAPABILITY")) {
    if (!is_text(text)) return fail(0, "control character in a response");
    return parse_capabilities(text.substr(after), after, limits);
  }
  if (word.empty()) return fail(2, "expected response data");
  if (auto e = check_data(text, limits)) return *e;
  return Response{DataResponse{std::string(text.substr(2))}};
}

Result<Response> parse_tagged(std::string_view text) {
  const std::string_view tag = word_at(text, 0);
  if (!is_tag(tag)) return fail(0, "bad tag");
  if (tag.size() == text.size()) return fail(tag.size(), "expected SP after the tag");
  const std::string_view word = word_at(text, tag.size() + 1);
  const auto status = status_of(word);
  if (!status || *status == Status::preauth || *status == Status::bye) {
    return fail(tag.size() + 1, "a tagged response must be OK, NO or BAD");
  }
  if (!is_text(text)) return fail(0, "control character in a response");
  const std::size_t after = tag.size() + 1 + word.size();
  return parse_status(std::string(tag), *status, text.substr(after), after);
}

std::string encode_status(const StatusResponse& r) {
  std::string out = r.tag.empty() ? "*" : r.tag;
  out += ' ';
  out += status_name(r.status);
  if (r.code) {
    out += " [" + r.code->name;
    if (!r.code->text.empty()) out += " " + r.code->text;
    out += ']';
  }
  if (!r.text.empty()) out += " " + r.text;
  return out;
}

std::string encode(const Response& response) {
  struct Encode {
    std::string operator()(const StatusResponse& r) { return encode_status(r); }
    std::string operator()(const CapabilityResponse& r) {
      std::string out = "* CAPABILITY";
      for (const auto& c : r.capabilities) out += " " + c;
      return out;
    }
    std::string operator()(const DataResponse& r) { return "* " + r.text; }
    std::string operator()(const ContinuationRequest& r) { return "+ " + r.text; }
  };
  return std::visit(Encode{}, response);
}

// ---- commands ----------------------------------------------------------------------------

// Appends one argument; a synchronizing literal closes the current segment.
std::optional<Error> append_argument(std::string_view arg, LiteralMode mode, const Limits& limits,
                                     std::vector<std::string>& segments, std::size_t& line_start) {
  std::string& out = segments.back();
  out += ' ';
  bool astring = !arg.empty();
  for (const char c : arg) astring = astring && is_astring_char(c);
  if (astring) {
    out += arg;
    return std::nullopt;
  }
  if (is_quotable(arg) && arg.size() <= 1024) {
    out += quote(arg);
    return std::nullopt;
  }
  if (arg.find('\0') != std::string_view::npos) return fail(0, "argument contains NUL");
  if (arg.size() > limits.literal_bytes_max) return fail(0, "argument too long for a literal");
  const bool non_sync = mode == LiteralMode::non_sync || (mode == LiteralMode::non_sync_small &&
                                                          arg.size() <= kLiteralMinusBytesMax);
  out += literal_header(arg.size(), non_sync);
  if (out.size() - line_start > limits.line_bytes_max) return fail(0, "command line too long");
  if (!non_sync) segments.emplace_back();
  segments.back() += arg;
  line_start = segments.back().size();
  return std::nullopt;
}

Result<std::string> parse_quoted(std::string_view line, std::size_t& pos) {
  std::string out;
  for (++pos; pos < line.size(); ++pos) {
    char c = line[pos];
    if (c == '"') {
      ++pos;
      return out;
    }
    if (c == '\\') {
      if (pos + 1 >= line.size() || (line[pos + 1] != '"' && line[pos + 1] != '\\')) {
        return fail(pos, "bad escape in a quoted string");
      }
      c = line[++pos];
    } else if (!is_text_char(c)) {
      return fail(pos, "control character in a quoted string");
    }
    out += c;
  }
  return fail(pos, "unterminated quoted string");
}

// One argument at parts[i].line[pos]; a literal moves the cursor to the next part.
Result<std::string> parse_argument(const std::vector<CommandPart>& parts, std::size_t& i,
                                   std::size_t& pos) {
  const std::string_view line = parts[i].line;
  if (line[pos] == '"') return parse_quoted(line, pos);
  if (line[pos] == '{') {
    const auto header = literal_header_at_end(line, true);
    if (!header || !*header || (*header)->offset != pos) return fail(pos, "bad literal");
    if (!parts[i].literal || parts[i].literal->size() != (*header)->bytes)
      return fail(pos, "literal missing");
    if (i + 1 >= parts.size()) return fail(pos, "command ends inside a literal");
    std::string value = *parts[i].literal;
    ++i;
    pos = 0;
    return value;
  }
  const std::size_t start = pos;
  while (pos < line.size() && is_astring_char(line[pos])) ++pos;
  if (pos == start) return fail(pos, "expected an argument");
  return std::string(line.substr(start, pos - start));
}

}  // namespace

bool is_atom_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u >= 0x7F) return false;
  switch (c) {
    case '(':
    case ')':
    case '{':
    case '%':
    case '*':
    case '"':
    case '\\':
    case ']': return false;
    default: return true;
  }
}

bool is_astring_char(char c) {
  return c == ']' || is_atom_char(c);
}

bool is_atom(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    if (!is_atom_char(c)) return false;
  }
  return true;
}

bool is_tag(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    if (c == '+' || !is_astring_char(c)) return false;
  }
  return true;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 32);
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 32);
    if (x != y) return false;
  }
  return true;
}

bool is_quotable(std::string_view s) {
  for (const char c : s) {
    if (!is_text_char(c) || static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::optional<Result<LiteralHeader>> literal_header_at_end(std::string_view line,
                                                           bool allow_non_sync) {
  if (line.empty() || line.back() != '}') return std::nullopt;
  const std::size_t open = line.rfind('{');
  if (open == std::string_view::npos) return std::nullopt;
  std::string_view inside = line.substr(open + 1, line.size() - open - 2);
  const bool non_sync = !inside.empty() && inside.back() == '+';
  if (non_sync) {
    if (!allow_non_sync) return std::nullopt;
    inside.remove_suffix(1);
  }
  if (inside.empty()) return std::nullopt;
  for (const char c : inside) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  if (inside.size() > 10) return Result<LiteralHeader>(fail(open, "literal too large"));
  std::uint64_t n = 0;
  for (const char c : inside) n = n * 10 + static_cast<std::uint64_t>(c - '0');
  if (n > 0xFFFFFFFFull) return Result<LiteralHeader>(fail(open, "literal too large"));
  return Result<LiteralHeader>(LiteralHeader{static_cast<std::size_t>(n), non_sync, open});
}

std::string literal_header(std::size_t bytes, bool non_sync) {
  return "{" + std::to_string(bytes) + (non_sync ? "+}" : "}") + std::string(kCrlf);
}

std::string_view status_name(Status s) {
  switch (s) {
    case Status::ok: return "OK";
    case Status::no: return "NO";
    case Status::bad: return "BAD";
    case Status::preauth: return "PREAUTH";
    case Status::bye: return "BYE";
  }
  return "BAD";
}

Result<Response> parse_response(std::string_view text, const Limits& limits) {
  if (text.empty()) return fail(0, "empty response");
  if (text.find(kCrlf) == std::string_view::npos && !fits_line(text.size(), limits)) {
    return fail(0, "line too long");
  }
  if (text[0] == '*') return parse_untagged(text, limits);
  if (!is_text(text)) return fail(0, "control character in a response");
  if (text[0] == '+') {
    if (text.size() == 1) return Response{ContinuationRequest{}};
    if (text[1] != ' ') return fail(1, "expected SP after +");
    return Response{ContinuationRequest{std::string(text.substr(2))}};
  }
  return parse_tagged(text);
}

bool is_data_line(std::string_view first_line) {
  if (first_line.size() < 3 || first_line[0] != '*' || first_line[1] != ' ') return false;
  const std::string_view word = word_at(first_line, 2);
  return !word.empty() && !status_of(word) && !iequals(word, "CAPABILITY");
}

Result<std::string> serialize(const Response& response, const Limits& limits) {
  std::string wire = encode(response);
  auto back = parse_response(wire, limits);
  if (!back) return back.error();
  if (!(*back == response)) return fail(0, "value would not parse back to itself");
  wire += kCrlf;
  return wire;
}

Result<std::vector<std::string>> parse_capability_list(std::string_view text,
                                                       const Limits& limits) {
  std::vector<std::string> caps;
  std::size_t pos = 0;
  while (true) {
    const std::string_view cap = word_at(text, pos);
    if (!is_atom(cap)) return fail(pos, "bad capability");
    if (caps.size() >= limits.capabilities_max) return fail(pos, "too many capabilities");
    caps.emplace_back(cap);
    pos += cap.size();
    if (pos == text.size()) return caps;
    ++pos;  // the SP
  }
}

bool has_capability(const std::vector<std::string>& caps, std::string_view name) {
  for (const auto& c : caps) {
    if (iequals(c, name)) return true;
  }
  return false;
}

Result<std::vector<std::string>> serialize_command(const Command& command, LiteralMode mode,
                                                   const Limits& limits) {
  if (!is_tag(command.tag)) return fail(0, "bad tag");
  if (!is_atom(command.name)) return fail(0, "bad command name");
  std::vector<std::string> segments{command.tag + " " + command.name};
  std::size_t line_start = 0;
  if (command.args.size() > 64) return fail(0, "too many arguments");
  for (const auto& arg : command.args) {
    if (auto e = append_argument(arg, mode, limits, segments, line_start)) return *e;
  }
  segments.back() += kCrlf;
  if (segments.back().size() - line_start > limits.line_bytes_max)
    return fail(0, "command line too long");
  return segments;
}

Result<CommandHead> parse_command_head(std::string_view line, std::string* tag_seen) {
  const std::string_view tag = word_at(line, 0);
  if (!is_tag(tag)) return fail(0, "bad tag");
  if (tag_seen != nullptr) *tag_seen = std::string(tag);
  if (tag.size() == line.size()) return fail(tag.size(), "expected SP after the tag");
  std::size_t pos = tag.size() + 1;
  const std::size_t start = pos;
  while (pos < line.size() && is_atom_char(line[pos])) ++pos;
  if (pos == start) return fail(pos, "expected a command name");
  if (pos < line.size() && line[pos] != ' ') return fail(pos, "bad command name");
  return CommandHead{std::string(tag), std::string(line.substr(start, pos - start)), pos};
}

Result<Command> parse_command(const std::vector<CommandPart>& parts, const Limits& limits) {
  if (parts.empty()) return fail(0, "empty command");
  if (parts.size() > limits.literals_max + 1) return fail(0, "too many literals");
  auto head = parse_command_head(parts[0].line);
  if (!head) return head.error();
  Command command{std::move(head->tag), std::move(head->name), {}};
  std::size_t i = 0;
  std::size_t pos = head->rest;
  while (true) {
    const std::string_view line = parts[i].line;
    if (pos == line.size()) {
      if (parts[i].literal || i + 1 != parts.size()) return fail(pos, "unexpected literal");
      return command;
    }
    if (line[pos] != ' ' || pos + 1 == line.size()) return fail(pos, "expected SP and an argument");
    ++pos;
    auto arg = parse_argument(parts, i, pos);
    if (!arg) return arg.error();
    command.args.push_back(std::move(*arg));
  }
}

}  // namespace tern::protocol::imap
