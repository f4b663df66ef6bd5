// Exact-value tests of protocol/dns/rdata: names, MX, A, AAAA, each limit at N and N+1.
#include "protocol/dns/rdata.hpp"

#include <algorithm>
#include <initializer_list>
#include <string>

#include <gtest/gtest.h>

namespace tern::protocol::dns {
namespace {

using namespace std::string_literals;

// A wire name of `labels` labels of `label_bytes` 'a's each, plus the root label.
std::string wire_of(std::size_t labels, std::size_t label_bytes) {
  std::string out;
  for (std::size_t i = 0; i < labels; ++i) {
    out += static_cast<char>(label_bytes);
    out += std::string(label_bytes, 'a');
  }
  return out + '\0';
}

// A wire name of exactly `total` bytes (total >= 3): 63-byte labels, then one shorter label.
std::string wire_of_size(std::size_t total) {
  std::string out;
  std::size_t rest = total - 1;  // the root label
  char letter = 'a';
  while (rest > 0) {
    const std::size_t label = std::min<std::size_t>(rest - 1, 63);
    out += static_cast<char>(label);
    out += std::string(label, letter++);
    rest -= label + 1;
  }
  return out + '\0';
}

std::string text_of_wire(const std::string& wire) {
  std::string out;
  std::size_t pos = 0;
  while (wire[pos] != 0) {
    const auto n = static_cast<unsigned char>(wire[pos]);
    if (!out.empty()) out += '.';
    out += wire.substr(pos + 1, n);
    pos += 1 + n;
  }
  return out;
}

// ---- parse_name

TEST(ParseName, ReadsLabelsAndCountsBytes) {
  auto name = parse_name("\3mx1\7example\3org\0tail"s);
  ASSERT_TRUE(name);
  EXPECT_EQ(name->text, "mx1.example.org");
  EXPECT_EQ(name->consumed, 17u);
}

TEST(ParseName, RootIsEmptyText) {
  auto name = parse_name("\0"s);
  ASSERT_TRUE(name);
  EXPECT_EQ(name->text, "");
  EXPECT_EQ(name->consumed, 1u);
}

TEST(ParseName, LowersUpperCase) {
  auto name = parse_name("\3MX1\7ExAmPlE\3ORG\0"s);
  ASSERT_TRUE(name);
  EXPECT_EQ(name->text, "mx1.example.org");
}

TEST(ParseName, AcceptsDigitsHyphenUnderscore) {
  auto name = parse_name("\5_a-9Z\0"s);
  ASSERT_TRUE(name);
  EXPECT_EQ(name->text, "_a-9z");
}

TEST(ParseName, Label63AcceptedAnd64Refused) {
  auto ok = parse_name(wire_of(1, 63));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->text, std::string(63, 'a'));
  EXPECT_EQ(ok->consumed, 65u);
  auto bad = parse_name(wire_of(1, 64));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().offset, 0u);
}

TEST(ParseName, Name255WireBytesAcceptedAnd256Refused) {
  const std::string at = wire_of_size(255);
  ASSERT_EQ(at.size(), 255u);
  auto ok = parse_name(at);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->consumed, 255u);
  EXPECT_EQ(ok->text, text_of_wire(at));
  EXPECT_EQ(ok->text.size(), 253u);

  const std::string over = wire_of_size(256);
  ASSERT_EQ(over.size(), 256u);
  auto bad = parse_name(over);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "name longer than 255 bytes");
}

TEST(ParseName, CompressionPointerRefused) {
  auto bad = parse_name("\3foo\xC0\x0c"s);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().offset, 4u);
  EXPECT_EQ(bad.error().message, "compressed or extended label");
  EXPECT_FALSE(parse_name("\xC0\x00"s));
  EXPECT_FALSE(parse_name("\x40"s));  // extended label type 01
}

TEST(ParseName, TruncatedRefused) {
  EXPECT_FALSE(parse_name(""));
  EXPECT_FALSE(parse_name("\3foo"s));  // no root label
  EXPECT_FALSE(parse_name("\4foo"s));  // label runs past the data
  auto bad = parse_name("\3foo\5ab\0"s);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().offset, 4u);
}

TEST(ParseName, BadBytesRefused) {
  for (const char c : "\x00 .*/\\@\x7f\x80\xff"s) {
    std::string wire = "\3a"s + c + "b\0"s;
    auto bad = parse_name(wire);
    ASSERT_FALSE(bad) << static_cast<int>(static_cast<unsigned char>(c));
    EXPECT_EQ(bad.error().offset, 2u);
    EXPECT_EQ(bad.error().message, "byte not allowed in a host name");
  }
}

// ---- parse_mx

TEST(ParseMx, ReadsPreferenceAndExchange) {
  auto mx = parse_mx("\x01\x02\3mx1\7Example\3org\0"s);
  ASSERT_TRUE(mx);
  EXPECT_EQ(mx->preference, 258);
  EXPECT_EQ(mx->exchange, "mx1.example.org");
  EXPECT_FALSE(mx->is_null());
}

