#include "cmd/common/queue_render.hpp"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

using tern::cmd::human_size;
using tern::cmd::iso8601_utc;
using tern::cmd::json_quote;
using tern::cmd::render_list;
using tern::cmd::render_show;
using tern::cmd::short_duration;
using tern::cmd::terminal_safe;
using tern::runtime::AttemptRecord;
using tern::runtime::MessageView;
using tern::runtime::RecipientView;

constexpr std::int64_t kNow = 1714536000;  // 2024-05-01T04:00:00Z

MessageView message_a() {
  MessageView m;
  m.id = "0123456789ABCDEF";
  m.sender = "alice@example.org";
  m.received_unix = kNow - 7200;
  m.size = 1234;
  RecipientView bob;
  bob.address = "bob@example.org";
  bob.state = "pending";
  bob.route = "mx example.org";
  bob.next_attempt_unix = kNow + 240;
  bob.attempts = 2;
  bob.last_reply = "451 4.3.0 try   later";
  bob.history = {
      {kNow - 3600, "mx example.org", "mx1.example.org 192.0.2.7:25",
       "connect 192.0.2.7:25: Connection refused"},
      {kNow - 600, "mx example.org", "mx1.example.org 192.0.2.7:25", "451 4.3.0 try   later"}};
  RecipientView carol;
  carol.address = "carol@example.org";
  carol.state = "delivered";
  carol.route = "local";
  carol.attempts = 1;
  carol.last_reply = "250 2.0.0 ok";
  carol.history = {{kNow - 7100, "local", "", "250 2.0.0 ok"}};
  m.recipients = {bob, carol};
  return m;
}

MessageView message_b() {
  MessageView m;
  m.id = "FEDCBA9876543210";
  m.received_unix = kNow - 30;
  m.size = 512;
  m.held = true;
  RecipientView dave;
  dave.address = "dave@example.net";
  dave.state = "pending";
  dave.next_attempt_unix = kNow - 5;
  m.recipients = {dave};
  return m;
}

MessageView message_c() {
  MessageView m;
  m.id = "00000000000000AA";
  m.sender = "x@y";
  m.received_unix = kNow - 90000;
  m.size = 3500000;
  m.in_flight = true;
  m.delay_notices_sent = 1;
  RecipientView e;
  e.address = "e@z";
  e.state = "failed";
  e.route = "remote relay";
  e.attempts = 1;
  e.last_reply =
      "550 5.1.1 no such user\r\nsecond line that is long enough to be cut somewhere after sixty "
      "bytes";
  e.dsn_sent = true;
  e.history = {{kNow - 80000, "remote relay", "127.0.0.1:25", e.last_reply}};
  m.recipients = {e};
  return m;
}

TEST(QueueRender, ListText) {
  // NEXT of C is "in flight" (9 bytes): that column is padded to 9 in every row.
  const std::string expected =
      "ID                AGE  SIZE  SENDER             RECIPIENTS                          NEXT    "
      "   "
      "LAST ERROR\n"
      "0123456789ABCDEF  2h   1.2K  alice@example.org  1 pending / 1 delivered / 0 failed  in 4m   "
      "   "
      "451 4.3.0 try later\n"
      "FEDCBA9876543210  30s  512   <>                 1 pending / 0 delivered / 0 failed  held    "
      "   "
      "-\n"
      "00000000000000AA  1d   3.3M  x@y                0 pending / 0 delivered / 1 failed  "
      "in flight  550 5.1.1 no such user second line that is long enough to...\n";
  EXPECT_EQ(render_list({message_a(), message_b(), message_c()}, kNow, false), expected);
}

TEST(QueueRender, ListTextNextAttemptStates) {
  MessageView c = message_c();
  c.in_flight = false;
  const std::string expected =
      "ID                AGE  SIZE  SENDER  RECIPIENTS                          NEXT  LAST ERROR\n"
      "00000000000000AA  1d   3.3M  x@y     0 pending / 0 delivered / 1 failed  -     "
      "550 5.1.1 no such user second line that is long enough to...\n";
  EXPECT_EQ(render_list({c}, kNow, false), expected);
  MessageView b = message_b();
  b.held = false;  // due 5 s ago: "now"
  EXPECT_EQ(render_list({b}, kNow, false),
            "ID                AGE  SIZE  SENDER  RECIPIENTS                          NEXT  "
            "LAST ERROR\n"
            "FEDCBA9876543210  30s  512   <>      1 pending / 0 delivered / 0 failed  now   -\n");
}

