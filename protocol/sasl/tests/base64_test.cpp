#include "protocol/sasl/base64.hpp"

#include <gtest/gtest.h>

namespace tern::protocol::sasl {
namespace {

struct Vector {
  std::string_view plain;
  std::string_view encoded;
};

// RFC 4648 §10.
constexpr Vector kRfc4648[] = {{"", ""},
                               {"f", "Zg=="},
                               {"fo", "Zm8="},
                               {"foo", "Zm9v"},
                               {"foob", "Zm9vYg=="},
                               {"fooba", "Zm9vYmE="},
                               {"foobar", "Zm9vYmFy"}};

TEST(Base64, EncodesRfc4648Vectors) {
  for (const auto& v : kRfc4648) EXPECT_EQ(base64_encode(v.plain), v.encoded) << v.plain;
}

TEST(Base64, DecodesRfc4648Vectors) {
  for (const auto& v : kRfc4648) {
    auto r = base64_decode(v.encoded, 100);
    ASSERT_TRUE(r) << v.encoded << ": " << r.error().message;
    EXPECT_EQ(*r, v.plain);
  }
}

TEST(Base64, EncodedSizeIsExact) {
  EXPECT_EQ(encoded_size(0), 0u);
  EXPECT_EQ(encoded_size(1), 4u);
  EXPECT_EQ(encoded_size(3), 4u);
  EXPECT_EQ(encoded_size(4), 8u);
}

TEST(Base64, AllByteValuesRoundTrip) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  const std::string text = base64_encode(all);
  EXPECT_EQ(text.substr(0, 8), "AAECAwQF");
  auto r = base64_decode(text, 256);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, all);
}

void expect_error(std::string_view text, std::size_t offset, std::string_view message) {
  auto r = base64_decode(text, 100);
  ASSERT_FALSE(r) << text;
  EXPECT_EQ(r.error().offset, offset) << text;
  EXPECT_EQ(r.error().message, message) << text;
}

TEST(Base64, RejectsBadLength) {
  expect_error("Zg=", 3, "base64 length is not a multiple of 4");
  expect_error("Zg", 2, "base64 length is not a multiple of 4");
  expect_error("Zm9v\r\n", 6, "base64 length is not a multiple of 4");
  expect_error("=", 1, "base64 length is not a multiple of 4");
}

TEST(Base64, RejectsBadCharacters) {
  expect_error("Zm9v!A==", 4, "invalid base64 character");
  expect_error("Zm 9", 2, "invalid base64 character");
  expect_error("Zm-_", 2, "invalid base64 character");  // base64url is not base64
  expect_error("Zm9v\r\nAA", 4, "invalid base64 character");
  expect_error(std::string_view("Zm\0v", 4), 2, "invalid base64 character");
  expect_error("Zg=\xff", 2, "misplaced base64 padding");
}

TEST(Base64, RejectsMisplacedPadding) {
  expect_error("====", 0, "misplaced base64 padding");
  expect_error("Z===", 1, "misplaced base64 padding");
  expect_error("Zg==Zg==", 2, "misplaced base64 padding");
  expect_error("Zm9vYg==Zm9v", 6, "misplaced base64 padding");
  expect_error("Z=g=", 1, "misplaced base64 padding");
}

TEST(Base64, RejectsNonCanonicalTrailingBits) {
  expect_error("Zh==", 1, "non-canonical base64 trailing bits");  // 'h' leaves 0001 unused
  expect_error("Zm9=", 2, "non-canonical base64 trailing bits");  // '9' leaves 01 unused
  expect_error("Zm9vYh==", 5, "non-canonical base64 trailing bits");
  EXPECT_TRUE(base64_decode("Zg==", 1));
  EXPECT_TRUE(base64_decode("Zm8=", 2));
}

TEST(Base64, LengthLimitAtNAndNPlusOne) {
  auto at_limit = base64_decode("Zm9vYmFy", 6);
  ASSERT_TRUE(at_limit);
  EXPECT_EQ(*at_limit, "foobar");
  auto over = base64_decode("Zm9vYmFy", 5);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().offset, 4u);
  EXPECT_EQ(over.error().message, "base64 data exceeds the length limit");
  EXPECT_TRUE(base64_decode("Zm9vYg==", 4));
  auto padded_over = base64_decode("Zm9vYg==", 3);
  ASSERT_FALSE(padded_over);
  EXPECT_EQ(padded_over.error().offset, 4u);
  EXPECT_TRUE(base64_decode("", 0));
  EXPECT_FALSE(base64_decode("Zg==", 0));
}

}  // namespace
}  // namespace tern::protocol::sasl
