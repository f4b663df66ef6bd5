// Fuzz target dns_rdata: the first byte picks a reader or a writer of protocol/dns/rdata,
// the rest is its input. Invariants: a parsed name, MX, A or AAAA encodes, and parsing that
// encoding gives the same value back; a parsed name took at most 255 bytes, its encoding
// is the bytes it took (lowered), and its text is lower-case; A and AAAA wire encodes back
// to itself exactly; text that an encoder accepts parses back to a text that encodes to
// the same bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/check.hpp"
#include "protocol/dns/rdata.hpp"

using namespace tern::protocol::dns;
using tern::fuzz::check;

namespace {

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

void fuzz_name(std::string_view wire) {
  const auto name = parse_name(wire);
  if (!name) return;
  check(name->consumed <= kNameWireBytesMax && name->consumed <= wire.size());
  check(lowered(name->text) == name->text);
  const auto encoded = encode_name(name->text);
  check(encoded.has_value());
  check(*encoded == lowered(wire.substr(0, name->consumed)));
  const auto again = parse_name(*encoded);
  check(again.has_value() && again->text == name->text && again->consumed == encoded->size());
}

void fuzz_mx(std::string_view rdata) {
  const auto mx = parse_mx(rdata);
  if (!mx) return;
  const auto encoded = encode_mx(*mx);
  check(encoded.has_value());
  check(*encoded == std::string(rdata.substr(0, 2)) + lowered(rdata.substr(2)));
  const auto again = parse_mx(*encoded);
  check(again.has_value() && *again == *mx);
}

void fuzz_a(std::string_view rdata) {
  const auto text = parse_a(rdata);
  check(text.has_value() == (rdata.size() == 4));
  if (!text) return;
  const auto encoded = encode_a(*text);
  check(encoded.has_value() && *encoded == rdata);
  check(*parse_a(*encoded) == *text);
}

void fuzz_aaaa(std::string_view rdata) {
  const auto text = parse_aaaa(rdata);
  check(text.has_value() == (rdata.size() == 16));
  if (!text) return;
  check(text->size() <= 39 && lowered(*text) == *text);
  const auto encoded = encode_aaaa(*text);
  check(encoded.has_value() && *encoded == rdata);
  check(*parse_aaaa(*encoded) == *text);
}

void fuzz_encoders(std::string_view text) {
  if (const auto wire = encode_name(text)) {
    const auto name = parse_name(*wire);
    check(name.has_value() && name->consumed == wire->size());
    check(*encode_name(name->text) == *wire);
  }
  if (const auto wire = encode_a(text)) {
    const auto parsed = parse_a(*wire);
    check(parsed.has_value() && *parsed == text);  // dotted quads have one spelling
  }
  if (const auto wire = encode_aaaa(text)) {
    const auto parsed = parse_aaaa(*wire);
    check(parsed.has_value() && *encode_aaaa(*parsed) == *wire);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 5) {
    case 0: fuzz_name(rest); break;
    case 1: fuzz_mx(rest); break;
    case 2: fuzz_a(rest); break;
    case 3: fuzz_aaaa(rest); break;
    default: fuzz_encoders(rest); break;
  }
  return 0;
}