TEST(QueueRender, ListEmptyIsHeaderOnly) {
  EXPECT_EQ(render_list({}, kNow, false), "ID  AGE  SIZE  SENDER  RECIPIENTS  NEXT  LAST ERROR\n");
  EXPECT_EQ(render_list({}, kNow, true), "");
}

TEST(QueueRender, ListJsonOneObjectPerLine) {
  const std::string a =
      "{\"id\":\"0123456789ABCDEF\",\"sender\":\"alice@example.org\","
      "\"received_unix\":1714528800,\"received\":\"2024-05-01T02:00:00Z\",\"size\":1234,"
      "\"held\":false,\"in_flight\":false,\"delay_notices_sent\":0,\"recipients\":["
      "{\"address\":\"bob@example.org\",\"state\":\"pending\",\"route\":\"mx example.org\","
      "\"next_attempt_unix\":1714536240,\"next_attempt\":\"2024-05-01T04:04:00Z\","
      "\"attempts\":2,\"last_reply\":\"451 4.3.0 try   later\",\"dsn_sent\":false,\"history\":["
      "{\"at_unix\":1714532400,\"at\":\"2024-05-01T03:00:00Z\",\"route\":\"mx example.org\","
      "\"host\":\"mx1.example.org 192.0.2.7:25\","
      "\"reply\":\"connect 192.0.2.7:25: Connection refused\"},"
      "{\"at_unix\":1714535400,\"at\":\"2024-05-01T03:50:00Z\",\"route\":\"mx example.org\","
      "\"host\":\"mx1.example.org 192.0.2.7:25\",\"reply\":\"451 4.3.0 try   later\"}]},"
      "{\"address\":\"carol@example.org\",\"state\":\"delivered\",\"route\":\"local\","
      "\"next_attempt_unix\":0,\"next_attempt\":null,\"attempts\":1,"
      "\"last_reply\":\"250 2.0.0 ok\",\"dsn_sent\":false,\"history\":["
      "{\"at_unix\":1714528900,\"at\":\"2024-05-01T02:01:40Z\",\"route\":\"local\","
      "\"host\":\"\",\"reply\":\"250 2.0.0 ok\"}]}]}\n";
  const std::string b =
      "{\"id\":\"FEDCBA9876543210\",\"sender\":\"\",\"received_unix\":1714535970,"
      "\"received\":\"2024-05-01T03:59:30Z\",\"size\":512,\"held\":true,\"in_flight\":false,"
      "\"delay_notices_sent\":0,\"recipients\":[{\"address\":\"dave@example.net\","
      "\"state\":\"pending\",\"route\":\"\",\"next_attempt_unix\":1714535995,"
      "\"next_attempt\":\"2024-05-01T03:59:55Z\",\"attempts\":0,\"last_reply\":\"\","
      "\"dsn_sent\":false,\"history\":[]}]}\n";
  EXPECT_EQ(render_list({message_a(), message_b()}, kNow, true), a + b);
  EXPECT_EQ(render_show(message_b(), kNow, true), b);
}

TEST(QueueRender, JsonEscapesControlAndQuotes) {
  MessageView m = message_b();
  m.recipients.clear();
  m.sender = "a\"b\\c\r\n\x01\x1f\x7f";
  EXPECT_EQ(render_show(m, kNow, true),
            "{\"id\":\"FEDCBA9876543210\",\"sender\":\"a\\\"b\\\\c\\u000d\\u000a\\u0001\\u001f"
            "\\u007f\",\"received_unix\":1714535970,\"received\":\"2024-05-01T03:59:30Z\","
            "\"size\":512,\"held\":true,\"in_flight\":false,\"delay_notices_sent\":0,"
            "\"recipients\":[]}\n");
}

