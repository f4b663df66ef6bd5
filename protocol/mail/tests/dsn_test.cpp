#include "protocol/mail/dsn.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tern::protocol::mail {
namespace {

const std::string kOriginal =
    "From: ann@example.com\r\nTo: bob@example.org\r\nSubject: hi\r\n\r\nhello\r\n";

DsnRecipient bob() {
  DsnRecipient r;
  r.final_recipient = "bob@example.org";
  r.status = "5.1.1";
  r.remote_mta = "mx2.example.org";
  r.diagnostic_code = "smtp; 550 5.1.1 no such user";
  r.last_attempt_unix = 1795262700;
  return r;
}

DsnInput input() {
  DsnInput in;
  in.reporting_mta = "mx.example.org";
  in.message_id_domain = "example.org";
  in.seed = "Q1A2B3";
  in.arrival_unix = 1795262645;
  in.now_unix = 1795262705;
  in.envelope_sender = "ann@example.com";
  in.original_message = kOriginal;
  in.recipients.push_back(bob());
  return in;
}

std::string build(const DsnInput& in) {
  auto d = build_dsn(in);
  EXPECT_TRUE(d.has_value()) << (d ? "" : d.error().message);
  return d ? d->message : std::string{};
}

std::vector<std::string> lines(const std::string& m) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < m.size()) {
    const std::size_t end = m.find("\r\n", pos);
    if (end == std::string::npos) {
      out.push_back(m.substr(pos));
      break;
    }
    out.push_back(m.substr(pos, end - pos));
    pos = end + 2;
  }
  return out;
}

// Only CRLF line ends and no line over 998 bytes.
void expect_well_formed(const std::string& m) {
  ASSERT_TRUE(m.ends_with("\r\n"));
  for (const std::string& line : lines(m)) {
    EXPECT_LE(line.size(), 998u);
    EXPECT_EQ(line.find_first_of("\r\n"), std::string::npos);
  }
}

std::size_t count_lines_starting(const std::string& m, std::string_view prefix) {
  const auto ls = lines(m);
  return static_cast<std::size_t>(std::count_if(
      ls.begin(), ls.end(), [&](const std::string& l) { return l.starts_with(prefix); }));
}

bool contains(const std::string& m, std::string_view s) {
  return m.find(s) != std::string::npos;
}

TEST(BuildDsn, FailureGolden) {
  auto d = build_dsn(input());
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->message_id, "<Q1A2B3.dsn@example.org>");
  EXPECT_FALSE(d->eight_bit);
  EXPECT_FALSE(d->content_cut);
  EXPECT_EQ(d->message,
            "From: MAILER-DAEMON@mx.example.org\r\n"
            "To: <ann@example.com>\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\n"
            "Date: Sat, 21 Nov 2026 12:05:05 +0000\r\n"
            "Message-ID: <Q1A2B3.dsn@example.org>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: multipart/report; report-type=delivery-status;\r\n"
            " boundary=\"tern-Q1A2B3.00000000\"\r\n"
            "Auto-Submitted: auto-replied\r\n"
            "\r\n"
            "This is a MIME-encapsulated message.\r\n"
            "\r\n"
            "--tern-Q1A2B3.00000000\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Description: Notification\r\n"
            "\r\n"
            "This is the mail system at mx.example.org.\r\n"
            "\r\n"
            "Your message could not be delivered to one or more recipients.\r\n"
            "The mail system has given up on them; the details follow.\r\n"
            "\r\n"
            "<bob@example.org>: delivery failed (5.1.1)\r\n"
            "    Remote host: mx2.example.org\r\n"
            "    Said: smtp; 550 5.1.1 no such user\r\n"
            "\r\n"
            "\r\n"
            "--tern-Q1A2B3.00000000\r\n"
            "Content-Type: message/delivery-status\r\n"
            "Content-Description: Delivery report\r\n"
            "\r\n"
            "Reporting-MTA: dns; mx.example.org\r\n"
            "Arrival-Date: Sat, 21 Nov 2026 12:04:05 +0000\r\n"
            "\r\n"
            "Final-Recipient: rfc822; bob@example.org\r\n"
            "Action: failed\r\n"
            "Status: 5.1.1\r\n"
            "Remote-MTA: dns; mx2.example.org\r\n"
            "Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n"
            "Last-Attempt-Date: Sat, 21 Nov 2026 12:05:00 +0000\r\n"
            "\r\n"
            "--tern-Q1A2B3.00000000\r\n"
            "Content-Type: text/rfc822-headers\r\n"
            "Content-Description: Returned message headers\r\n"
            "\r\n"
            "From: ann@example.com\r\n"
            "To: bob@example.org\r\n"
            "Subject: hi\r\n"
            "\r\n"
            "--tern-Q1A2B3.00000000--\r\n");
}

