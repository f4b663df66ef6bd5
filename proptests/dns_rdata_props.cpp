// Properties of protocol/dns/rdata: encode then parse gives the value back for random valid
// names, MX records, IPv4 and IPv6 addresses; parse then encode gives the bytes back for
// random valid wire (built from lower-case labels, so the lowering of parse is the identity).
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "protocol/dns/rdata.hpp"

namespace tern::protocol::dns {
namespace {

rc::Gen<std::string> gen_label() {
  const auto byte = rc::gen::weightedOneOf<char>({{6, rc::gen::inRange<char>('a', 'z' + 1)},
                                                  {2, rc::gen::inRange<char>('0', '9' + 1)},
                                                  {1, rc::gen::elementOf(std::string("-_"))}});
  const auto size =
      rc::gen::weightedOneOf<int>({{8, rc::gen::inRange(1, 12)}, {1, rc::gen::inRange(50, 64)}});
  return rc::gen::mapcat(size, [byte](int n) {
    return rc::gen::container<std::string>(static_cast<std::size_t>(n), byte);
  });
}

// A valid lower-case name: labels are added while the wire form stays within 255 bytes.
rc::Gen<std::string> gen_name() {
  return rc::gen::map(rc::gen::container<std::vector<std::string>>(gen_label()),
                      [](const std::vector<std::string>& labels) {
                        std::string text;
                        std::size_t wire = 1;
                        for (const auto& label : labels) {
                          if (wire + label.size() + 1 > kNameWireBytesMax) break;
                          wire += label.size() + 1;
                          if (!text.empty()) text += '.';
                          text += label;
                        }
                        return text;
                      });
}

std::string ipv4_text(const std::array<std::uint8_t, 4>& octets) {
  std::string out;
  for (std::size_t i = 0; i < 4; ++i) {
    if (i) out += '.';
    out += std::to_string(octets[i]);
  }
  return out;
}

// Groups biased towards zero so that "::" runs of every length and position occur.
rc::Gen<std::array<std::uint16_t, 8>> gen_ipv6_groups() {
  const auto group = rc::gen::weightedOneOf<std::uint16_t>(
      {{3, rc::gen::just<std::uint16_t>(0)}, {2, rc::gen::arbitrary<std::uint16_t>()}});
  return rc::gen::map(rc::gen::container<std::vector<std::uint16_t>>(8, group),
                      [](const std::vector<std::uint16_t>& v) {
                        std::array<std::uint16_t, 8> out{};
                        for (std::size_t i = 0; i < 8; ++i) out[i] = v[i];
                        return out;
                      });
}

std::string groups_wire(const std::array<std::uint16_t, 8>& groups) {
  std::string out;
  for (const auto g : groups) {
    out += static_cast<char>(g >> 8);
    out += static_cast<char>(g & 0xff);
  }
  return out;
}

RC_GTEST_PROP(DnsRdataProps, NameEncodeThenParse, ()) {
  const std::string name = *gen_name();
  const auto wire = encode_name(name);
  RC_ASSERT(wire.has_value());
  RC_ASSERT(wire->size() <= kNameWireBytesMax);
  const auto parsed = parse_name(*wire + "trailing");
  RC_ASSERT(parsed.has_value());
  RC_ASSERT(parsed->text == name);
  RC_ASSERT(parsed->consumed == wire->size());
}

RC_GTEST_PROP(DnsRdataProps, MxEncodeThenParse, (std::uint16_t preference)) {
  const MxRecord record{preference, *gen_name()};
  const auto wire = encode_mx(record);
  RC_ASSERT(wire.has_value());
  const auto parsed = parse_mx(*wire);
  RC_ASSERT(parsed.has_value());
  RC_ASSERT(*parsed == record);
  RC_ASSERT(*encode_mx(*parsed) == *wire);  // parse then encode gives the bytes back
}

RC_GTEST_PROP(DnsRdataProps, MxWithTrailingBytesRefused, (std::uint16_t preference)) {
  const auto wire = encode_mx(MxRecord{preference, *gen_name()});
  const std::string extra = *rc::gen::nonEmpty<std::string>();
  RC_ASSERT(!parse_mx(*wire + extra).has_value());
}

RC_GTEST_PROP(DnsRdataProps, Ipv4EncodeThenParse, (std::array<std::uint8_t, 4> octets)) {
  const std::string text = ipv4_text(octets);
  const auto wire = encode_a(text);
  RC_ASSERT(wire.has_value());
  RC_ASSERT(*parse_a(*wire) == text);
}

RC_GTEST_PROP(DnsRdataProps, AWireParseThenEncode, (std::array<std::uint8_t, 4> octets)) {
  const std::string wire(octets.begin(), octets.end());
  const auto text = parse_a(wire);
  RC_ASSERT(text.has_value());
  RC_ASSERT(*encode_a(*text) == wire);
}

RC_GTEST_PROP(DnsRdataProps, AaaaWireParseThenEncode, ()) {
  const std::string wire = groups_wire(*gen_ipv6_groups());
  const auto text = parse_aaaa(wire);
  RC_ASSERT(text.has_value());
  RC_ASSERT(text->find(":::") == std::string::npos);
  RC_ASSERT(text->find("::") == text->rfind("::"));  // at most one "::"
  RC_ASSERT(*encode_aaaa(*text) == wire);
}

// Any spelling of an address (full, upper case, leading zeros) encodes to the same wire
// and parses back to the one RFC 5952 text.
RC_GTEST_PROP(DnsRdataProps, AaaaFullTextEncodeThenParse, (bool upper, bool zeros)) {
  const auto groups = *gen_ipv6_groups();
  std::string full;
  static constexpr char kHex[] = "0123456789abcdef";
  static constexpr char kHexUpper[] = "0123456789ABCDEF";
  for (std::size_t i = 0; i < 8; ++i) {
    if (i) full += ':';
    bool started = zeros;
    for (int shift = 12; shift >= 0; shift -= 4) {
      const unsigned digit = (groups[i] >> shift) & 15;
      if (digit != 0 || shift == 0) started = true;
      if (started) full += (upper ? kHexUpper : kHex)[digit];
    }
  }
  const auto wire = encode_aaaa(full);
  RC_ASSERT(wire.has_value());
  RC_ASSERT(*wire == groups_wire(groups));
  const auto text = parse_aaaa(*wire);
  RC_ASSERT(*encode_aaaa(*text) == *wire);
}

}  // namespace
}  // namespace tern::protocol::dns