TEST(QueueRender, JsonQuoteUtf8) {
  EXPECT_EQ(json_quote(""), "\"\"");
  EXPECT_EQ(json_quote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");                        // é passes
  EXPECT_EQ(json_quote("\xe2\x82\xac"), "\"\xe2\x82\xac\"");                      // €
  EXPECT_EQ(json_quote("\xf0\x9f\x93\xa7"), "\"\xf0\x9f\x93\xa7\"");              // U+1F4E7
  EXPECT_EQ(json_quote("\xf4\x8f\xbf\xbf"), "\"\xf4\x8f\xbf\xbf\"");              // U+10FFFF
  EXPECT_EQ(json_quote("\xf4\x90\x80\x80"), "\"\\u00f4\\u0090\\u0080\\u0080\"");  // > U+10FFFF
  EXPECT_EQ(json_quote("\xc0\xaf"), "\"\\u00c0\\u00af\"");                        // overlong '/'
  EXPECT_EQ(json_quote("\xe0\x80\xaf"), "\"\\u00e0\\u0080\\u00af\"");             // overlong
  EXPECT_EQ(json_quote("\xed\xa0\x80"), "\"\\u00ed\\u00a0\\u0080\"");             // surrogate
  EXPECT_EQ(json_quote("\xc3"), "\"\\u00c3\"");                                   // truncated
  EXPECT_EQ(json_quote("\xe2\x82x"), "\"\\u00e2\\u0082x\"");                      // cut short
  EXPECT_EQ(json_quote("\xff\xfe"), "\"\\u00ff\\u00fe\"");
  EXPECT_EQ(json_quote(std::string("a\0b", 3)), "\"a\\u0000b\"");
  EXPECT_EQ(json_quote("\x7e"), "\"~\"");
}

TEST(QueueRender, ShowText) {
  const std::string expected =
      "id: 0123456789ABCDEF\n"
      "sender: alice@example.org\n"
      "received: 2024-05-01T02:00:00Z (2h ago)\n"
      "size: 1234 bytes\n"
      "status: queued\n"
      "delay notices sent: 0\n"
      "recipients: 1 pending / 1 delivered / 0 failed\n"
      "rcpt bob@example.org: pending, route mx example.org, 2 attempts, next attempt in 4m "
      "(2024-05-01T04:04:00Z)\n"
      "  last reply: 451 4.3.0 try   later\n"
      "  at 2024-05-01T03:00:00Z via mx example.org (mx1.example.org 192.0.2.7:25): connect "
      "192.0.2.7:25: Connection refused\n"
      "  at 2024-05-01T03:50:00Z via mx example.org (mx1.example.org 192.0.2.7:25): 451 4.3.0 "
      "try   later\n"
      "rcpt carol@example.org: delivered, route local, 1 attempt\n"
      "  last reply: 250 2.0.0 ok\n"
      "  at 2024-05-01T02:01:40Z via local: 250 2.0.0 ok\n";
  EXPECT_EQ(render_show(message_a(), kNow, false), expected);
}

TEST(QueueRender, ShowTextHeldFailedAndSanitized) {
  EXPECT_EQ(render_show(message_b(), kNow, false),
            "id: FEDCBA9876543210\n"
            "sender: <>\n"
            "received: 2024-05-01T03:59:30Z (30s ago)\n"
            "size: 512 bytes\n"
            "status: held\n"
            "delay notices sent: 0\n"
            "recipients: 1 pending / 0 delivered / 0 failed\n"
            "rcpt dave@example.net: pending, no route yet, 0 attempts, next attempt now "
            "(2024-05-01T03:59:55Z)\n");
  MessageView c = message_c();
  c.held = true;
  c.recipients[0].dsn_sent = false;
  c.recipients[0].history[0].reply = "550\x1b[31m red";
  EXPECT_EQ(render_show(c, kNow, false),
            "id: 00000000000000AA\n"
            "sender: x@y\n"
            "received: 2024-04-30T03:00:00Z (1d ago)\n"
            "size: 3500000 bytes\n"
            "status: held, an attempt in flight\n"
            "delay notices sent: 1\n"
            "recipients: 0 pending / 0 delivered / 1 failed\n"
            "rcpt e@z: failed, route remote relay, 1 attempt, DSN not sent yet\n"
            "  last reply: 550 5.1.1 no such user  second line that is long enough to be cut "
            "somewhere after sixty bytes\n"
            "  at 2024-04-30T05:46:40Z via remote relay (127.0.0.1:25): 550?[31m red\n");
}

// The LAST ERROR cell of a one-message list of message_b (its first 79 bytes are fixed).
std::string last_cell(const MessageView& m) {
  const std::string out = render_list({m}, kNow, false);
  const std::size_t row = out.find('\n') + 1;
  return out.substr(row + 79);
}

TEST(QueueRender, LastErrorCutAtLimitAndOnUtf8Boundary) {
  MessageView m = message_b();
  m.held = false;
  std::string sixty(60, 'x');
  m.recipients[0].last_reply = sixty;  // exactly the limit: kept whole
  EXPECT_EQ(last_cell(m), sixty + "\n");
  m.recipients[0].last_reply = sixty + "y";  // one more: cut to 57 + "..."
  EXPECT_EQ(last_cell(m), std::string(57, 'x') + "...\n");
  // An é (2 bytes) straddling byte 57 is dropped whole, never split.
  m.recipients[0].last_reply = std::string(56, 'x') + "\xc3\xa9" + "zzzz";
  EXPECT_EQ(last_cell(m), std::string(56, 'x') + "...\n");
  m.recipients[0].last_reply = " \t \r\n ";  // only whitespace: nothing to say
  EXPECT_EQ(last_cell(m), "-\n");
}

TEST(QueueRender, LastErrorPicksNewestUndelivered) {
  MessageView m = message_a();
  m.recipients[1].state = "failed";
  m.recipients[1].last_reply = "550 newer";
  m.recipients[1].history = {{kNow - 60, "local", "", "550 newer"}};
  const std::string out = render_list({m}, kNow, false);
  EXPECT_EQ(out.substr(out.size() - 10), "550 newer\n");
}

TEST(QueueRender, Iso8601) {
  EXPECT_EQ(iso8601_utc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(iso8601_utc(-1), "1969-12-31T23:59:59Z");
  EXPECT_EQ(iso8601_utc(951782400), "2000-02-29T00:00:00Z");
  EXPECT_EQ(iso8601_utc(253402300799), "9999-12-31T23:59:59Z");
  EXPECT_EQ(iso8601_utc(1714536245), "2024-05-01T04:04:05Z");
  // The extremes are defined (no overflow), whatever calendar they fall in.
  EXPECT_EQ(iso8601_utc(std::numeric_limits<std::int64_t>::max()).back(), 'Z');
  EXPECT_EQ(iso8601_utc(std::numeric_limits<std::int64_t>::min()).front(), '-');
}

TEST(QueueRender, ShortDuration) {
  EXPECT_EQ(short_duration(-5), "0s");
  EXPECT_EQ(short_duration(0), "0s");
  EXPECT_EQ(short_duration(59), "59s");
  EXPECT_EQ(short_duration(60), "1m");
  EXPECT_EQ(short_duration(3599), "59m");
  EXPECT_EQ(short_duration(3600), "1h");
  EXPECT_EQ(short_duration(86399), "23h");
  EXPECT_EQ(short_duration(86400), "1d");
}

TEST(QueueRender, HumanSize) {
  EXPECT_EQ(human_size(0), "0");
  EXPECT_EQ(human_size(1023), "1023");
  EXPECT_EQ(human_size(1024), "1.0K");
  EXPECT_EQ(human_size(10239), "9.9K");
  EXPECT_EQ(human_size(10240), "10K");
  EXPECT_EQ(human_size(1048575), "1023K");
  EXPECT_EQ(human_size(1048576), "1.0M");
  EXPECT_EQ(human_size(std::numeric_limits<std::uint64_t>::max()), "15E");
}

TEST(QueueRender, TerminalSafe) {
  EXPECT_EQ(terminal_safe("a\tb\rc\nd\x1b\x7f\x01\xc3\xa9"), "a b c d???\xc3\xa9");
}

}  // namespace