TEST(BuildDsn, SameInputSameOutput) {
  EXPECT_EQ(build(input()), build(input()));
}

TEST(BuildDsn, DelayFields) {
  auto in = input();
  in.recipients[0].action = Action::delayed;
  in.recipients[0].status = "4.4.1";
  in.recipients[0].diagnostic_code = "smtp; 451 4.4.1 try later";
  in.recipients[0].will_retry_until_unix = 1795694645;
  const std::string m = build(in);
  EXPECT_TRUE(contains(m, "\r\nSubject: Delayed Mail (still being retried)\r\n"));
  EXPECT_TRUE(contains(m, "\r\nAction: delayed\r\nStatus: 4.4.1\r\n"));
  EXPECT_TRUE(contains(m, "\r\nWill-Retry-Until: Thu, 26 Nov 2026 12:04:05 +0000\r\n"));
  EXPECT_TRUE(contains(m, "<bob@example.org>: delivery delayed, still trying (4.4.1)\r\n"));
  EXPECT_TRUE(contains(m, "    Will retry until Thu, 26 Nov 2026 12:04:05 +0000\r\n"));
  EXPECT_TRUE(contains(m, "The mail system is still trying; you need not send it again.\r\n"));
  expect_well_formed(m);
}

TEST(BuildDsn, WillRetryUntilOnlyForDelayed) {
  auto in = input();
  in.recipients[0].will_retry_until_unix = 1795694645;
  EXPECT_FALSE(contains(build(in), "Will-Retry-Until"));
}

TEST(BuildDsn, MixedFailureAndDelayIsAFailureReport) {
  auto in = input();
  auto second = bob();
  second.final_recipient = "carl@example.org";
  second.action = Action::delayed;
  second.status = "4.2.2";
  in.recipients.push_back(second);
  const std::string m = build(in);
  EXPECT_TRUE(contains(m, "Subject: Undelivered Mail Returned to Sender\r\n"));
  EXPECT_EQ(count_lines_starting(m, "Final-Recipient: "), 2u);
  EXPECT_TRUE(contains(m, "Final-Recipient: rfc822; carl@example.org\r\nAction: delayed\r\n"));
}

TEST(BuildDsn, SuccessReport) {
  auto in = input();
  in.recipients[0].action = Action::delivered;
  in.recipients[0].status = "2.0.0";
  in.recipients[0].diagnostic_code.reset();
  const std::string m = build(in);
  EXPECT_TRUE(contains(m, "\r\nSubject: Successful Mail Delivery Report\r\n"));
  EXPECT_TRUE(
      contains(m,
               "\r\nAction: delivered\r\nStatus: 2.0.0\r\nRemote-MTA: dns; mx2.example.org\r\n"
               "Last-Attempt-Date: "));
  EXPECT_TRUE(contains(m, "Your message was delivered to the recipients below.\r\n"));
  EXPECT_FALSE(contains(m, "Diagnostic-Code"));
  for (auto a : {Action::relayed, Action::expanded}) {
    in.recipients[0].action = a;
    EXPECT_TRUE(contains(build(in), "Subject: Successful Mail Delivery Report\r\n"));
  }
  in.recipients[0].action = Action::relayed;
  EXPECT_TRUE(contains(build(in), "\r\nAction: relayed\r\n"));
}

