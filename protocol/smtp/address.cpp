#include "protocol/smtp/address.hpp"

#include <charconv>
#include <vector>

#include "protocol/smtp/chars.hpp"

namespace tern::protocol::smtp {
namespace {

using chars::is_non_ascii;
constexpr std::size_t kLabelBytesMax = 63;  // RFC 1035 §2.3.4

Unexpected<AddressError> fault(AddressFault kind, std::size_t offset, std::string message) {
  return unexpected(AddressError{kind, Error{offset, std::move(message)}});
}

Unexpected<AddressError> syntax(std::size_t offset, std::string message) {
  return fault(AddressFault::syntax, offset, std::move(message));
}

// One non-ASCII scalar at text[pos]: its length, or a fault (8-bit without SMTPUTF8, or
// malformed UTF-8). Shared by local parts and U-labels so both judge bytes the same way.
AddressResult<std::size_t> utf8_at(std::string_view text, std::size_t pos, bool utf8_ok,
                                   const char* where) {
  if (!utf8_ok) {
    return fault(AddressFault::non_ascii, pos,
                 std::string("non-ASCII ") + where + " without SMTPUTF8");
  }
  const std::size_t n = chars::utf8_sequence_length(text, pos);
  if (n == 0) return syntax(pos, std::string("malformed UTF-8 in ") + where);
  if (chars::is_bidi_control(text.substr(pos, n))) {
    // U+202E and friends make an address read differently from what it is (CVE-2021-42574's
    // trick, in a mailbox): no legitimate address needs one.
    return syntax(pos, std::string("bidirectional control character in ") + where);
  }
  return n;
}

// ---- domains --------------------------------------------------------------------------

AddressResult<std::size_t> domain_label(std::string_view text, std::size_t pos, bool utf8_ok) {
  const std::size_t start = pos;
  char last = 0;
  while (pos < text.size()) {
    const char c = text[pos];
    if (chars::is_let_dig(c) || c == '-') {
      if (pos == start && c == '-') return syntax(pos, "domain label starts with '-'");
      last = c;
      ++pos;
    } else if (is_non_ascii(c)) {
      auto n = utf8_at(text, pos, utf8_ok, "domain");
      if (!n) return unexpected(n.error());
      last = 'a';
      pos += *n;
    } else {
      break;
    }
  }
  if (pos == start) return syntax(pos, "empty domain label");
  if (last == '-') return syntax(pos - 1, "domain label ends with '-'");
  if (pos - start > kLabelBytesMax)
    return fault(AddressFault::too_long, start, "domain label exceeds 63 octets");
  return pos;
}

// The Domain at the start of text; length of the text it used.
AddressResult<std::size_t> domain_prefix(std::string_view text, const AddressOptions& o) {
  std::size_t pos = 0;
  while (true) {
    auto end = domain_label(text, pos, o.utf8);
    if (!end) return unexpected(end.error());
    pos = *end;
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      continue;
    }
    break;
  }
  const std::size_t max = o.limits.effective().domain_bytes_max;
  if (pos > max) {
    return fault(AddressFault::too_long, max, "domain exceeds " + std::to_string(max) + " octets");
  }
  return pos;
}

// ---- address literals ----------------------------------------------------------------

std::optional<Ipv4Literal> ipv4_from(std::string_view s) {
  Ipv4Literal out;
  std::size_t pos = 0;
  for (int i = 0; i < 4; ++i) {
    if (i > 0) {
      if (pos >= s.size() || s[pos] != '.') return std::nullopt;
      ++pos;
    }
    std::size_t digits = 0;
    unsigned value = 0;
    while (pos < s.size() && chars::is_digit(s[pos]) && digits < 3) {
      value = value * 10 + static_cast<unsigned>(s[pos] - '0');
      ++pos;
      ++digits;
    }
    if (digits == 0 || value > 255) return std::nullopt;
    out.octets[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(value);
  }
  if (pos != s.size()) return std::nullopt;
  return out;
}

std::vector<std::string_view> split_colons(std::string_view s) {
  std::vector<std::string_view> parts;
  if (s.empty()) return parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t colon = s.find(':', start);
    parts.push_back(s.substr(start, colon == std::string_view::npos ? colon : colon - start));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  return parts;
}

// Hex groups (and an IPv4 tail in the last position when allowed) into words.
bool ipv6_groups(const std::vector<std::string_view>& parts, bool v4_tail_ok,
                 std::vector<std::uint16_t>& words) {
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string_view p = parts[i];
    if (v4_tail_ok && i + 1 == parts.size() && p.find('.') != std::string_view::npos) {
      auto v4 = ipv4_from(p);
      if (!v4) return false;
      words.push_back(static_cast<std::uint16_t>(v4->octets[0] << 8 | v4->octets[1]));
      words.push_back(static_cast<std::uint16_t>(v4->octets[2] << 8 | v4->octets[3]));
      return true;
    }
    if (p.empty() || p.size() > 4) return false;
    unsigned value = 0;
    for (char c : p) {
      const int h = chars::hex_value(c);
      if (h < 0) return false;
      value = value * 16 + static_cast<unsigned>(h);
    }
    words.push_back(static_cast<std::uint16_t>(value));
  }
  return true;
}

// RFC 5321 §4.1.3 IPv6-full / IPv6-comp / IPv6v4-full / IPv6v4-comp: "::" stands for at
// least two zero groups, so at most 6 groups (IPv4 counting as 2) may accompany it.
std::optional<Ipv6Literal> ipv6_from(std::string_view s) {
  const std::size_t dc = s.find("::");
  std::vector<std::uint16_t> head, tail;
  if (dc == std::string_view::npos) {
    if (!ipv6_groups(split_colons(s), true, head) || head.size() != 8) return std::nullopt;
  } else {
    const std::string_view h = s.substr(0, dc), t = s.substr(dc + 2);
    if (t.find("::") != std::string_view::npos) return std::nullopt;
    if (!ipv6_groups(split_colons(h), false, head)) return std::nullopt;
    if (!ipv6_groups(split_colons(t), true, tail)) return std::nullopt;
    if (head.size() + tail.size() > 6) return std::nullopt;
    head.resize(8 - tail.size(), 0);
    head.insert(head.end(), tail.begin(), tail.end());
  }
  Ipv6Literal out;
  for (std::size_t i = 0; i < 8; ++i) {
    out.octets[2 * i] = static_cast<std::uint8_t>(head[i] >> 8);
    out.octets[2 * i + 1] = static_cast<std::uint8_t>(head[i] & 0xFF);
  }
  return out;
}

bool is_ldh_str(std::string_view s) {
  if (s.empty() || !chars::is_let_dig(s.back())) return false;
  for (char c : s) {
    if (!chars::is_let_dig(c) && c != '-') return false;
  }
  return true;
}

// dcontent = %d33-90 / %d94-126: printable ASCII except "[", "\" and "]".
bool is_dcontent(char c) {
  const unsigned char b = chars::u8(c);
  return b >= 33 && b <= 126 && c != '[' && c != '\\' && c != ']';
}

AddressResult<Host> literal_body(std::string_view body, std::size_t at) {
  if (chars::istarts_with(body, "IPv6:")) {
    auto v6 = ipv6_from(body.substr(5));
    if (!v6) return syntax(at + 5, "invalid IPv6 address literal");
    return Host{*v6};
  }
  if (!body.empty() && chars::is_digit(body[0]) && body.find(':') == std::string_view::npos) {
    auto v4 = ipv4_from(body);
    if (!v4) return syntax(at, "invalid IPv4 address literal");
    return Host{*v4};
  }
  const std::size_t colon = body.find(':');
  if (colon == std::string_view::npos) return syntax(at, "address literal without a tag");
  GeneralLiteral g{std::string(body.substr(0, colon)), std::string(body.substr(colon + 1))};
  if (!is_ldh_str(g.tag)) return syntax(at, "invalid address literal tag");
  if (g.content.empty()) return syntax(at + colon + 1, "empty address literal");
  return Host{std::move(g)};
}

AddressResult<Prefix<Host>> literal_prefix(std::string_view text, const AddressOptions& o) {
  std::size_t pos = 1;  // after '['
  while (pos < text.size() && is_dcontent(text[pos])) ++pos;
  if (pos >= text.size() || text[pos] != ']') {
    if (pos < text.size() && is_non_ascii(text[pos])) {
      return fault(AddressFault::syntax, pos, "non-ASCII in address literal");
    }
    return syntax(pos, "expected ']' to close the address literal");
  }
  const std::size_t max = o.limits.effective().domain_bytes_max;
  if (pos + 1 > max) {
    return fault(AddressFault::too_long, max,
                 "address literal exceeds " + std::to_string(max) + " octets");
  }
  auto host = literal_body(text.substr(1, pos - 1), 1);
  if (!host) return unexpected(host.error());
  return Prefix<Host>{std::move(*host), pos + 1};
}

AddressResult<Prefix<Host>> host_prefix(std::string_view text, const AddressOptions& o) {
  if (!text.empty() && text[0] == '[') return literal_prefix(text, o);
  auto len = domain_prefix(text, o);
  if (!len) return unexpected(len.error());
  return Prefix<Host>{Host{Domain{std::string(text.substr(0, *len))}}, *len};
}

// ---- local parts and mailboxes -------------------------------------------------------

AddressResult<std::size_t> quoted_local(std::string_view text, bool utf8_ok, std::string& out) {
  std::size_t pos = 1;  // after the opening quote
  while (pos < text.size() && text[pos] != '"') {
    const char c = text[pos];
    if (c == '\\') {
      if (pos + 1 >= text.size() || !chars::is_print_or_space(text[pos + 1])) {
        return syntax(pos, "invalid quoted-pair in local part");
      }
      out.push_back(text[pos + 1]);
      pos += 2;
    } else if (chars::is_qtext(c)) {
      out.push_back(c);
      ++pos;
    } else if (is_non_ascii(c)) {
      auto n = utf8_at(text, pos, utf8_ok, "local part");
      if (!n) return unexpected(n.error());
      out.append(text.substr(pos, *n));
      pos += *n;
    } else {
      return syntax(pos, "invalid character in quoted local part");
    }
  }
  if (pos >= text.size()) return syntax(pos, "unterminated quoted local part");
  return pos + 1;
}

AddressResult<std::size_t> dot_local(std::string_view text, bool utf8_ok, std::string& out) {
  std::size_t pos = 0, atom_start = 0;
  while (pos < text.size()) {
    const char c = text[pos];
    if (chars::is_atext(c)) {
      ++pos;
    } else if (is_non_ascii(c)) {
      auto n = utf8_at(text, pos, utf8_ok, "local part");
      if (!n) return unexpected(n.error());
      pos += *n;
    } else if (c == '.') {
      if (pos == atom_start) return syntax(pos, "empty atom in local part");
      atom_start = ++pos;
    } else {
      break;
    }
  }
  if (pos == atom_start)
    return syntax(pos, pos == 0 ? "empty local part" : "local part ends with '.'");
  out.assign(text.substr(0, pos));
  return pos;
}

AddressResult<Prefix<Mailbox>> mailbox_prefix(std::string_view text, const AddressOptions& o) {
  Mailbox m;
  auto end = (!text.empty() && text[0] == '"') ? quoted_local(text, o.utf8, m.local_part)
                                               : dot_local(text, o.utf8, m.local_part);
  if (!end) return unexpected(end.error());
  const std::size_t max = o.limits.effective().local_part_bytes_max;
  if (*end > max) {
    return fault(AddressFault::too_long, max,
                 "local part exceeds " + std::to_string(max) + " octets");
  }
  std::size_t pos = *end;
  if (pos >= text.size() || text[pos] != '@')
    return syntax(pos, "expected '@' after the local part");
  ++pos;
  auto host = host_prefix(text.substr(pos), o);
  if (!host) {
    AddressError e = host.error();
    e.error.offset += pos;
    return unexpected(std::move(e));
  }
  m.host = std::move(host->value);
  return Prefix<Mailbox>{std::move(m), pos + host->length};
}

// ---- paths ---------------------------------------------------------------------------

// A-d-l = At-domain *( "," At-domain ) ":" — parsed for validity, then dropped.
AddressResult<std::size_t> source_route(std::string_view text, std::size_t pos,
                                        const AddressOptions& o) {
  while (true) {
    if (pos >= text.size() || text[pos] != '@') return syntax(pos, "expected '@' in source route");
    ++pos;
    auto len = domain_prefix(text.substr(pos), o);
    if (!len) {
      AddressError e = len.error();
      e.error.offset += pos;
      return unexpected(std::move(e));
    }
    pos += *len;
    if (pos < text.size() && text[pos] == ',') {
      ++pos;
      continue;
    }
    if (pos < text.size() && text[pos] == ':') return pos + 1;
    return syntax(pos, "expected ',' or ':' in source route");
  }
}

enum class PathKind { reverse, forward };

struct PathParse {
  std::optional<Path> path;  // nullopt: "<>" (reverse) or "<Postmaster>" (forward)
  std::size_t length = 0;
};

AddressResult<PathParse> path_prefix(std::string_view text, const AddressOptions& o,
                                     PathKind kind) {
  if (text.empty() || text[0] != '<') return syntax(0, "expected '<'");
  const std::size_t max = o.limits.effective().path_bytes_max;
  std::size_t pos = 1;
  if (kind == PathKind::reverse && text.substr(1, 1) == ">") return PathParse{std::nullopt, 2};
  if (kind == PathKind::forward && text.substr(1, 1) == ">") return syntax(1, "empty forward-path");
  if (kind == PathKind::forward && chars::istarts_with(text.substr(1), "postmaster>")) {
    return PathParse{std::nullopt, 12};
  }
  Path path;
  if (pos < text.size() && text[pos] == '@') {
    auto after = source_route(text, pos, o);
    if (!after) return unexpected(after.error());
    pos = *after;
    path.source_route_ignored = true;
  }
  auto mb = mailbox_prefix(text.substr(pos), o);
  if (!mb) {
    AddressError e = mb.error();
    e.error.offset += pos;
    return unexpected(std::move(e));
  }
  pos += mb->length;
  if (pos >= text.size() || text[pos] != '>') return syntax(pos, "expected '>' to close the path");
  ++pos;
  if (pos > max)
    return fault(AddressFault::too_long, max, "path exceeds " + std::to_string(max) + " octets");
  path.mailbox = std::move(mb->value);
  return PathParse{std::move(path), pos};
}

template <class T>
AddressResult<T> whole(AddressResult<Prefix<T>> r, std::size_t size) {
  if (!r) return unexpected(r.error());
  if (r->length != size) return syntax(r->length, "unexpected characters after the address");
  return AddressResult<T>(std::in_place, std::move(r->value));
}

// ---- serialization helpers ------------------------------------------------------------

bool is_dot_string(std::string_view s) {
  if (s.empty() || s.front() == '.' || s.back() == '.') return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '.' && s[i + 1] == '.') return false;
    if (c != '.' && !chars::is_atext(c) && !is_non_ascii(c)) return false;
  }
  return true;
}

