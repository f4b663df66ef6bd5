#include "runtime/io.hpp"

#include <charconv>

#include "protocol/dns/rdata.hpp"

namespace tern::runtime {

std::string Endpoint::text() const {
  const bool v6 = ip.find(':') != std::string::npos;
  return (v6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

std::optional<Endpoint> parse_endpoint(std::string_view text) {
  if (text.size() > 300) return std::nullopt;
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (host.find(':') == std::string_view::npos) return std::nullopt;
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return std::nullopt;  // v6 needs brackets
  }
  if (host.empty() || port.empty()) return std::nullopt;
  // An address, never a name: names need DNS, which is not the caller's job here.
  const bool v6 = host.find(':') != std::string_view::npos;
  if (v6 ? !protocol::dns::encode_aaaa(host) : !protocol::dns::encode_a(host)) return std::nullopt;
  unsigned value = 0;
  const auto [end, errc] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (errc != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) {
    return std::nullopt;
  }
  return Endpoint{std::string(host), static_cast<std::uint16_t>(value)};
}

}  // namespace tern::runtime