TEST(BuildDsn, RetFullReturnsWholeMessage) {
  auto in = input();
  in.ret = Ret::full;
  const std::string m = build(in);
  EXPECT_TRUE(
      contains(m, "Content-Type: message/rfc822\r\nContent-Description: Returned message\r\n\r\n" +
                      kOriginal + "\r\n--tern-Q1A2B3.00000000--\r\n"));
  EXPECT_FALSE(contains(m, "text/rfc822-headers"));
}

TEST(BuildDsn, RetHdrsAndAbsentReturnHeadersOnly) {
  for (Ret ret : {Ret::hdrs, Ret::absent}) {
    auto in = input();
    in.ret = ret;
    const std::string m = build(in);
    EXPECT_TRUE(contains(m, "Content-Type: text/rfc822-headers\r\n"));
    EXPECT_FALSE(contains(m, "message/rfc822"));
    EXPECT_FALSE(contains(m, "hello"));
  }
}

TEST(BuildDsn, FullMessageLimitAtNAndNPlusOne) {
  auto in = input();
  in.ret = Ret::full;
  in.returned_bytes_max = kOriginal.size();
  auto at = build_dsn(in);
  ASSERT_TRUE(at.has_value());
  EXPECT_TRUE(contains(at->message, "message/rfc822"));
  EXPECT_FALSE(at->content_cut);
  EXPECT_FALSE(contains(at->message, "only its headers"));

  in.returned_bytes_max = kOriginal.size() - 1;
  auto over = build_dsn(in);
  ASSERT_TRUE(over.has_value());
  EXPECT_TRUE(over->content_cut);
  EXPECT_TRUE(contains(over->message, "Content-Type: text/rfc822-headers\r\n"));
  EXPECT_FALSE(contains(over->message, "hello"));
  EXPECT_TRUE(
      contains(over->message,
               "The message was larger than 65 bytes, so only its headers are returned.\r\n"));
}

TEST(BuildDsn, HeaderSectionCutAtNAndNPlusOne) {
  auto in = input();
  const std::size_t headers =
      std::string("From: ann@example.com\r\nTo: bob@example.org\r\nSubject: hi\r\n").size();
  in.returned_bytes_max = headers;
  auto at = build_dsn(in);
  ASSERT_TRUE(at.has_value());
  EXPECT_FALSE(at->content_cut);
  EXPECT_TRUE(contains(at->message, "\r\nSubject: hi\r\n\r\n--tern"));

  in.returned_bytes_max = headers - 1;
  auto over = build_dsn(in);
  ASSERT_TRUE(over.has_value());
  EXPECT_TRUE(over->content_cut);
  EXPECT_FALSE(contains(over->message, "Subject: hi"));
  EXPECT_TRUE(contains(over->message,
                       "\r\n\r\nFrom: ann@example.com\r\nTo: bob@example.org\r\n\r\n--tern"));
  EXPECT_TRUE(
      contains(over->message, "Its headers were longer than 56 bytes and are returned cut.\r\n"));
}

TEST(BuildDsn, EnvidPresentAndAbsent) {
  auto in = input();
  EXPECT_FALSE(contains(build(in), "Original-Envelope-Id"));
  in.envid = "QQ314159";
  EXPECT_TRUE(contains(build(in),
                       "\r\nReporting-MTA: dns; mx.example.org\r\n"
                       "Original-Envelope-Id: QQ314159\r\nArrival-Date: "));
}