void append_hex(std::string& out, unsigned value) {
  static constexpr char kDigits[] = "0123456789abcdef";
  char buf[4];
  int n = 0;
  do {
    buf[n++] = kDigits[value & 0xF];
    value >>= 4;
  } while (value != 0);
  while (n > 0) out.push_back(buf[--n]);
}

std::string ipv6_text(const Ipv6Literal& v6) {
  std::array<unsigned, 8> w{};
  for (std::size_t i = 0; i < 8; ++i)
    w[i] = static_cast<unsigned>(v6.octets[2 * i] << 8 | v6.octets[2 * i + 1]);
  std::size_t best = 8, best_len = 0;
  for (std::size_t i = 0; i < 8;) {
    std::size_t j = i;
    while (j < 8 && w[j] == 0) ++j;
    if (j - i > best_len && j - i >= 2) {
      best = i;
      best_len = j - i;
    }
    i = (j == i) ? i + 1 : j;
  }
  std::string out;
  for (std::size_t i = 0; i < 8; ++i) {
    if (i == best) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out.push_back(':');
    append_hex(out, w[i]);
  }
  return out;
}

struct HostWriter {
  std::string operator()(const Domain& d) const { return d.name; }
  std::string operator()(const Ipv4Literal& v4) const {
    return "[" + std::to_string(v4.octets[0]) + "." + std::to_string(v4.octets[1]) + "." +
           std::to_string(v4.octets[2]) + "." + std::to_string(v4.octets[3]) + "]";
  }
  std::string operator()(const Ipv6Literal& v6) const { return "[IPv6:" + ipv6_text(v6) + "]"; }
  std::string operator()(const GeneralLiteral& g) const {
    return "[" + g.tag + ":" + g.content + "]";
  }
};

}  // namespace

