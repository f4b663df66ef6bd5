#include "protocol/smtp/reply.hpp"

#include <gtest/gtest.h>

namespace tern::protocol::smtp {
namespace {

std::span<const char> bytes(std::string_view s) {
  return {s.data(), s.size()};
}

// Feeds everything, polling as needed; returns the replies and whether the parser failed.
std::vector<Reply> read_all(ReplyParser& p, std::string_view in) {
  std::vector<Reply> out;
  while (true) {
    const std::size_t n = p.feed(bytes(in));
    in.remove_prefix(n);
    while (auto r = p.poll()) out.push_back(std::move(*r));
    if (in.empty() || p.failed()) return out;
  }
}

TEST(EnhancedStatus, ParseAndFormat) {
  EXPECT_EQ(parse_enhanced_status("5.1.3"), (EnhancedStatus{5, 1, 3}));
  EXPECT_EQ(parse_enhanced_status("2.999.999"), (EnhancedStatus{2, 999, 999}));
  EXPECT_EQ(parse_enhanced_status("4.01.002"), (EnhancedStatus{4, 1, 2}));
  EXPECT_EQ(parse_enhanced_status("3.1.1"), std::nullopt);
  EXPECT_EQ(parse_enhanced_status("5.1000.1"), std::nullopt);
  EXPECT_EQ(parse_enhanced_status("5.1."), std::nullopt);
  EXPECT_EQ(parse_enhanced_status("5..1"), std::nullopt);
  EXPECT_EQ(parse_enhanced_status("5.1.1x"), std::nullopt);
  EXPECT_EQ(to_string(EnhancedStatus{5, 7, 1}), "5.7.1");
}

TEST(Reply, SerializeSingleAndMultiLine) {
  EXPECT_EQ(*serialize(Reply{250, std::nullopt, {"OK"}}), "250 OK\r\n");
  EXPECT_EQ(*serialize(Reply{250, std::nullopt, {""}}), "250\r\n");
  EXPECT_EQ(*serialize(Reply{250, EnhancedStatus{2, 1, 0}, {"Originator ok"}}),
            "250 2.1.0 Originator ok\r\n");
  EXPECT_EQ(*serialize(Reply{250, EnhancedStatus{2, 0, 0}, {""}}), "250 2.0.0\r\n");
  EXPECT_EQ(*serialize(Reply{250, std::nullopt, {"mx.example", "PIPELINING", "", "SIZE 100"}}),
            "250-mx.example\r\n250-PIPELINING\r\n250-\r\n250 SIZE 100\r\n");
  EXPECT_EQ(*serialize(Reply{550, EnhancedStatus{5, 1, 1}, {"No such user", "Try again"}}),
            "550-5.1.1 No such user\r\n550 5.1.1 Try again\r\n");
}

TEST(Reply, CheckRejectsBadValues) {
  EXPECT_FALSE(serialize(Reply{199, std::nullopt, {"x"}}));
  EXPECT_FALSE(serialize(Reply{600, std::nullopt, {"x"}}));
  EXPECT_FALSE(serialize(Reply{250, std::nullopt, {}}));
  EXPECT_FALSE(serialize(Reply{250, EnhancedStatus{5, 0, 0}, {"x"}}));
  EXPECT_FALSE(serialize(Reply{250, EnhancedStatus{2, 1000, 0}, {"x"}}));
  EXPECT_FALSE(serialize(Reply{250, std::nullopt, {"a\r\n250 b"}}));
  EXPECT_FALSE(serialize(Reply{250, std::nullopt, {std::string("a\0b", 3)}}));
  EXPECT_TRUE(serialize(Reply{250, std::nullopt, {"tab\there \xC3\xA9"}}));
}

TEST(ReplyParser, SingleAndMultiLine) {
  ReplyParser p;
  auto rs =
      read_all(p, "220 mx.example ESMTP\r\n250-mx.example\r\n250-SIZE 10\r\n250 HELP\r\n354\r\n");
  ASSERT_FALSE(p.failed());
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_EQ(rs[0], (Reply{220, std::nullopt, {"mx.example ESMTP"}}));
  EXPECT_EQ(rs[1], (Reply{250, std::nullopt, {"mx.example", "SIZE 10", "HELP"}}));
  EXPECT_EQ(rs[2], (Reply{354, std::nullopt, {""}}));
  EXPECT_TRUE(p.idle());
}

TEST(ReplyParser, BareLfAcceptedCrElsewhereNot) {
  ReplyParser p;
  auto rs = read_all(p, "250-a\n250 b\r\n");
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].lines, (std::vector<std::string>{"a", "b"}));
  ReplyParser q;
  read_all(q, "250 a\rb\r\n");
  EXPECT_TRUE(q.failed());
  EXPECT_EQ(q.error()->message, "control character in reply text");
}

TEST(ReplyParser, PartialInputWaits) {
  ReplyParser p;
  EXPECT_EQ(p.feed(bytes("250-a\r\n25")), 9u);
  EXPECT_FALSE(p.poll());
  EXPECT_FALSE(p.idle());
  EXPECT_EQ(p.feed(bytes("0 b\r")), 4u);
  EXPECT_FALSE(p.poll());
  EXPECT_EQ(p.feed(bytes("\n")), 1u);
  auto r = p.poll();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->lines, (std::vector<std::string>{"a", "b"}));
}