TEST(BuildDsn, OrcptPresentAndAbsent) {
  auto in = input();
  EXPECT_FALSE(contains(build(in), "Original-Recipient"));
  in.recipients[0].original_recipient = OriginalRecipient{"rfc822", "Bob@Example.org"};
  EXPECT_TRUE(contains(build(in),
                       "\r\n\r\nOriginal-Recipient: rfc822;Bob@Example.org\r\n"
                       "Final-Recipient: rfc822; bob@example.org\r\n"));
}

TEST(BuildDsn, NullSenderRefused) {
  for (const char* sender : {"", "<>"}) {
    auto in = input();
    in.envelope_sender = sender;
    auto d = build_dsn(in);
    ASSERT_FALSE(d.has_value()) << sender;
    EXPECT_EQ(d.error().message, "no DSN to the null reverse-path");
  }
  auto in = input();
  in.envelope_sender = "<ann@example.com>";
  EXPECT_TRUE(contains(build(in), "\r\nTo: <ann@example.com>\r\n"));
}

TEST(BuildDsn, InvalidInputsRefused) {
  auto in = input();
  in.recipients.clear();
  EXPECT_EQ(build_dsn(in).error().message, "no recipients");
  for (const char* bad :
       {"5.1", "6.1.1", "5.1.1x", "5.1234.1", "5..1", "5.1.", " 5.1.1", "5.1.1\r\n"}) {
    in = input();
    in.recipients.push_back(bob());
    in.recipients[1].status = bad;
    auto d = build_dsn(in);
    ASSERT_FALSE(d.has_value()) << bad;
    EXPECT_EQ(d.error().offset, 1u);
  }
  for (const char* good : {"2.0.0", "4.4.7", "5.123.123"}) {
    in = input();
    in.recipients[0].status = good;
    EXPECT_TRUE(build_dsn(in).has_value()) << good;
  }
  in = input();
  in.recipients[0].final_recipient = "\r\n ";
  EXPECT_EQ(build_dsn(in).error().message, "empty final recipient");
  in = input();
  in.seed = "!!";
  EXPECT_EQ(build_dsn(in).error().message, "empty seed");
  in = input();
  in.reporting_mta = "\r\n";
  EXPECT_EQ(build_dsn(in).error().message, "empty reporting MTA");
  in = input();
  in.message_id_domain = "";
  EXPECT_EQ(build_dsn(in).error().message, "empty message-id domain");
}

TEST(BuildDsn, RecipientLimitAtNAndNPlusOne) {
  auto in = input();
  in.recipients_max = 3;
  in.recipients.assign(3, bob());
  EXPECT_TRUE(build_dsn(in).has_value());
  in.recipients.assign(4, bob());
  EXPECT_EQ(build_dsn(in).error().message, "too many recipients");
}

TEST(BuildDsn, LongDiagnosticStaysUnder998) {
  auto in = input();
  std::string word(3000, 'x');
  in.recipients[0].diagnostic_code = "smtp; 550 " + word + " " + std::string(200, 'y') + " end";
  const std::string m = build(in);
  expect_well_formed(m);
  // Under the 4000-byte cut the whole word survives, broken over continuation lines.
  const auto ls = lines(m);
  auto it = std::find_if(ls.begin(), ls.end(),
                         [](const std::string& l) { return l.starts_with("Diagnostic-Code:"); });
  ASSERT_NE(it, ls.end());
  std::string unfolded = *it;
  for (++it; it != ls.end() && it->starts_with(" "); ++it) unfolded += *it;
  EXPECT_EQ(unfolded, "Diagnostic-Code: smtp; 550 " + std::string(997, 'x') + " " +
                          std::string(997, 'x') + " " + std::string(997, 'x') + " xxxxxxxxx " +
                          std::string(200, 'y') + " end");
  EXPECT_TRUE(contains(m, " end\r\nLast-Attempt-Date:"));
}

TEST(BuildDsn, DiagnosticWithoutTypeGetsSmtp) {
  auto in = input();
  in.recipients[0].diagnostic_code = "550 5.1.1 no such user";
  EXPECT_TRUE(contains(build(in), "\r\nDiagnostic-Code: smtp; 550 5.1.1 no such user\r\n"));
  in.recipients[0].diagnostic_code = "\r\n";
  EXPECT_FALSE(contains(build(in), "Diagnostic-Code"));
}