AddressResult<Domain> parse_domain(std::string_view text, const AddressOptions& options) {
  auto len = domain_prefix(text, options);
  if (!len) return unexpected(len.error());
  if (*len != text.size()) return syntax(*len, "invalid character in domain");
  return Domain{std::string(text)};
}

AddressResult<Host> parse_host(std::string_view text, const AddressOptions& options) {
  auto r = host_prefix(text, options);
  if (!r) return unexpected(r.error());
  if (r->length != text.size()) {
    return syntax(r->length, text[0] == '[' ? "unexpected characters after the address literal"
                                            : "invalid character in domain");
  }
  return AddressResult<Host>(std::in_place, std::move(r->value));
}

AddressResult<Mailbox> parse_mailbox(std::string_view text, const AddressOptions& options) {
  return whole<Mailbox>(mailbox_prefix(text, options), text.size());
}

AddressResult<Prefix<ReversePath>> parse_reverse_path_prefix(std::string_view text,
                                                             const AddressOptions& options) {
  auto r = path_prefix(text, options, PathKind::reverse);
  if (!r) return unexpected(r.error());
  return Prefix<ReversePath>{ReversePath{std::move(r->path)}, r->length};
}

AddressResult<Prefix<ForwardPath>> parse_forward_path_prefix(std::string_view text,
                                                             const AddressOptions& options) {
  auto r = path_prefix(text, options, PathKind::forward);
  if (!r) return unexpected(r.error());
  return Prefix<ForwardPath>{ForwardPath{std::move(r->path)}, r->length};
}

