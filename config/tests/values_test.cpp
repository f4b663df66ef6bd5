#include "config/values.hpp"

#include <gtest/gtest.h>

namespace tern::config {
namespace {

using protocol::Duration;

TEST(ParseDuration, AcceptsEveryUnit) {
  EXPECT_EQ(*parse_duration("250ms"), Duration::milliseconds(250));
  EXPECT_EQ(*parse_duration("30s"), Duration::seconds(30));
  EXPECT_EQ(*parse_duration("5m"), Duration::minutes(5));
  EXPECT_EQ(*parse_duration("2h"), Duration::minutes(120));
  EXPECT_EQ(*parse_duration("1d"), Duration::seconds(86400));
  EXPECT_EQ(*parse_duration("1w"), Duration::seconds(std::int64_t{7} * 86400));
  EXPECT_EQ(*parse_duration("0s"), Duration::seconds(0));
}

TEST(ParseDuration, RejectsMissingOrUnknownUnitsAndGarbage) {
  EXPECT_EQ(parse_duration("30").error().message, "a duration needs a unit: ms, s, m, h, d or w");
  EXPECT_EQ(parse_duration("30x").error().message,
            "unknown duration unit 'x' (use ms, s, m, h, d or w)");
  EXPECT_FALSE(parse_duration("").has_value());
  EXPECT_FALSE(parse_duration("-5s").has_value());
  EXPECT_FALSE(parse_duration(" 5s").has_value());
  EXPECT_FALSE(parse_duration("5s ").has_value());
  EXPECT_FALSE(parse_duration("5S").has_value());  // units are lowercase: 5M would be ambiguous
}

TEST(ParseDuration, OverflowIsAnErrorNotAWrap) {
  // INT64_MAX ns is about 106,751 days: that many days fits, one more day does not.
  EXPECT_TRUE(parse_duration("106751d").has_value());
  EXPECT_EQ(parse_duration("106752d").error().message, "value is too large");
  EXPECT_EQ(parse_duration("99999999999999999999s").error().message, "number is too large");
}

TEST(FormatDuration, RoundTripsThroughParse) {
  for (const char* text : {"250ms", "30s", "5m", "2h", "1d", "1w", "90s", "1500ms"}) {
    EXPECT_EQ(format_duration(*parse_duration(text)), text);
  }
  EXPECT_EQ(format_duration(*parse_duration("60s")), "1m");
  EXPECT_EQ(format_duration(Duration{0}), "0ms");
}

TEST(ParseSize, UnitsArePowersOf1024AndCaseInsensitive) {
  EXPECT_EQ(*parse_size("0"), 0u);
  EXPECT_EQ(*parse_size("512"), 512u);
  EXPECT_EQ(*parse_size("512B"), 512u);
  EXPECT_EQ(*parse_size("64KB"), 64u * 1024);
  EXPECT_EQ(*parse_size("100MB"), 100u * 1024 * 1024);
  EXPECT_EQ(*parse_size("100mb"), 100u * 1024 * 1024);
  EXPECT_EQ(*parse_size("2GB"), 2ull << 30);
  EXPECT_EQ(*parse_size("1TB"), 1ull << 40);
}

TEST(ParseSize, RejectsUnknownUnitsAndOverflow) {
  EXPECT_EQ(parse_size("10XB").error().message, "unknown size unit 'XB' (use B, KB, MB, GB or TB)");
  EXPECT_FALSE(parse_size("MB").has_value());
  EXPECT_FALSE(parse_size("1.5MB").has_value());
  EXPECT_TRUE(parse_size("8388607TB").has_value());   // (2^63 - 1) / 2^40 rounded down
  EXPECT_FALSE(parse_size("8388608TB").has_value());  // 2^63: does not fit
}

}  // namespace
}  // namespace tern::config
