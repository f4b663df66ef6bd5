#include "protocol/smtp/server_session.hpp"

#include <gtest/gtest.h>

#include "protocol/smtp/tests/server_harness.hpp"

namespace tern::protocol::smtp {
namespace {

using testing::Harness;
using Lines = std::vector<std::string>;

ServerConfig smtp_config() {
  ServerConfig c;
  c.hostname = "mx.example.org";
  c.message_bytes_max = 1000;
  return c;
}

TEST(ServerSession, GreetsAndAdvertisesExtensions) {
  Harness h(smtp_config());
  h.run("EHLO client.example.com\r\n");
  EXPECT_EQ(h.lines(),
            (Lines{"220 mx.example.org ESMTP Tern", "250-mx.example.org", "250-PIPELINING",
                   "250-SIZE 1000", "250-8BITMIME", "250-BINARYMIME", "250-CHUNKING",
                   "250-SMTPUTF8", "250-ENHANCEDSTATUSCODES", "250-DSN", "250 HELP"}));
}

TEST(ServerSession, StartTlsAndAuthAreOfferedOnlyWhenTheyCanBeUsed) {
  ServerConfig c = smtp_config();
  c.tls_available = true;
  c.auth_mechanisms = {"PLAIN", "LOGIN"};
  Harness h(c);
  h.run("EHLO a\r\n");
  auto lines = h.lines();
  EXPECT_NE(std::find(lines.begin(), lines.end(), "250-STARTTLS"), lines.end());
  EXPECT_EQ(std::find(lines.begin(), lines.end(), "250-AUTH PLAIN LOGIN"),
            lines.end());  // not before TLS
  c.tls_active = true;
  c.extensions.requiretls = true;  // off by default: the engine cannot honour it yet
  Harness tls(c);
  tls.run("EHLO a\r\n");
  lines = tls.lines();
  EXPECT_EQ(std::find(lines.begin(), lines.end(), "250-STARTTLS"), lines.end());
  EXPECT_NE(std::find(lines.begin(), lines.end(), "250-AUTH PLAIN LOGIN"), lines.end());
  EXPECT_NE(std::find(lines.begin(), lines.end(), "250-REQUIRETLS"), lines.end());
}

// RFC 5321 Appendix D.1, the typical SMTP transaction scenario (with our reply texts).
TEST(ServerSession, Rfc5321AppendixD1) {
  Harness h(smtp_config());
  h.policy = [](const ServerEvent& e) -> ServerDecision {
    if (const auto* r = std::get_if<RcptEvent>(&e)) {
      if (r->command.path.path->mailbox.local_part == "Green") {
        return Reject{Reply{550, EnhancedStatus{5, 1, 1}, {"No such user here"}}};
      }
    }
    return testing::accept_all(e);
  };
  h.run("EHLO bar.com\r\nMAIL FROM:<Smith@bar.com>\r\n");
  h.output.clear();
  h.run(
      "RCPT TO:<Jones@foo.com>\r\nRCPT TO:<Green@foo.com>\r\nRCPT TO:<Brown@foo.com>\r\nDATA\r\n"
      "Blah blah blah...\r\n...etc. etc. etc.\r\n.\r\nQUIT\r\n");
  EXPECT_EQ(h.lines(),
            (Lines{"250 2.1.5 Recipient OK", "550 5.1.1 No such user here",
                   "250 2.1.5 Recipient OK", "354 Start mail input; end with <CRLF>.<CRLF>",
                   "250 2.0.0 Message accepted", "221 2.0.0 mx.example.org closing connection"}));
  EXPECT_EQ(h.body, "Blah blah blah...\r\n..etc. etc. etc.\r\n");
  EXPECT_EQ(h.messages, 1u);
  EXPECT_TRUE(h.session.is_closed());
}

TEST(ServerSession, PipelinedRepliesStayInOrderWhateverTheSplit) {
  const std::string input =
      "EHLO a\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nRCPT TO:<bad@y.z>\r\nDATA\r\nhi\r\n.\r\n"
      "NOOP\r\nQUIT\r\n";
  auto policy = [](const ServerEvent& e) -> ServerDecision {
    if (const auto* r = std::get_if<RcptEvent>(&e);
        r && r->command.path.path->mailbox.local_part == "bad") {
      return Reject{Reply{550, EnhancedStatus{5, 1, 1}, {"unknown"}}};
    }
    return testing::accept_all(e);
  };
  Harness whole(smtp_config());
  whole.policy = policy;
  whole.run(input);
  for (std::size_t chunk : {1u, 2u, 3u, 7u}) {
    Harness split(smtp_config());
    split.policy = policy;
    split.run(input, chunk);
    EXPECT_EQ(split.output, whole.output) << chunk;
    EXPECT_EQ(split.body, whole.body) << chunk;
  }
  EXPECT_EQ(whole.lines().back(), "221 2.0.0 mx.example.org closing connection");
}

TEST(ServerSession, SequenceErrors) {
  Harness h(smtp_config());
  h.run(
      "MAIL FROM:<a@b.c>\r\nEHLO a\r\nRCPT TO:<x@y.z>\r\nDATA\r\nMAIL FROM:<a@b.c>\r\n"
      "MAIL FROM:<a@b.c>\r\nDATA\r\n");
  EXPECT_EQ(h.lines(),
            (Lines{"220 mx.example.org ESMTP Tern", "503 5.5.1 Send EHLO first",
                   "250-mx.example.org", "250-PIPELINING", "250-SIZE 1000", "250-8BITMIME",
                   "250-BINARYMIME", "250-CHUNKING", "250-SMTPUTF8", "250-ENHANCEDSTATUSCODES",
                   "250-DSN", "250 HELP", "503 5.5.1 Need MAIL before RCPT",
                   "503 5.5.1 Need MAIL before DATA", "250 2.1.0 Sender OK",
                   "503 5.5.1 Nested MAIL command", "503 5.5.1 Need RCPT before DATA"}));
}

TEST(ServerSession, AllRecipientsRejectedThenDataIs554) {
  Harness h(smtp_config());
  h.policy = [](const ServerEvent& e) -> ServerDecision {
    if (std::holds_alternative<RcptEvent>(e))
      return Reject{Reply{550, EnhancedStatus{5, 1, 1}, {"no"}}};
    return testing::accept_all(e);
  };
  h.run("EHLO a\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nDATA\r\n");
  EXPECT_EQ(h.lines().back(), "554 5.5.1 No valid recipients");
}

TEST(ServerSession, TooManyErrorsCloses) {
  ServerConfig c = smtp_config();
  c.errors_max = 3;
  Harness h(c);
  const std::string rest = h.run("FOO\r\nBAR\r\nBAZ\r\nEHLO a\r\n");
  EXPECT_EQ(h.lines(), (Lines{"220 mx.example.org ESMTP Tern", "500 5.5.1 command unrecognized",
                              "500 5.5.1 command unrecognized", "500 5.5.1 command unrecognized",
                              "421 4.7.0 mx.example.org Too many errors, closing connection"}));
  EXPECT_EQ(rest, "EHLO a\r\n");
  EXPECT_TRUE(h.session.is_closed());
}

TEST(ServerSession, JunkCommandsAreCountedBetweenMessages) {
  ServerConfig c = smtp_config();
  c.junk_commands_max = 2;
  Harness h(c);
  std::string message = "MAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nDATA\r\nhi\r\n.\r\n";
  h.run("EHLO a\r\nRSET\r\nNOOP\r\n" + message + "RSET\r\nNOOP\r\n" + message);
  EXPECT_EQ(h.messages, 2u);
  EXPECT_FALSE(h.session.is_closed());
  h.run("NOOP\r\nNOOP\r\nNOOP\r\n");
  EXPECT_EQ(h.lines().back(), "421 4.7.0 mx.example.org Too many errors, closing connection");
}

TEST(ServerSession, CommandLineLimitAtNAndNPlusOne) {
  // 512 octets with CRLF is the RFC limit: "NOOP " + 505 characters + CRLF = 512.
  Harness h(smtp_config());
  h.run("NOOP " + std::string(505, 'x') + "\r\n");
  EXPECT_EQ(h.lines().back(), "250 2.0.0 OK");
  h.run("NOOP " + std::string(506, 'x') + "\r\nNOOP\r\n");
  auto lines = h.lines();
  EXPECT_EQ(lines[lines.size() - 2], "500 5.5.2 Line too long");
  EXPECT_EQ(lines.back(), "250 2.0.0 OK");
}

TEST(ServerSession, BareLfEndsNoCommandByDefault) {
  Harness h(smtp_config());
  h.run("NOOP\nNOOP\r\n");
  EXPECT_EQ(h.lines(),
            (Lines{"220 mx.example.org ESMTP Tern",
                   "500 5.5.2 Bare LF in command line; lines end with CRLF", "250 2.0.0 OK"}));
  ServerConfig lenient = smtp_config();
  lenient.allow_bare_lf_in_commands = true;
  Harness l(lenient);
  l.run("NOOP\n");
  EXPECT_EQ(l.lines().back(), "250 2.0.0 OK");
}

// SMTP smuggling against the whole session: the forged second message is body of the first,
// which is refused, and only one message question is ever asked... none here.
TEST(ServerSession, SmugglingCannotInjectASecondMessage) {
  for (const char* sequence : {"\n.\n", "\n.\r\n", "\r.\r\n", "\r\n.\n", "\r\n.\r\r\n"}) {
    Harness h(smtp_config());
    h.run(std::string("EHLO a\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nDATA\r\nbody") + sequence +
          "MAIL FROM:<evil@b.c>\r\nRCPT TO:<victim@y.z>\r\nDATA\r\nforged\r\n.\r\nNOOP\r\n");
    EXPECT_EQ(h.messages, 0u) << "a message was accepted for sequence " << sequence;
    auto lines = h.lines();
    ASSERT_GE(lines.size(), 2u);
    EXPECT_EQ(lines[lines.size() - 2].substr(0, 10), "550 5.5.2 ");
    EXPECT_EQ(lines.back(), "250 2.0.0 OK");
  }
}

TEST(ServerSession, StartTlsDiscardsPipelinedBytesAndForgetsTheSession) {
  ServerConfig c = smtp_config();
  c.tls_available = true;
  Harness h(c);
  h.run("EHLO a\r\nSTARTTLS\r\nMAIL FROM:<injected@evil>\r\n");
  EXPECT_EQ(h.lines().back(), "220 2.0.0 Ready to start TLS");
  EXPECT_FALSE(h.session.wants_read());
  h.run("RCPT TO:<also@evil>\r\n");  // still before the handshake: dropped
  ASSERT_FALSE(h.session.on_tls_established(h.now));
  EXPECT_TRUE(h.session.tls_active());
  h.output.clear();
  h.run("MAIL FROM:<a@b.c>\r\nEHLO a\r\n");
  auto lines = h.lines();
  EXPECT_EQ(lines.front(), "503 5.5.1 Send EHLO first");
  EXPECT_EQ(std::find(lines.begin(), lines.end(), "250-STARTTLS"), lines.end());
  for (const auto& e : h.events) EXPECT_FALSE(std::holds_alternative<MailEvent>(e));
  EXPECT_EQ(h.session.on_tls_established(h.now), server_errc::not_awaiting_tls);
}

TEST(ServerSession, AuthPlainWithInitialResponse) {
  ServerConfig c = smtp_config();
  c.tls_active = true;
  c.auth_mechanisms = {"PLAIN", "LOGIN"};
  c.auth_required = true;
  Harness h(c);
  h.run("EHLO a\r\nMAIL FROM:<a@b.c>\r\nAUTH PLAIN AHVzZXIAcGFzcw==\r\nMAIL FROM:<a@b.c>\r\n");
  auto lines = h.lines();
  EXPECT_EQ(lines[lines.size() - 3], "530 5.7.0 Authentication required");
  EXPECT_EQ(lines[lines.size() - 2], "235 2.7.0 Authentication successful");
  EXPECT_EQ(lines.back(), "250 2.1.0 Sender OK");
  EXPECT_TRUE(h.session.authenticated());
  h.run("AUTH PLAIN AHVzZXIAcGFzcw==\r\n");
  EXPECT_EQ(h.lines().back(), "503 5.5.1 Already authenticated");
}

TEST(ServerSession, AuthWithChallengesCancelAndFailures) {
  ServerConfig c = smtp_config();
  c.tls_active = true;
  c.auth_mechanisms = {"PLAIN"};
  c.auth_failures_max = 2;
  Harness h(c);
  h.run(
      "EHLO a\r\nAUTH PLAIN\r\n*\r\nAUTH PLAIN\r\n!!!\r\nAUTH PLAIN\r\nAHVzZXIAd3Jvbmc=\r\n"
      "AUTH PLAIN AHVzZXIAd3Jvbmc=\r\nNOOP\r\n");
  auto lines = h.lines();
  const Lines tail(lines.end() - 8, lines.end());
  EXPECT_EQ(
      tail,
      (Lines{"334 ", "501 5.0.0 Authentication cancelled", "334 ",
             "501 5.5.2 Invalid authentication data: base64 length is not a multiple of 4", "334 ",
             "535 5.7.8 Authentication credentials invalid",
             "535 5.7.8 Authentication credentials invalid",
             "421 4.7.0 mx.example.org Too many authentication failures, closing connection"}));
}

TEST(ServerSession, AuthRefusedWithoutTlsWhenTlsIsRequired) {
  ServerConfig c = smtp_config();
  c.auth_mechanisms = {"PLAIN"};
  Harness h(c);
  h.run("EHLO a\r\nAUTH PLAIN AHVzZXIAcGFzcw==\r\nAUTH CRAM-MD5\r\n");
  auto lines = h.lines();
  EXPECT_EQ(lines[lines.size() - 2],
            "538 5.7.11 Encryption required for requested authentication mechanism");
  c.tls_active = true;
  Harness t(c);
  t.run("EHLO a\r\nAUTH CRAM-MD5\r\n");
  EXPECT_EQ(t.lines().back(), "504 5.5.4 Unrecognized authentication type");
}

TEST(ServerSession, LmtpGivesOneReplyPerAcceptedRecipient) {
  ServerConfig c = smtp_config();
  c.mode = ServerMode::lmtp;
  Harness h(c);
  h.policy = [](const ServerEvent& e) -> ServerDecision {
    if (const auto* r = std::get_if<RcptEvent>(&e);
        r && r->command.path.path->mailbox.local_part == "bad") {
      return Reject{Reply{550, EnhancedStatus{5, 1, 1}, {"unknown"}}};
    }
    if (const auto* m = std::get_if<MessageEvent>(&e)) {
      EXPECT_EQ(m->recipients, 2u);
      return PerRecipient{{Reply{250, EnhancedStatus{2, 0, 0}, {"delivered to a"}},
                           Reply{452, EnhancedStatus{4, 2, 2}, {"mailbox full"}}}};
    }
    return testing::accept_all(e);
  };
  h.run(
      "EHLO a\r\nLHLO a\r\nMAIL FROM:<s@b.c>\r\nRCPT TO:<a@y.z>\r\nRCPT TO:<bad@y.z>\r\n"
      "RCPT TO:<b@y.z>\r\nDATA\r\nhi\r\n.\r\n");
  auto lines = h.lines();
  EXPECT_EQ(lines[0], "220 mx.example.org LMTP Tern");
  EXPECT_EQ(lines[1], "500 5.5.1 command unrecognized");  // EHLO is not LMTP
  const Lines tail(lines.end() - 3, lines.end());
  EXPECT_EQ(tail, (Lines{"354 Start mail input; end with <CRLF>.<CRLF>", "250 2.0.0 delivered to a",
                         "452 4.2.2 mailbox full"}));
}

TEST(ServerSession, LmtpBodyViolationRepliesForEveryRecipient) {
  ServerConfig c = smtp_config();
  c.mode = ServerMode::lmtp;
  Harness h(c);
  h.run(
      "LHLO a\r\nMAIL FROM:<s@b.c>\r\nRCPT TO:<a@y.z>\r\nRCPT TO:<b@y.z>\r\nDATA\r\na\nb\r\n.\r\n");
  auto lines = h.lines();
  EXPECT_EQ(lines[lines.size() - 1].substr(0, 10), "550 5.5.2 ");
  EXPECT_EQ(lines[lines.size() - 2].substr(0, 10), "550 5.5.2 ");
  EXPECT_EQ(lines[lines.size() - 3].substr(0, 4), "354 ");
}

TEST(ServerSession, BdatChunksAndLast) {
  Harness h(smtp_config());
  h.run(
      "EHLO a\r\nMAIL FROM:<a@b.c> BODY=BINARYMIME\r\nRCPT TO:<x@y.z>\r\nDATA\r\n"
      "BDAT 5\r\nab\r\ncBDAT 3 LAST\r\nxyzNOOP\r\n");
  auto lines = h.lines();
  const Lines tail(lines.end() - 4, lines.end());
  EXPECT_EQ(tail, (Lines{"503 5.5.1 BODY=BINARYMIME requires BDAT", "250 2.0.0 5 octets received",
                         "250 2.0.0 Message accepted", "250 2.0.0 OK"}));
  EXPECT_EQ(h.body, "ab\r\ncxyz");
}

TEST(ServerSession, RefusedBdatStillConsumesItsChunk) {
  Harness h(smtp_config());
  h.run("EHLO a\r\nBDAT 6\r\nNOOP\r\nNOOP\r\n");
  auto lines = h.lines();
  EXPECT_EQ(lines[lines.size() - 2], "503 5.5.1 Need MAIL before BDAT");
  EXPECT_EQ(lines.back(), "250 2.0.0 OK");  // the chunk "NOOP\r\n" was not read as a command
}

TEST(ServerSession, SizeLimits) {
  Harness h(smtp_config());  // 1000 octets
  h.run(
      "EHLO a\r\nMAIL FROM:<a@b.c> SIZE=1001\r\nMAIL FROM:<a@b.c> SIZE=1000\r\nRCPT TO:<x@y.z>\r\n"
      "DATA\r\n" +
      std::string(998, 'x') + "\r\n.\r\n");
  auto lines = h.lines();
  EXPECT_EQ(lines[lines.size() - 5], "552 5.3.4 Message size exceeds fixed maximum message size");
  EXPECT_EQ(lines.back(), "250 2.0.0 Message accepted");  // 998 + CRLF = 1000
  h.run("MAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nDATA\r\n" + std::string(500, 'x') + "\r\n" +
        std::string(498, 'x') + "\r\n.\r\n");
  EXPECT_EQ(h.lines().back(), "552 5.3.4 Message size exceeds fixed maximum message size");
  EXPECT_EQ(h.messages, 1u);
}

// A BDAT that would take the message past the limit is 552, its chunk is read and dropped,
// and the body of the earlier chunks is aborted at once so the application can drop it
// (issue 16: it stayed in the spool's temp file until the session ended). At N: accepted.
TEST(ServerSession, AnOversizeBdatAbortsTheBodyOfEarlierChunks) {
  Harness h(smtp_config());  // 1000 octets
  h.run("EHLO a\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nBDAT 600\r\n" + std::string(600, 'x'));
  const auto before = h.events.size();
  h.run("BDAT 401 LAST\r\n" + std::string(401, 'y'));
  EXPECT_EQ(h.lines().back(), "552 5.3.4 Message size exceeds fixed maximum message size");
  std::size_t aborted = 0;
  for (std::size_t i = before; i < h.events.size(); ++i) {
    if (const auto* a = std::get_if<MessageAbortedEvent>(&h.events[i])) {
      EXPECT_EQ(a->reason, AbortReason::too_large);
      ++aborted;
    }
  }
  EXPECT_EQ(aborted, 1u);
  h.run("RSET\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nBDAT 600\r\n" + std::string(600, 'x') +
        "BDAT 400 LAST\r\n" + std::string(400, 'y'));
  EXPECT_EQ(h.lines().back(), "250 2.0.0 Message accepted");
  EXPECT_EQ(h.messages, 1u);
}

// A text BDAT body may be relayed over DATA later: a line of 1000 octets (CRLF included) is
// accepted, 1001 is refused with the chunk, and the transaction fails (issue 16: a 5,000-octet
// BDAT line was relayed over DATA unchanged). BODY=BINARYMIME bodies are binary: no limit.
TEST(ServerSession, TextBdatLinesAtNAndNPlusOne) {
  ServerConfig c = smtp_config();
  c.message_bytes_max = 0;
  Harness h(c);
  h.run("EHLO a\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nBDAT 1000 LAST\r\n" +
        std::string(998, 'x') + "\r\n");
  EXPECT_EQ(h.lines().back(), "250 2.0.0 Message accepted");
  h.run("MAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nBDAT 600\r\n" + std::string(600, 'x') +
        "BDAT 401 LAST\r\n" + std::string(399, 'x') + "\r\n");
  EXPECT_EQ(h.lines().back(), "550 5.6.0 Message refused: a line is longer than 1000 octets");
  EXPECT_EQ(h.messages, 1u);
  EXPECT_TRUE(std::holds_alternative<MessageAbortedEvent>(h.events.back()) ||
              std::any_of(h.events.begin(), h.events.end(), [](const ServerEvent& e) {
                const auto* a = std::get_if<MessageAbortedEvent>(&e);
                return a != nullptr && a->reason == AbortReason::line_too_long;
              }));
  h.run("RSET\r\nMAIL FROM:<a@b.c> BODY=BINARYMIME\r\nRCPT TO:<x@y.z>\r\nBDAT 5002 LAST\r\n" +
        std::string(5000, 'x') + "\r\n");
  EXPECT_EQ(h.lines().back(), "250 2.0.0 Message accepted");
  EXPECT_EQ(h.messages, 2u);
}

// A U-label EHLO name is written into the Received header: only into SMTPUTF8 messages
// (issue 16: "EHLO café.example" went raw into an ASCII message's header).
TEST(ServerSession, NonAsciiHelloNamesOnlyWithSmtputf8) {
  Harness h(smtp_config());
  h.run("EHLO caf\xC3\xA9.example\r\nMAIL FROM:<a@b.c>\r\nMAIL FROM:<a@b.c> SMTPUTF8\r\n");
  auto lines = h.lines();
  EXPECT_EQ(lines[lines.size() - 2],
            "553 5.6.7 The EHLO name is not ASCII: MAIL needs SMTPUTF8, or EHLO with its A-label");
  EXPECT_EQ(lines.back(), "250 2.1.0 Sender OK");
  h.run("RSET\r\nEHLO xn--caf-dma.example\r\nMAIL FROM:<a@b.c>\r\n");
  EXPECT_EQ(h.lines().back(), "250 2.1.0 Sender OK") << "an A-label is ASCII";
  ServerConfig c = smtp_config();
  c.extensions.smtputf8 = false;
  Harness ascii(c);
  ascii.run("EHLO caf\xC3\xA9.example\r\nHELO caf\xC3\xA9.example\r\n");
  lines = ascii.lines();
  EXPECT_EQ(lines[lines.size() - 2], "501-5.5.4 non-ASCII domain without SMTPUTF8");
  EXPECT_EQ(lines.back(), "501 5.5.4 Syntax: HELO domain");
}

// Slowloris (issue 16): one byte every 2 s restarted the timers forever. A partial command
// line is not activity: the line must be complete within command_timeout of the previous one.
TEST(ServerSessionSlowClients, ADrippedCommandLineMeetsTheCommandTimeout) {
  ServerConfig c = smtp_config();
  c.command_timeout = Duration::seconds(60);
  Harness h(c);
  h.run("EHLO c\r\n");
  const std::string line = "MAIL FROM:<a@b.example>";
  for (std::size_t i = 0; i < line.size(); ++i) {
    h.now = h.now + Duration::seconds(2);
    h.run(line.substr(i, 1));
  }
  ASSERT_TRUE(h.session.poll_timeout());
  EXPECT_EQ(*h.session.poll_timeout(), Instant{0} + Duration::seconds(60))
      << "the deadline did not move with the dripped bytes";
  h.session.on_timeout(Instant{0} + Duration::seconds(60));
  h.drain();
  EXPECT_EQ(h.lines().back(), "421 4.4.2 mx.example.org Timeout exceeded, closing connection");
  EXPECT_TRUE(h.session.is_closed());
}

// A transfer averages at least data_rate_min octets a second past its first data_timeout, and
// ends within data_total_max: at the deadline it closes, one second before it does not.
TEST(ServerSessionSlowClients, ATransferIsBoundByAMinimumRateAndATotalTime) {
  ServerConfig c = smtp_config();
  c.message_bytes_max = 0;
  c.data_timeout = Duration::seconds(30);
  c.data_rate_min = 100;
  c.data_total_max = Duration::seconds(3600);
  Harness h(c);
  h.run("EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
  // 1000 octets at 10 s intervals of 100: 10 octets/s, under the minimum rate.
  for (int i = 0; i < 10; ++i) {
    h.now = h.now + Duration::seconds(10);
    h.run(std::string(98, 'x') + "\r\n");
    ASSERT_FALSE(h.session.is_closed()) << i;
  }
  // Allowed: 30 s + 1000 / 100 s = 40 s from the 354; it is now 100 s.
  ASSERT_TRUE(h.session.poll_timeout());
  EXPECT_EQ(*h.session.poll_timeout(), Instant{0} + Duration::seconds(40));
  h.session.on_timeout(h.now);
  h.drain();
  EXPECT_TRUE(h.session.is_closed());
  EXPECT_EQ(h.messages, 0u);

  // The total: a fast transfer that never ends.
  c.data_rate_min = 0;
  c.data_total_max = Duration::seconds(120);
  Harness t(c);
  t.run("EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
  for (int i = 0; i < 11; ++i) {
    t.now = t.now + Duration::seconds(10);
    t.run("more\r\n");
  }
  t.session.on_timeout(Instant{0} + Duration::seconds(119));
  EXPECT_FALSE(t.session.is_closed()) << "N-1";
  t.session.on_timeout(Instant{0} + Duration::seconds(120));
  t.drain();
  EXPECT_TRUE(t.session.is_closed()) << "N";
  // Between transfers the bound is gone: a new transaction starts its own.
}

// A second EHLO is allowed but counts as junk (junk_commands_max, like NOOP): N are answered,
// N+1 closes.
TEST(ServerSessionSlowClients, RepeatedEhloIsJunk) {
  ServerConfig c = smtp_config();
  c.junk_commands_max = 3;
  Harness h(c);
  std::string ehlos;
  for (int i = 0; i < 4; ++i) ehlos += "EHLO c\r\n";
  h.run(ehlos);
  EXPECT_FALSE(h.session.is_closed()) << "the first EHLO and 3 repeats";
  h.run("EHLO c\r\n");
  EXPECT_TRUE(h.session.is_closed());
  EXPECT_EQ(h.lines().back(), "421 4.7.0 mx.example.org Too many errors, closing connection");
}

TEST(ServerSession, UnofferedParametersAre555) {
  ServerConfig c = smtp_config();
  c.extensions.dsn = false;
  Harness h(c);
  h.run(
      "EHLO a\r\nMAIL FROM:<a@b.c> RET=FULL\r\nMAIL FROM:<a@b.c> FOO=BAR\r\n"
      "MAIL FROM:<a@b.c> HOLDFOR=10\r\nMAIL FROM:<ü@b.c>\r\n");
  auto lines = h.lines();
  const Lines tail(lines.end() - 5, lines.end());
  EXPECT_EQ(tail,
            (Lines{"555 5.5.4 RET parameter not supported", "555 5.5.4 FOO parameter not supported",
                   "555 5.5.4 HOLDFOR parameter not supported",
                   "553-5.6.7 non-ASCII address without the SMTPUTF8 parameter",
                   "553 5.6.7 Syntax: MAIL FROM:<address> [parameters]"}));
}

TEST(ServerSession, FutureReleaseNeedsTheWallClockAndBoundsTheHold) {
  ServerConfig c = smtp_config();
  c.extensions.future_release_max_seconds = 86400;
  Harness no_clock(c);  // without the wall clock the extension cannot be offered
  no_clock.run("EHLO a\r\nMAIL FROM:<a@b.c> HOLDFOR=60\r\n");
  EXPECT_EQ(no_clock.lines().back(), "555 5.5.4 HOLDFOR parameter not supported");
  c.wall_clock_unix_seconds = 1'700'000'000;  // 2023-11-14T22:13:20Z
  Harness h(c);
  h.now = Instant{0} + Duration::seconds(100);
  h.run("EHLO a\r\n");
  auto lines = h.lines();
  EXPECT_NE(std::find(lines.begin(), lines.end(), "250-FUTURERELEASE 86400 2023-11-15T22:15:00Z"),
            lines.end());
  h.run(
      "MAIL FROM:<a@b.c> HOLDFOR=86401\r\nMAIL FROM:<a@b.c> HOLDUNTIL=2023-11-15T22:15:01Z\r\n"
      "MAIL FROM:<a@b.c> HOLDUNTIL=2023-11-15T22:15:00Z\r\n");
  lines = h.lines();
  const Lines tail(lines.end() - 3, lines.end());
  EXPECT_EQ(tail, (Lines{"501 5.5.4 HOLDFOR is beyond the longest hold this server offers",
                         "501 5.5.4 HOLDUNTIL is beyond the longest hold this server offers",
                         "250 2.1.0 Sender OK"}));
}

TEST(ServerSession, TimeoutCloses) {
  Harness h(smtp_config());
  auto deadline = h.session.poll_timeout();
  ASSERT_TRUE(deadline);
  EXPECT_EQ(*deadline, Instant{0} + Duration::minutes(5));
  h.session.on_timeout(Instant{deadline->ns - 1});
  EXPECT_FALSE(h.session.is_closed());
  h.session.on_timeout(*deadline);
  h.drain();
  EXPECT_EQ(h.lines().back(), "421 4.4.2 mx.example.org Timeout exceeded, closing connection");
  EXPECT_TRUE(h.session.is_closed());
  EXPECT_FALSE(h.session.poll_timeout());
}

TEST(ServerSession, DecideMisuseChangesNothing) {
  ServerSession s(smtp_config(), Instant{0});
  s.feed(std::string_view("EHLO a\r\nNOOP\r\n"), Instant{0});
  std::optional<Ticket> ticket;
  while (auto e = s.poll_event()) {
    if (auto t = testing::ticket_of(*e)) ticket = t;
  }
  ASSERT_TRUE(ticket);
  EXPECT_EQ(s.decide(*ticket + 1, Accept{}, Instant{0}), server_errc::no_pending_decision);
  EXPECT_EQ(s.decide(*ticket, Challenge{"x"}, Instant{0}), server_errc::wrong_decision_kind);
  EXPECT_EQ(s.decide(*ticket, PerRecipient{}, Instant{0}), server_errc::wrong_decision_kind);
  EXPECT_EQ(s.decide(*ticket, Reject{Reply{250, std::nullopt, {"no"}}}, Instant{0}),
            server_errc::bad_reply);
  EXPECT_EQ(s.decide(*ticket, Accept{Reply{250, std::nullopt, {"custom"}}}, Instant{0}),
            server_errc::wrong_decision_kind);  // an EHLO reply is built from the config
  EXPECT_FALSE(s.decide(*ticket, Accept{}, Instant{0}));
  EXPECT_EQ(s.decide(*ticket, Accept{}, Instant{0}), server_errc::no_pending_decision);
}

TEST(ServerSession, EofDuringDataAbortsTheMessage) {
  Harness h(smtp_config());
  h.run("EHLO a\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<x@y.z>\r\nDATA\r\npartial");
  h.session.feed_eof(h.now);
  h.drain();
  ASSERT_GE(h.events.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<MessageAbortedEvent>(h.events[h.events.size() - 2]));
  EXPECT_EQ(std::get<ClosedEvent>(h.events.back()).reason, CloseReason::peer_closed);
  EXPECT_EQ(h.messages, 0u);
}

TEST(ServerSession, RefusedConnectionAcceptsOnlyQuit) {
  ServerConfig c = smtp_config();
  c.refusal = Reply{554, EnhancedStatus{5, 7, 1}, {"mx.example.org No SMTP service here"}};
  Harness h(c);
  h.run("EHLO a\r\nQUIT\r\n");
  EXPECT_EQ(h.lines(), (Lines{"554 5.7.1 mx.example.org No SMTP service here",
                              "503 5.5.1 Connection refused; only QUIT is accepted",
                              "221 2.0.0 mx.example.org closing connection"}));
}

TEST(ServerSession, OutputBacklogPausesInput) {
  ServerConfig c = smtp_config();
  c.output_backlog_bytes_max = 40;
  c.junk_commands_max = 1000;
  ServerSession s(c, Instant{0});
  std::string input;
  for (int i = 0; i < 20; ++i) input += "NOOP\r\n";
  const std::size_t used = s.feed(input, Instant{0});
  EXPECT_LT(used, input.size());
  EXPECT_FALSE(s.wants_read());
  s.consume_output(s.pending_output().size());
  EXPECT_TRUE(s.wants_read());
}

}  // namespace
}  // namespace tern::protocol::smtp

namespace tern::protocol::smtp {
namespace {

TEST(ServerSessionExtensions, ChosenWhileTheHelloWaits) {
  Harness h(smtp_config());
  h.policy = nullptr;
  h.session.feed("EHLO c\r\n", h.now);
  std::optional<ServerEvent> event;
  while ((event = h.session.poll_event()) && !std::holds_alternative<HelloEvent>(*event)) {
  }
  ASSERT_TRUE(event.has_value());
  ServerExtensions fewer;
  fewer.pipelining = false;
  fewer.chunking = false;
  fewer.dsn = true;
  EXPECT_FALSE(h.session.set_extensions(fewer));
  ASSERT_FALSE(h.session.decide(std::get<HelloEvent>(*event).ticket, Accept{}, h.now));
  const auto out = h.session.pending_output();
  const std::string text(out.data(), out.size());
  EXPECT_EQ(text.find("PIPELINING"), std::string::npos) << text;
  EXPECT_EQ(text.find("CHUNKING"), std::string::npos) << text;
  EXPECT_NE(text.find("250-DSN\r\n"), std::string::npos) << text;
  // Outside a pending hello: refused, nothing changes.
  EXPECT_EQ(h.session.set_extensions(ServerExtensions{}), server_errc::no_pending_decision);
}

TEST(ServerSessionShutdown, IdleSessionGets421AtOnce) {
  Harness h(smtp_config());
  h.run("EHLO c\r\n");
  h.output.clear();
  h.session.shutdown(h.now);
  h.drain();
  EXPECT_EQ(h.lines(),
            (Lines{"421 4.3.2 mx.example.org Service shutting down, closing connection"}));
  EXPECT_TRUE(h.session.is_closed());
}

TEST(ServerSessionShutdown, AMessageInDataIsReceivedAndDecidedBeforeThe421) {
  Harness h(smtp_config());
  h.run("EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\npart one\r\n");
  h.output.clear();
  h.session.shutdown(h.now);
  h.drain();
  EXPECT_EQ(h.output, "") << "nothing may interrupt the body";
  EXPECT_FALSE(h.session.is_closed());
  h.run("part two\r\n.\r\nMAIL FROM:<x@y.example>\r\n");
  EXPECT_EQ(h.lines(),
            (Lines{"250 2.0.0 Message accepted",
                   "421 4.3.2 mx.example.org Service shutting down, closing connection"}));
  EXPECT_EQ(h.body, "part one\r\npart two\r\n");
  EXPECT_EQ(h.messages, 1u);
  EXPECT_TRUE(h.session.is_closed());
}

TEST(ServerSessionShutdown, ABdatChunkIsReadThenTheNextCommandGets421) {
  Harness h(smtp_config());
  h.run("EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nBDAT 10\r\nhello");
  h.output.clear();
  h.session.shutdown(h.now);
  h.drain();
  EXPECT_EQ(h.output, "");
  h.run(" wor");
  h.run("ldBDAT 3 LAST\r\nabc");
  EXPECT_EQ(h.lines(),
            (Lines{"250 2.0.0 10 octets received",
                   "421 4.3.2 mx.example.org Service shutting down, closing connection"}));
  EXPECT_EQ(h.messages, 0u);
  EXPECT_TRUE(h.session.is_closed());
}

TEST(ServerSessionShutdown, APendingDecisionIsAnsweredFirst) {
  Harness h(smtp_config());
  h.policy = nullptr;  // keep the question open
  h.session.feed("EHLO c\r\n", h.now);
  auto event = h.session.poll_event();
  while (event && !std::holds_alternative<HelloEvent>(*event)) event = h.session.poll_event();
  ASSERT_TRUE(event.has_value());
  h.session.shutdown(h.now);
  EXPECT_FALSE(h.session.is_closed());
  EXPECT_FALSE(h.session.decide(std::get<HelloEvent>(*event).ticket, Accept{}, h.now));
  EXPECT_TRUE(h.session.is_closed());
}

}  // namespace
}  // namespace tern::protocol::smtp