TEST(ParseMx, MaxPreference) {
  auto mx = parse_mx("\xff\xff\1a\0"s);
  ASSERT_TRUE(mx);
  EXPECT_EQ(mx->preference, 65535);
  EXPECT_EQ(mx->exchange, "a");
}

TEST(ParseMx, NullMx) {
  auto mx = parse_mx("\0\0\0"s);
  ASSERT_TRUE(mx);
  EXPECT_EQ(mx->preference, 0);
  EXPECT_EQ(mx->exchange, "");
  EXPECT_TRUE(mx->is_null());
  EXPECT_EQ(*mx, (MxRecord{0, ""}));
}

TEST(ParseMx, TooShortRefused) {
  EXPECT_FALSE(parse_mx(""));
  EXPECT_FALSE(parse_mx("\0"s));
  auto bad = parse_mx("\0\0"s);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().offset, 2u);
}

TEST(ParseMx, TrailingBytesRefused) {
  auto bad = parse_mx("\0\x0a\1a\0x"s);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().offset, 5u);
  EXPECT_EQ(bad.error().message, "bytes after the name");
  EXPECT_FALSE(parse_mx("\0\0\0\0"s));
}

TEST(ParseMx, ErrorOffsetCountsThePreference) {
  auto bad = parse_mx("\0\x0a\3a*b\0"s);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().offset, 4u);
}

TEST(ParseMx, CompressedExchangeRefused) {
  EXPECT_FALSE(parse_mx("\0\x0a\xc0\x0c"s));
}

TEST(ParseMx, ExchangeOf255WireBytesAcceptedAnd256Refused) {
  auto ok = parse_mx("\0\1"s + wire_of_size(255));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->exchange.size(), 253u);
  EXPECT_FALSE(parse_mx("\0\1"s + wire_of_size(256)));
}

// ---- parse_a

TEST(ParseA, DottedQuad) {
  EXPECT_EQ(*parse_a("\xc0\x00\x02\x01"s), "192.0.2.1");
  EXPECT_EQ(*parse_a("\0\0\0\0"s), "0.0.0.0");
  EXPECT_EQ(*parse_a("\xff\xff\xff\xff"s), "255.255.255.255");
  EXPECT_EQ(*parse_a("\x0a\x00\x00\x7f"s), "10.0.0.127");
}

TEST(ParseA, WrongLengthRefused) {
  EXPECT_FALSE(parse_a(""));
  EXPECT_FALSE(parse_a("\1\2\3"s));
  EXPECT_FALSE(parse_a("\1\2\3\4\5"s));
}

// ---- parse_aaaa (RFC 5952 text)

std::string aaaa_wire(std::initializer_list<unsigned> groups) {
  std::string out;
  for (unsigned g : groups) {
    out += static_cast<char>(g >> 8);
    out += static_cast<char>(g & 0xff);
  }
  return out;
}

TEST(ParseAaaa, Rfc5952Text) {
  EXPECT_EQ(*parse_aaaa(aaaa_wire({0x2001, 0xdb8, 0, 0, 0, 0, 0, 1})), "2001:db8::1");
  EXPECT_EQ(*parse_aaaa(aaaa_wire({0, 0, 0, 0, 0, 0, 0, 0})), "::");
  EXPECT_EQ(*parse_aaaa(aaaa_wire({0, 0, 0, 0, 0, 0, 0, 1})), "::1");
  EXPECT_EQ(*parse_aaaa(aaaa_wire({1, 0, 0, 0, 0, 0, 0, 0})), "1::");
  EXPECT_EQ(
      *parse_aaaa(aaaa_wire({0xABCD, 0xEF01, 0x2345, 0x6789, 0xabcd, 0xef01, 0x2345, 0x6789})),
      "abcd:ef01:2345:6789:abcd:ef01:2345:6789");  // lower case
  EXPECT_EQ(*parse_aaaa(aaaa_wire({0x2001, 0xdb8, 0, 1, 1, 1, 1, 1})),
            "2001:db8:0:1:1:1:1:1");  // a single zero group is not compressed
  EXPECT_EQ(*parse_aaaa(aaaa_wire({0x2001, 0, 0, 1, 0, 0, 0, 1})),
            "2001:0:0:1::1");  // the longest run
  EXPECT_EQ(*parse_aaaa(aaaa_wire({0x2001, 0xdb8, 0, 0, 1, 0, 0, 1})),
            "2001:db8::1:0:0:1");  // the first of two equal runs
  EXPECT_EQ(*parse_aaaa(aaaa_wire({0, 1, 0, 1, 0, 1, 0, 1})), "0:1:0:1:0:1:0:1");
  EXPECT_EQ(*parse_aaaa(aaaa_wire({0x0db8, 0x00f0, 0x000a, 0, 0, 0, 0, 0})),
            "db8:f0:a::");  // no leading zeros
}