TEST(BuildDsn, InjectionIsNeutralised) {
  auto in = input();
  in.recipients[0].diagnostic_code = "smtp; 550 no\r\nAction: delivered\r\n\r\nBcc: x@y";
  in.recipients[0].final_recipient = "bob@example.org\r\nStatus: 2.0.0";
  in.recipients[0].remote_mta = "mx\nReporting-MTA: dns; evil";
  in.envelope_sender = "ann@example.com>\r\nBcc: evil@example.net";
  in.envid = "E1\rX-Evil: 1";
  in.seed = "Q1\r\nBcc: z";
  const std::string m = build(in);
  expect_well_formed(m);
  EXPECT_EQ(count_lines_starting(m, "Action:"), 1u);
  EXPECT_EQ(count_lines_starting(m, "Status:"), 1u);
  EXPECT_EQ(count_lines_starting(m, "Reporting-MTA:"), 1u);
  EXPECT_EQ(count_lines_starting(m, "Bcc:"), 0u);
  EXPECT_EQ(count_lines_starting(m, "X-Evil:"), 0u);
  EXPECT_TRUE(contains(m, "\r\nTo: <ann@example.com? Bcc: evil@example.net>\r\n"));
  EXPECT_TRUE(contains(m, "\r\nDiagnostic-Code: smtp; 550 no Action: delivered Bcc: x@y\r\n"));
  EXPECT_TRUE(contains(m, "\r\nFinal-Recipient: rfc822; bob@example.org Status: 2.0.0\r\n"));
  EXPECT_TRUE(contains(m, "\r\nMessage-ID: <Q1Bccz.dsn@example.org>\r\n"));
}

TEST(BuildDsn, BoundaryAvoidsCollisions) {
  auto in = input();
  const std::string original =
      "Subject: --tern-Q1A2B3.00000000 and tern-Q1A2B3.00000001\r\n\r\nbody\r\n";
  in.original_message = original;
  const std::string m = build(in);
  EXPECT_TRUE(contains(m, "boundary=\"tern-Q1A2B3.00000002\""));
  EXPECT_EQ(count_lines_starting(m, "--tern-Q1A2B3.00000002"), 4u);
}

TEST(BuildDsn, OriginalIsNormalised) {
  auto in = input();
  in.ret = Ret::full;
  const std::string original =
      "Subject: " + std::string(1500, 'h') + "\nX: y\r\rbody " + std::string(2000, 'b') + "\n";
  in.original_message = original;
  const std::string m = build(in);
  expect_well_formed(m);
  // The long header line is folded (continues with a space), the body line broken.
  EXPECT_TRUE(contains(m, "\r\n " + std::string(511, 'h') + "\r\nX: y\r\n\r\nbody "));
  EXPECT_TRUE(contains(m, "\r\nbody " + std::string(993, 'b') + "\r\n" + std::string(998, 'b') +
                              "\r\n" + std::string(9, 'b') + "\r\n\r\n--tern"));
}

TEST(BuildDsn, EightBitIsReported) {
  auto in = input();
  EXPECT_FALSE(build_dsn(in)->eight_bit);
  in.recipients[0].final_recipient = "b\xC3\xB6@example.org";
  auto d = build_dsn(in);
  ASSERT_TRUE(d.has_value());
  EXPECT_TRUE(d->eight_bit);
  EXPECT_TRUE(contains(d->message, "\r\nContent-Transfer-Encoding: 8bit\r\n"));
}

