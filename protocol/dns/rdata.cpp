// protocol/dns/rdata.cpp — see rdata.hpp for the contract.
#include "protocol/dns/rdata.hpp"

#include <array>
#include <cstdio>
#include <optional>
#include <vector>

namespace tern::protocol::dns {
namespace {

bool host_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One group of 1-4 hex digits; nullopt otherwise.
std::optional<std::uint16_t> hex_group(std::string_view s) {
  if (s.empty() || s.size() > 4) return std::nullopt;
  unsigned value = 0;
  for (char c : s) {
    const int v = hex_value(c);
    if (v < 0) return std::nullopt;
    value = value * 16 + static_cast<unsigned>(v);
  }
  return static_cast<std::uint16_t>(value);
}

std::optional<std::vector<std::uint16_t>> hex_groups(std::string_view s) {
  std::vector<std::uint16_t> out;
  if (s.empty()) return out;
  std::size_t start = 0;
  while (true) {
    const std::size_t colon = s.find(':', start);
    auto group =
        hex_group(s.substr(start, colon == std::string_view::npos ? s.npos : colon - start));
    if (!group || out.size() == 8) return std::nullopt;
    out.push_back(*group);
    if (colon == std::string_view::npos) return out;
    start = colon + 1;
  }
}

std::optional<std::array<std::uint16_t, 8>> parse_ipv6(std::string_view s) {
  std::array<std::uint16_t, 8> groups{};
  const std::size_t gap = s.find("::");
  if (gap == std::string_view::npos) {
    auto all = hex_groups(s);
    if (!all || all->size() != 8) return std::nullopt;
    for (std::size_t i = 0; i < 8; ++i) groups[i] = (*all)[i];
    return groups;
  }
  auto head = hex_groups(s.substr(0, gap));
  auto tail = hex_groups(s.substr(gap + 2));
  if (!head || !tail || head->size() + tail->size() > 7) return std::nullopt;
  for (std::size_t i = 0; i < head->size(); ++i) groups[i] = (*head)[i];
  for (std::size_t i = 0; i < tail->size(); ++i) groups[8 - tail->size() + i] = (*tail)[i];
  return groups;
}

// RFC 5952 §4: lowercase, no leading zeros, the longest run (>= 2) of zero groups as
// "::", the first one when two runs tie.
std::string ipv6_text(const std::array<std::uint16_t, 8>& groups) {
  std::size_t best_start = 8, best_len = 0;
  for (std::size_t i = 0; i < 8;) {
    if (groups[i] != 0) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < 8 && groups[j] == 0) ++j;
    if (j - i > best_len && j - i >= 2) best_start = i, best_len = j - i;
    i = j;
  }
  std::string out;
  char buffer[8];
  for (std::size_t i = 0; i < 8; ++i) {
    if (i == best_start) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    std::snprintf(buffer, sizeof buffer, "%x", static_cast<unsigned>(groups[i]));
    out += buffer;
  }
  return out;
}

std::optional<std::array<std::uint8_t, 4>> parse_ipv4(std::string_view s) {
  std::array<std::uint8_t, 4> octets{};
  std::size_t index = 0, pos = 0;
  while (index < 4) {
    std::size_t digits = 0;
    unsigned value = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9' && digits < 3) {
      value = value * 10 + static_cast<unsigned>(s[pos] - '0');
      ++pos, ++digits;
    }
    // No leading zeros ("01"): they read as octal to some tools.
    if (digits == 0 || value > 255 || (digits > 1 && s[pos - digits] == '0')) return std::nullopt;
    octets[index++] = static_cast<std::uint8_t>(value);
    if (index < 4) {
      if (pos >= s.size() || s[pos] != '.') return std::nullopt;
      ++pos;
    }
  }
  if (pos != s.size()) return std::nullopt;
  return octets;
}

}  // namespace