TEST(ParseAaaa, WrongLengthRefused) {
  EXPECT_FALSE(parse_aaaa(std::string(15, '\0')));
  EXPECT_FALSE(parse_aaaa(std::string(17, '\0')));
  EXPECT_FALSE(parse_aaaa(""));
}

// ---- encoders

TEST(EncodeName, Wire) {
  EXPECT_EQ(*encode_name("mx1.example.org"), "\3mx1\7example\3org\0"s);
  EXPECT_EQ(*encode_name("mx1.example.org."), "\3mx1\7example\3org\0"s);
  EXPECT_EQ(*encode_name("MX1.Example.ORG"), "\3mx1\7example\3org\0"s);
  EXPECT_EQ(*encode_name(""), "\0"s);
  EXPECT_EQ(*encode_name("."), "\0"s);
}

TEST(EncodeName, BadLabelsRefused) {
  EXPECT_FALSE(encode_name("a..b"));
  EXPECT_FALSE(encode_name(".a"));
  EXPECT_FALSE(encode_name("a.."));
  EXPECT_FALSE(encode_name(".."));
  EXPECT_FALSE(encode_name("a b.org"));
  EXPECT_FALSE(encode_name("a*.org"));
  EXPECT_FALSE(encode_name("caf\xc3\xa9.org"));
}

TEST(EncodeName, Label63AcceptedAnd64Refused) {
  EXPECT_EQ(*encode_name(std::string(63, 'a')), wire_of(1, 63));
  auto bad = encode_name("b." + std::string(64, 'a'));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().offset, 2u);
}

TEST(EncodeName, Name255WireBytesAcceptedAnd256Refused) {
  const std::string at = wire_of_size(255);
  EXPECT_EQ(*encode_name(text_of_wire(at)), at);
  auto bad = encode_name(text_of_wire(wire_of_size(256)));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "name longer than 255 bytes");
}

TEST(EncodeMx, Wire) {
  EXPECT_EQ(*encode_mx(MxRecord{10, "mx.example.org"}), "\0\x0a\2mx\7example\3org\0"s);
  EXPECT_EQ(*encode_mx(MxRecord{0x1234, "a"}), "\x12\x34\1a\0"s);
  EXPECT_EQ(*encode_mx(MxRecord{0, ""}), "\0\0\0"s);  // null MX
  EXPECT_FALSE(encode_mx(MxRecord{10, "a..b"}));
}

TEST(EncodeA, Wire) {
  EXPECT_EQ(*encode_a("192.0.2.1"), "\xc0\x00\x02\x01"s);
  EXPECT_EQ(*encode_a("0.0.0.0"), "\0\0\0\0"s);
  EXPECT_EQ(*encode_a("255.255.255.255"), "\xff\xff\xff\xff"s);
}

TEST(EncodeA, BadTextRefused) {
  for (const char* text :
       {"", "1.2.3", "1.2.3.4.", "1.2.3.4.5", "256.1.1.1", "1.2.3.256", "01.2.3.4", "1.2.3.04",
        "1..2.3", "a.b.c.d", " 1.2.3.4", "1.2.3.4 ", "1234.1.1.1", "-1.2.3.4", "::1"}) {
    EXPECT_FALSE(encode_a(text)) << text;
  }
}

TEST(EncodeAaaa, Wire) {
  EXPECT_EQ(*encode_aaaa("2001:db8::1"), aaaa_wire({0x2001, 0xdb8, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(*encode_aaaa("::"), std::string(16, '\0'));
  EXPECT_EQ(*encode_aaaa("::1"), aaaa_wire({0, 0, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(*encode_aaaa("1::"), aaaa_wire({1, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(*encode_aaaa("2001:DB8:0:0:0:0:0:1"), aaaa_wire({0x2001, 0xdb8, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(*encode_aaaa("1:2:3:4:5:6:7::"), aaaa_wire({1, 2, 3, 4, 5, 6, 7, 0}));
  EXPECT_EQ(*encode_aaaa("::2:3:4:5:6:7:8"), aaaa_wire({0, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(*encode_aaaa("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), std::string(16, '\xff'));
}

TEST(EncodeAaaa, BadTextRefused) {
  for (const char* text :
       {"", ":", ":::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3", "1:::2",
        "12345::", "g::", "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8", "1::2:3:4:5:6:7:8",
        ":1::", "1:2:3:4:5:6:7:", "::ffff:1.2.3.4", " ::1", "1.2.3.4"}) {
    EXPECT_FALSE(encode_aaaa(text)) << text;
  }
}

TEST(EncodeAaaa, ParseGivesRfc5952Text) {
  auto wire = encode_aaaa("2001:0DB8:0000:0000:0001:0000:0000:0001");
  ASSERT_TRUE(wire);
  EXPECT_EQ(*parse_aaaa(*wire), "2001:db8::1:0:0:1");
}

}  // namespace
}  // namespace tern::protocol::dns