TEST(NotifyWants, Matrix) {
  struct Row {
    const char* params;
    bool failed, delayed, success;
  };
  const Row rows[] = {
      {"", true, true, false},
      {"ORCPT=rfc822;a@b", true, true, false},
      {"NOTIFY=NEVER", false, false, false},
      {"NOTIFY=never", false, false, false},
      {"NOTIFY=SUCCESS", false, false, true},
      {"NOTIFY=FAILURE", true, false, false},
      {"NOTIFY=DELAY", false, true, false},
      {"NOTIFY=FAILURE,DELAY ORCPT=rfc822;a@b", true, true, false},
      {"ORCPT=rfc822;a@b notify=success,failure", true, false, true},
      {"NOTIFY=SUCCESS,FAILURE,DELAY", true, true, true},
      {"NOTIFY=NEVER,SUCCESS", true, true, false},  // malformed: default
      {"NOTIFY=", true, true, false},
      {"NOTIFY=FAILURE,", true, true, false},
      {"NOTIFY=BOGUS", true, true, false},
      {"XNOTIFY=NEVER", true, true, false},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(notify_wants(r.params, Action::failed), r.failed) << r.params;
    EXPECT_EQ(notify_wants(r.params, Action::delayed), r.delayed) << r.params;
    EXPECT_EQ(notify_wants(r.params, Action::delivered), r.success) << r.params;
    EXPECT_EQ(notify_wants(r.params, Action::relayed), r.success) << r.params;
    EXPECT_EQ(notify_wants(r.params, Action::expanded), r.success) << r.params;
  }
}

TEST(Xtext, Decodes) {
  EXPECT_EQ(xtext_decode("").value(), "");
  EXPECT_EQ(xtext_decode("a+2Bb@c").value(), "a+b@c");
  EXPECT_EQ(xtext_decode("+3D+20+7E").value(), "= ~");
  EXPECT_EQ(xtext_decode("+0D+0A").value(), "\r\n");
  EXPECT_EQ(xtext_decode("!~").value(), "!~");
}

TEST(Xtext, RejectsMalformed) {
  struct Row {
    const char* text;
    std::size_t offset;
  };
  const Row rows[] = {{"+", 0},   {"a+2", 1},   {"a+2b", 1}, {"+G0", 0}, {"ab=c", 2},
                      {"a b", 1}, {"a\x7F", 1}, {"\x80", 0}, {"+-1", 0}};
  for (const Row& r : rows) {
    auto d = xtext_decode(r.text);
    ASSERT_FALSE(d.has_value()) << r.text;
    EXPECT_EQ(d.error().offset, r.offset) << r.text;
  }
}

TEST(Orcpt, Extracts) {
  EXPECT_EQ(orcpt_of("").value(), std::nullopt);
  EXPECT_EQ(orcpt_of("NOTIFY=NEVER").value(), std::nullopt);
  EXPECT_EQ(orcpt_of("NOTIFY=NEVER ORCPT=rfc822;a+40b@c").value(),
            (OriginalRecipient{"rfc822", "a@b@c"}));
  EXPECT_EQ(orcpt_of("orcpt=utf-8;j+2Bk@x").value(), (OriginalRecipient{"utf-8", "j+k@x"}));
}

TEST(Orcpt, RejectsMalformed) {
  for (const char* bad : {"ORCPT=", "ORCPT=rfc822", "ORCPT=;a@b", "ORCPT=rfc(822;a@b",
                          "ORCPT=rfc822;", "ORCPT=rfc822;a+4", "ORCPT=rfc822;a=b"}) {
    EXPECT_FALSE(orcpt_of(bad).has_value()) << bad;
  }
}

TEST(Orcpt, LengthLimitAtNAndNPlusOne) {
  const std::string at = "ORCPT=rfc822;" + std::string(500 - 7, 'a');
  EXPECT_TRUE(orcpt_of(at).has_value());
  const std::string over = "ORCPT=rfc822;" + std::string(501 - 7, 'a');
  EXPECT_EQ(orcpt_of(over).error().message, "ORCPT longer than 500 bytes");
}

}  // namespace
}  // namespace tern::protocol::mail