Result<ParsedName> parse_name(std::string_view wire) {
  ParsedName out;
  std::size_t pos = 0;
  while (true) {
    if (pos >= wire.size()) return fail(pos, "the name ends before its root label");
    const auto length = static_cast<unsigned char>(wire[pos]);
    if ((length & 0xC0) != 0) return fail(pos, "compressed or extended label");
    if (pos + 1 + length > kNameWireBytesMax) return fail(pos, "name longer than 255 bytes");
    if (length == 0) break;
    if (pos + 1 + length > wire.size()) return fail(pos, "label runs past the data");
    if (!out.text.empty()) out.text += '.';
    for (std::size_t i = 0; i < length; ++i) {
      const char c = wire[pos + 1 + i];
      if (!host_byte(static_cast<unsigned char>(c)))
        return fail(pos + 1 + i, "byte not allowed in a host name");
      out.text += lower(c);
    }
    pos += 1 + length;
  }
  out.consumed = pos + 1;
  return out;
}

Result<MxRecord> parse_mx(std::string_view rdata) {
  if (rdata.size() < 3) return fail(rdata.size(), "MX record shorter than 3 bytes");
  MxRecord out;
  out.preference = static_cast<std::uint16_t>((static_cast<unsigned char>(rdata[0]) << 8) |
                                              static_cast<unsigned char>(rdata[1]));
  auto name = parse_name(rdata.substr(2));
  if (!name) return fail(name.error().offset + 2, name.error().message);
  if (name->consumed != rdata.size() - 2) return fail(2 + name->consumed, "bytes after the name");
  out.exchange = std::move(name->text);
  return out;
}

Result<std::string> parse_a(std::string_view rdata) {
  if (rdata.size() != 4) return fail(0, "A record is not 4 bytes");
  std::string out;
  for (std::size_t i = 0; i < 4; ++i) {
    if (i) out += '.';
    out += std::to_string(static_cast<unsigned char>(rdata[i]));
  }
  return out;
}

Result<std::string> parse_aaaa(std::string_view rdata) {
  if (rdata.size() != 16) return fail(0, "AAAA record is not 16 bytes");
  std::array<std::uint16_t, 8> groups{};
  for (std::size_t i = 0; i < 8; ++i) {
    groups[i] = static_cast<std::uint16_t>((static_cast<unsigned char>(rdata[2 * i]) << 8) |
                                           static_cast<unsigned char>(rdata[2 * i + 1]));
  }
  return ipv6_text(groups);
}

Result<std::string> encode_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  std::string out;
  std::size_t start = 0;
  while (!name.empty() && start <= name.size()) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    const std::string_view label = name.substr(start, dot - start);
    if (label.empty() || label.size() > kLabelBytesMax) return fail(start, "bad label length");
    out += static_cast<char>(label.size());
    for (std::size_t i = 0; i < label.size(); ++i) {
      if (!host_byte(static_cast<unsigned char>(label[i])))
        return fail(start + i, "byte not allowed in a host name");
      out += lower(label[i]);
    }
    start = dot + 1;
  }
  out += '\0';
  if (out.size() > kNameWireBytesMax) return fail(0, "name longer than 255 bytes");
  return out;
}

Result<std::string> encode_mx(const MxRecord& record) {
  auto name = encode_name(record.exchange);
  if (!name) return name.error();
  std::string out;
  out += static_cast<char>(record.preference >> 8);
  out += static_cast<char>(record.preference & 0xFF);
  return out + *name;
}

Result<std::string> encode_a(std::string_view dotted_quad) {
  auto octets = parse_ipv4(dotted_quad);
  if (!octets) return fail(0, "not a dotted-quad IPv4 address");
  return std::string(octets->begin(), octets->end());
}

Result<std::string> encode_aaaa(std::string_view ipv6_text_in) {
  auto groups = parse_ipv6(ipv6_text_in);
  if (!groups) return fail(0, "not an IPv6 address");
  std::string out;
  for (std::uint16_t g : *groups) {
    out += static_cast<char>(g >> 8);
    out += static_cast<char>(g & 0xFF);
  }
  return out;
}

}  // namespace tern::protocol::dns
