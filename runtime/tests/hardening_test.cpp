// Engine tests for what an outside probe of ternd found (issue 16): each case failed before
// its fix. On the simulated Io, configured as ternd is (engine_fixture.hpp).
#include <string>

#include <gtest/gtest.h>

#include "runtime/tests/engine_fixture.hpp"

namespace tern::runtime {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace): the fixture

// Relaying does not enforce RFC 8689 yet (verified TLS only, the parameter passed on), so
// REQUIRETLS is neither offered nor accepted: a client that needs it learns so at MAIL.
TEST_F(EngineTest, RequireTlsIsNeitherOfferedNorAcceptedUntilRelayingHonoursIt) {
  auto peer = connect();
  say(peer, "EHLO c\r\nSTARTTLS\r\n");
  io_.peer_start_tls(peer);
  io_.run_for(Duration::milliseconds(100));
  const auto ehlo = say(peer, "EHLO c\r\n");
  EXPECT_EQ(ehlo.find("REQUIRETLS"), std::string::npos) << ehlo;
  EXPECT_EQ(say(peer, "MAIL FROM:<a@b.example> REQUIRETLS\r\n"),
            "555 5.5.4 REQUIRETLS parameter not supported\r\n");
}

// 100 RCPTs of one mailbox (no AUTH needed on port 25) are 100 times 250 and one stored
// copy. A duplicate is the same mailbox (as the directory names it) or, for a relayed
// recipient, the same address as the router normalises it.
TEST_F(EngineTest, DuplicateRecipientsAreAnsweredEachButDeliveredOnce) {
  auto peer = connect();
  say(peer, "EHLO c\r\nMAIL FROM:<a@b.example>\r\n");
  std::string rcpts;
  for (int i = 0; i < 100; ++i) rcpts += "RCPT TO:<ann@example.org>\r\n";
  std::string expected;
  for (int i = 0; i < 100; ++i) expected += "250 2.1.5 Recipient OK\r\n";
  EXPECT_EQ(say(peer, rcpts, Duration::seconds(1)), expected);
  say(peer, "DATA\r\n");
  EXPECT_EQ(say(peer, "x\r\n.\r\n", Duration::seconds(1)).substr(0, 24), "250 2.0.0 Ok: queued as ");
  io_.run_for(Duration::seconds(5));
  EXPECT_EQ(io_.maildir("ann").size(), 1u);
  // One recipient left, so the Received header names it.
  EXPECT_NE(only_maildir("ann").find("for <ann@example.org>;"), std::string::npos);
}

// LMTP answers once per accepted RCPT (RFC 2033 §4.2), duplicates included, and still
// delivers one copy per mailbox.
TEST_F(EngineTest, LmtpAnswersEveryDuplicateRecipientAndDeliversOnce) {
  auto peer = connect(kLmtp);
  say(peer, "LHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<ann@example.org>\r\n"
            "RCPT TO:<bob@example.org>\r\nRCPT TO:<ann@example.org>\r\nDATA\r\n");
  const auto replies = say(peer, "x\r\n.\r\n", Duration::seconds(1));
  std::size_t count = 0;
  for (auto at = replies.find("250 2.1.5 Ok: queued as "); at != std::string::npos;
       at = replies.find("250 2.1.5 Ok: queued as ", at + 1))
    ++count;
  EXPECT_EQ(count, 3u) << replies;
  io_.run_for(Duration::seconds(5));
  EXPECT_EQ(io_.maildir("ann").size(), 1u);
  EXPECT_EQ(io_.maildir("bob").size(), 1u);
}

// BDAT past session.data.limits.size is 552 and the chunks already written leave the spool at
// once, as DATA's do (they stayed until the session ended).
TEST_F(EngineTest, AnOversizeBdatDropsTheBodyAtOnce) {
  configure(std::string(kConfig) + "[session.data.limits]\nsize = 1000\n");
  server_.reset();
  start();
  auto peer = connect();
  say(peer, "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<ann@example.org>\r\n");
  EXPECT_EQ(say(peer, "BDAT 600\r\n" + std::string(600, 'x')), "250 2.0.0 600 octets received\r\n");
  EXPECT_EQ(io_.spool_open_writers(), 1u);
  EXPECT_EQ(say(peer, "BDAT 401 LAST\r\n" + std::string(401, 'y')),
            "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
  EXPECT_EQ(io_.spool_open_writers(), 0u) << "the client is still connected; the body is gone";
  EXPECT_EQ(say(peer, "RSET\r\n"), "250 2.0.0 Reset OK\r\n");
}

// "EHLO café.example" was written raw into the Received header of an ASCII message; a
// U+202E in an SMTPUTF8 address was accepted.
TEST_F(EngineTest, EightBitHeloNamesAndBidiControlsStayOut) {
  auto peer = connect();
  say(peer, "EHLO caf\xC3\xA9.example\r\n");
  EXPECT_EQ(say(peer, "MAIL FROM:<a@b.example>\r\n"),
            "553 5.6.7 The EHLO name is not ASCII: MAIL needs SMTPUTF8, or EHLO with its A-label\r\n");
  EXPECT_EQ(say(peer, "MAIL FROM:<a@b.example> SMTPUTF8\r\n"), "250 2.1.0 Sender OK\r\n");
  EXPECT_EQ(say(peer, "RCPT TO:<ann\xE2\x80\xAEgpj.exe@example.org>\r\n").substr(0, 4), "501-");
  EXPECT_EQ(say(peer, "RCPT TO:<ann@example.org>\r\n"), "250 2.1.5 Recipient OK\r\n");
  say(peer, "DATA\r\n");
  EXPECT_EQ(say(peer, "x\r\n.\r\n", Duration::seconds(1)).substr(0, 4), "250 ");
  io_.run_for(Duration::seconds(5));
  const auto message = only_maildir("ann");
  const auto received = message.substr(message.find("Received: "), 60);
  EXPECT_EQ(received.find_first_of("\xC3\xA9"), std::string::npos)
      << "trace fields stay ASCII (the name is sanitised): " << received;
}

}  // namespace
}  // namespace tern::runtime
