// OAUTHBEARER's message (RFC 7628 §3.1) and the GS2 header it borrows from RFC 5801.
#include <array>

#include "protocol/sasl/messages.hpp"
#include "protocol/sasl/text.hpp"

namespace tern::protocol::sasl {
namespace {

constexpr char kKvsep = '\x01';

// saslname unescaping: "=2C" is ',', "=3D" is '='; any other '=' and a bare ',' are errors.
Result<std::string> gs2_unescape(std::string_view s, std::size_t offset) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == ',') return fail(offset + i, "unescaped ',' in authzid");
    if (s[i] != '=') {
      out += s[i];
      continue;
    }
    const std::string_view esc = s.substr(i, 3);
    if (esc == "=2C") {
      out += ',';
    } else if (esc == "=3D") {
      out += '=';
    } else {
      return fail(offset + i, "bad '=' escape in authzid");
    }
    i += 2;
  }
  return out;
}

bool is_value_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u >= 0x21 && u <= 0x7E) || u == ' ' || u == '\t' || u == '\r' || u == '\n';
}

bool is_alpha_key(std::string_view key) {
  if (key.empty()) return false;
  for (const char c : key) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return false;
  }
  return true;
}

// Parses "n," / "y," [ "a=" saslname ] "," and returns where the header ends.
Result<std::size_t> parse_gs2_header(std::string_view m, const Limits& limits,
                                     std::string& authzid) {
  if (m.starts_with("p=")) return fail(0, "OAUTHBEARER does not support channel binding");
  if (!m.starts_with("n,") && !m.starts_with("y,"))
    return fail(0, "gs2 header must start with n, or y,");
  const std::size_t end = m.find(',', 2);
  if (end == std::string_view::npos) return fail(m.size(), "gs2 header is not terminated");
  const std::string_view field = m.substr(2, end - 2);
  if (field.empty()) return end + 1;
  if (!field.starts_with("a=") || field.size() == 2)
    return fail(2, "gs2 header field is not a=<authzid>");
  auto name = gs2_unescape(field.substr(2), 4);
  if (!name) return name.error();
  if (auto e = check_field(*name, limits.authzid_bytes_max, true, 4, "authorization identity"))
    return *e;
  authzid = std::move(*name);
  return end + 1;
}

Result<std::uint16_t> parse_port(std::string_view value, std::size_t offset) {
  if (value.empty() || value.size() > 5)
    return fail(offset, "port is not a number from 0 to 65535");
  std::uint32_t port = 0;
  for (const char c : value) {
    if (c < '0' || c > '9') return fail(offset, "port is not a number from 0 to 65535");
    port = port * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (port > 65535) return fail(offset, "port is not a number from 0 to 65535");
  return static_cast<std::uint16_t>(port);
}

// Applies one key/value pair to the message; `seen` tracks auth, host and port.
std::optional<Error> apply_pair(std::string_view key, std::string_view value, std::size_t value_at,
                                const Limits& limits, OauthBearerMessage& out,
                                std::array<bool, 3>& seen) {
  if (key == "auth") {
    if (seen[0]) return fail(value_at, "duplicate auth");
    seen[0] = true;
    if (value.size() < 7 || !iequals(value.substr(0, 7), "Bearer "))
      return fail(value_at, "auth is not Bearer");
    const std::string_view token = value.substr(7);
    if (token.size() > limits.token_bytes_max)
      return fail(value_at + 7 + limits.token_bytes_max, "token is too long");
    if (!is_b64token(token)) return fail(value_at + 7, "token is not a b64token");
    out.token = std::string(token);
  } else if (key == "host") {
    if (seen[1]) return fail(value_at, "duplicate host");
    seen[1] = true;
    if (value.size() > limits.host_bytes_max)
      return fail(value_at + limits.host_bytes_max, "host is too long");
    out.host = std::string(value);
  } else if (key == "port") {
    if (seen[2]) return fail(value_at, "duplicate port");
    seen[2] = true;
    auto port = parse_port(value, value_at);
    if (!port) return port.error();
    out.port = *port;
  }
  return std::nullopt;
}

// Parses *(key "=" value ^A) ^A starting at `at`, which follows the gs2 header's ^A.
std::optional<Error> parse_pairs(std::string_view m, std::size_t at, const Limits& limits,
                                 OauthBearerMessage& out) {
  std::array<bool, 3> seen{};
  std::size_t pairs = 0;
  while (at < m.size() && m[at] != kKvsep) {
    if (++pairs > limits.bearer_pairs_max) return fail(at, "too many key/value pairs");
    const std::size_t end = m.find(kKvsep, at);
    if (end == std::string_view::npos) return fail(m.size(), "key/value pair is not terminated");
    const std::string_view pair = m.substr(at, end - at);
    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos || !is_alpha_key(pair.substr(0, eq)))
      return fail(at, "malformed key/value pair");
    const std::string_view value = pair.substr(eq + 1);
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (!is_value_char(value[i])) return fail(at + eq + 1 + i, "invalid character in value");
    }
    if (auto e = apply_pair(pair.substr(0, eq), value, at + eq + 1, limits, out, seen)) return e;
    at = end + 1;
  }
  if (at >= m.size()) return fail(m.size(), "message does not end with ^A");
  if (at + 1 != m.size()) return fail(at + 1, "data after the final ^A");
  if (!seen[0]) return fail(at, "auth is missing");
  return std::nullopt;
}

}  // namespace

std::string gs2_escape(std::string_view name) {
  std::string out;
  for (const char c : name) {
    if (c == ',') {
      out += "=2C";
    } else if (c == '=') {
      out += "=3D";
    } else {
      out += c;
    }
  }
  return out;
}

std::string encode_oauthbearer(const OauthBearerMessage& m) {
  std::string out = "n,";
  if (!m.authzid.empty()) out += "a=" + gs2_escape(m.authzid);
  out += ",\x01";
  if (!m.host.empty()) out += "host=" + m.host + "\x01";
  if (m.port) out += "port=" + std::to_string(*m.port) + "\x01";
  out += "auth=Bearer " + m.token + "\x01\x01";
  return out;
}

Result<OauthBearerMessage> parse_oauthbearer(std::string_view message, const Limits& limits) {
  if (message.size() > limits.message_bytes_max) {
    return fail(limits.message_bytes_max, "OAUTHBEARER message is too long");
  }
  OauthBearerMessage out;
  auto header_end = parse_gs2_header(message, limits, out.authzid);
  if (!header_end) return header_end.error();
  if (*header_end >= message.size() || message[*header_end] != kKvsep) {
    return fail(*header_end, "gs2 header is not followed by ^A");
  }
  if (auto e = parse_pairs(message, *header_end + 1, limits, out)) return *e;
  return out;
}

}  // namespace tern::protocol::sasl