TEST(ReplyParser, Faults) {
  auto fault = [](std::string_view in) {
    ReplyParser p;
    read_all(p, in);
    return p.failed() ? p.error()->message : std::string("none");
  };
  EXPECT_EQ(fault("25 x\r\n"), "invalid reply code");
  EXPECT_EQ(fault("2500 x\r\n"), "expected SP or '-' after the code");
  EXPECT_EQ(fault("199 x\r\n"), "invalid reply code");
  EXPECT_EQ(fault("600 x\r\n"), "invalid reply code");
  EXPECT_EQ(fault("abc x\r\n"), "invalid reply code");
  EXPECT_EQ(fault("\r\n"), "invalid reply code");
  EXPECT_EQ(fault("250-a\r\n251 b\r\n"), "reply code changes inside a multi-line reply");
  EXPECT_EQ(fault(std::string("250 a\0b\r\n", 9)), "control character in reply text");
  EXPECT_EQ(fault("250 ok\r\n"), "none");
}

TEST(ReplyParser, ErrorKeepsEarlierRepliesAndStops) {
  ReplyParser p;
  const std::string in = "250 ok\r\nxyz\r\n250 later\r\n";
  EXPECT_EQ(p.feed(bytes(in)), 8u);
  EXPECT_TRUE(p.failed());
  EXPECT_EQ(p.error()->offset, 8u);
  EXPECT_EQ(p.poll()->lines[0], "ok");
  EXPECT_FALSE(p.poll());
  EXPECT_EQ(p.feed(bytes("250 more\r\n")), 0u);
}

TEST(ReplyParser, LineBoundAtNAndNPlus1) {
  ReplyParserOptions o;
  o.line_bytes_max = 16;
  const std::string line16 = "250 " + std::string(10, 'x') + "\r\n";
  ASSERT_EQ(line16.size(), 16u);
  ReplyParser ok(o);
  EXPECT_EQ(read_all(ok, line16).size(), 1u);
  EXPECT_FALSE(ok.failed());
  ReplyParser bad(o);
  read_all(bad, "250 " + std::string(11, 'x') + "\r\n");
  EXPECT_TRUE(bad.failed());
  EXPECT_EQ(bad.error()->message, "reply line too long");
  // Unterminated: fails as soon as the line cannot fit, without waiting for LF.
  ReplyParser endless(o);
  EXPECT_EQ(endless.feed(bytes("250 " + std::string(11, 'x'))), 15u);
  EXPECT_FALSE(endless.failed());
  endless.feed(bytes("y"));
  EXPECT_TRUE(endless.failed());
}

TEST(ReplyParser, LinesAndBytesBounds) {
  ReplyParserOptions o;
  o.lines_max = 3;
  ReplyParser three(o);
  EXPECT_EQ(read_all(three, "250-a\r\n250-b\r\n250 c\r\n").size(), 1u);
  ReplyParser four(o);
  read_all(four, "250-a\r\n250-b\r\n250-c\r\n250 d\r\n");
  EXPECT_EQ(four.error()->message, "reply has too many lines");
  ReplyParserOptions b;
  b.reply_bytes_max = 14;
  ReplyParser fits(b);
  EXPECT_EQ(read_all(fits, "250-a\r\n250 b\r\n").size(), 1u);
  ReplyParser over(b);
  read_all(over, "250-a\r\n250 bc\r\n");
  EXPECT_EQ(over.error()->message, "reply too long");
}

TEST(ReplyParser, ReadyQueueIsBounded) {
  ReplyParserOptions o;
  o.ready_replies_max = 2;
  ReplyParser p(o);
  EXPECT_EQ(p.feed(bytes("250 a\r\n250 b\r\n250 c\r\n")), 14u);
  EXPECT_TRUE(p.poll());
  EXPECT_EQ(p.feed(bytes("250 c\r\n")), 7u);
}

TEST(ReplyParser, EnhancedStatusExtraction) {
  ReplyParserOptions o;
  o.enhanced_status_codes = true;
  ReplyParser p(o);
  auto rs = read_all(
      p,
      "250-2.1.5 first\r\n250 2.1.5 second\r\n550 5.1.1\r\n221 4.0.0 class differs\r\n220 x\r\n");
  ASSERT_EQ(rs.size(), 4u);
  EXPECT_EQ(rs[0], (Reply{250, EnhancedStatus{2, 1, 5}, {"first", "second"}}));
  EXPECT_EQ(rs[1], (Reply{550, EnhancedStatus{5, 1, 1}, {""}}));
  EXPECT_EQ(rs[2], (Reply{221, std::nullopt, {"4.0.0 class differs"}}));
  EXPECT_EQ(rs[3], (Reply{220, std::nullopt, {"x"}}));
  // A continuation line without the code keeps its text.
  EXPECT_EQ(extract_enhanced_status(Reply{451, std::nullopt, {"4.3.0 a", "b", "4.3.1 c"}}),
            (Reply{451, EnhancedStatus{4, 3, 0}, {"a", "b", "4.3.1 c"}}));
}

}  // namespace
}  // namespace tern::protocol::smtp