AddressResult<ReversePath> parse_reverse_path(std::string_view text,
                                              const AddressOptions& options) {
  return whole<ReversePath>(parse_reverse_path_prefix(text, options), text.size());
}

AddressResult<ForwardPath> parse_forward_path(std::string_view text,
                                              const AddressOptions& options) {
  return whole<ForwardPath>(parse_forward_path_prefix(text, options), text.size());
}

std::string serialize_local_part(std::string_view local_part) {
  if (is_dot_string(local_part)) return std::string(local_part);
  std::string out = "\"";
  for (char c : local_part) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string serialize(const Host& host) {
  return std::visit(HostWriter{}, host);
}

std::string serialize(const Mailbox& mailbox) {
  return serialize_local_part(mailbox.local_part) + "@" + serialize(mailbox.host);
}

std::string serialize(const Path& path) {
  return chars::concat({"<", serialize(path.mailbox), ">"});
}

std::string serialize(const ReversePath& path) {
  return path.path ? serialize(*path.path) : "<>";
}

std::string serialize(const ForwardPath& path) {
  return path.path ? serialize(*path.path) : "<Postmaster>";
}

bool is_postmaster(const ForwardPath& path) {
  return !path.path || chars::iequals(path.path->mailbox.local_part, "postmaster");
}

bool needs_smtputf8(const Host& host) {
  const auto* d = std::get_if<Domain>(&host);
  return d != nullptr && chars::has_non_ascii(d->name);
}

bool needs_smtputf8(const Mailbox& mailbox) {
  return chars::has_non_ascii(mailbox.local_part) || needs_smtputf8(mailbox.host);
}

}  // namespace tern::protocol::smtp
