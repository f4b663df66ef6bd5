// protocol/dns/rdata.hpp — reading (and, for tests and the simulator, writing) the RDATA
// of the DNS records delivery needs: MX (RFC 1035 §3.3.9), A (§3.4.1), AAAA (RFC 3596).
// RDATA comes from the resolver in uncompressed wire format (runtime/io.hpp DnsAnswer).
//
// Contract:
// - parse_name reads one domain name in wire format (labels, each 1-63 bytes, ending with
//   the root label) from the start of `wire` and says how many bytes it took; compression
//   pointers are refused (the resolver hands names uncompressed), as are names over 255
//   bytes in wire form. The text is lowercased ASCII, labels joined by '.', without the
//   final dot; the root name is "". Bytes outside [A-Za-z0-9-_] in a label are refused:
//   an MX exchange is a host name (RFC 5321 §2.3.5), and refusing here keeps odd bytes out
//   of logs, SNI and the connect call.
// - parse_mx: 2 bytes of preference then one name filling the rest exactly. A null MX
//   (RFC 7505) reads as preference 0 and exchange "".
// - parse_a / parse_aaaa: exactly 4 / 16 bytes, as dotted quad / RFC 5952 text.
// - encode_name / encode_mx / encode_a / encode_aaaa are their inverses; they fail on input
//   that parse_* would refuse (bad label, bad address text), so encode then parse is the
//   identity on every value they accept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/core/result.hpp"

namespace tern::protocol::dns {

inline constexpr std::size_t kNameWireBytesMax = 255;
inline constexpr std::size_t kLabelBytesMax = 63;

struct ParsedName {
  std::string text;          // "mx1.example.org", "" for the root
  std::size_t consumed = 0;  // bytes of `wire` the name took
};

struct MxRecord {
  std::uint16_t preference = 0;
  std::string exchange;  // "" for the root (a null MX when preference is 0)
  friend bool operator==(const MxRecord&, const MxRecord&) = default;
  bool is_null() const { return exchange.empty(); }
};

[[nodiscard]] Result<ParsedName> parse_name(std::string_view wire);
[[nodiscard]] Result<MxRecord> parse_mx(std::string_view rdata);
[[nodiscard]] Result<std::string> parse_a(std::string_view rdata);
[[nodiscard]] Result<std::string> parse_aaaa(std::string_view rdata);

[[nodiscard]] Result<std::string> encode_name(std::string_view name);  // "a.b" or "a.b."
[[nodiscard]] Result<std::string> encode_mx(const MxRecord& record);
[[nodiscard]] Result<std::string> encode_a(std::string_view dotted_quad);
[[nodiscard]] Result<std::string> encode_aaaa(std::string_view ipv6_text);

}  // namespace tern::protocol::dns
