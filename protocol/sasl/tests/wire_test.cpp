#include "protocol/sasl/wire.hpp"

#include <gtest/gtest.h>

namespace tern::protocol::sasl {
namespace {

ClientLine decode_ok(std::string_view line, LinePosition pos, std::size_t max = 100) {
  auto r = decode_client_line(line, pos, max);
  EXPECT_TRUE(r) << line << ": " << (r ? "" : r.error().message);
  return r ? *r : ClientLine{Cancel{}};
}

TEST(Wire, StarAloneCancelsInEitherPosition) {
  EXPECT_EQ(decode_ok("*", LinePosition::continuation), ClientLine{Cancel{}});
  EXPECT_EQ(decode_ok("*", LinePosition::initial_response), ClientLine{Cancel{}});
  auto twice = decode_client_line("**", LinePosition::continuation, 100);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().offset, 2u);
  auto spaced = decode_client_line(" *", LinePosition::continuation, 100);
  ASSERT_FALSE(spaced);
}

TEST(Wire, EqualsIsTheEmptyInitialResponseOnly) {
  EXPECT_EQ(decode_ok("=", LinePosition::initial_response), ClientLine{Bytes{""}});
  auto r = decode_client_line("=", LinePosition::continuation, 100);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "base64 length is not a multiple of 4");
}

TEST(Wire, EmptyLineIsEmptyOnlyAsContinuation) {
  EXPECT_EQ(decode_ok("", LinePosition::continuation), ClientLine{Bytes{""}});
  auto r = decode_client_line("", LinePosition::initial_response, 100);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), (Error{0, "empty initial response must be sent as ="}));
}

TEST(Wire, DecodesBase64) {
  using namespace std::string_literals;
  EXPECT_EQ(decode_ok("AHRpbQB0YW5zdGFhZnRhbnN0YWFm", LinePosition::initial_response),
            ClientLine{Bytes{"\0tim\0tanstaaftanstaaf"s}});
  auto bad = decode_client_line("AHRp bQ=", LinePosition::continuation, 100);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), (Error{4, "invalid base64 character"}));
}

TEST(Wire, LimitAtNAndNPlusOne) {
  EXPECT_EQ(decode_ok("Zm9vYmFy", LinePosition::continuation, 6), ClientLine{Bytes{"foobar"}});
  EXPECT_FALSE(decode_client_line("Zm9vYmFy", LinePosition::continuation, 5));
}

TEST(Wire, Encoders) {
  EXPECT_EQ(encode_challenge(""), "");
  EXPECT_EQ(encode_challenge("Username:"), "VXNlcm5hbWU6");
  EXPECT_EQ(encode_initial_response(""), "=");
  EXPECT_EQ(encode_initial_response("f"), "Zg==");
  EXPECT_EQ(encode_response(""), "");
  EXPECT_EQ(encode_response("\x01"), "AQ==");
  EXPECT_EQ(cancel_line(), "*");
}

}  // namespace
}  // namespace tern::protocol::sasl
