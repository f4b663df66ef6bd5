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
  EXPECT_EQ(say(peer, "x\r\n.\r\n", Duration::seconds(1)).substr(0, 24),
            "250 2.0.0 Ok: queued as ");
  io_.run_for(Duration::seconds(5));
  EXPECT_EQ(io_.maildir("ann").size(), 1u);
  // One recipient left, so the Received header names it.
  EXPECT_NE(only_maildir("ann").find("for <ann@example.org>;"), std::string::npos);
}

// LMTP answers once per accepted RCPT (RFC 2033 §4.2), duplicates included, and still
// delivers one copy per mailbox.
TEST_F(EngineTest, LmtpAnswersEveryDuplicateRecipientAndDeliversOnce) {
  auto peer = connect(kLmtp);
  say(peer,
      "LHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<ann@example.org>\r\n"
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
  EXPECT_EQ(
      say(peer, "MAIL FROM:<a@b.example>\r\n"),
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

// Recipient enumeration: every refused recipient is answered after session.rcpt.errors.wait,
// and the session ends after session.rcpt.errors.total of them (N answered, N+1 closes).
TEST_F(EngineTest, RefusedRecipientsAreSlowedAndEndTheSessionAfterTheLimit) {
  std::string toml(kConfig);
  toml.replace(toml.find("errors.wait = \"0s\""), 18, "errors.total = 3\nerrors.wait = \"2s\"");
  configure(toml);
  server_.reset();
  start();
  auto peer = connect();
  say(peer, "EHLO c\r\nMAIL FROM:<a@b.example>\r\n");
  for (int i = 1; i <= 3; ++i) {
    io_.peer_send(peer, "RCPT TO:<nobody" + std::to_string(i) + "@example.org>\r\n");
    io_.run_for(Duration::milliseconds(1900));
    EXPECT_EQ(io_.peer_take(peer), "") << "refusal " << i << " comes only after errors.wait";
    io_.run_for(Duration::milliseconds(200));
    EXPECT_EQ(io_.peer_take(peer), "550 5.1.1 Mailbox does not exist\r\n") << i;
  }
  EXPECT_EQ(say(peer, "RCPT TO:<ann@example.org>\r\n"), "250 2.1.5 Recipient OK\r\n")
      << "an accepted recipient is not slowed";
  EXPECT_EQ(say(peer, "RCPT TO:<victim@remote.example>\r\n", Duration::seconds(3)),
            "550 5.7.1 Relay access denied\r\n"
            "421 4.7.0 mx.example.org Too many rejected recipients, closing connection\r\n");
  io_.run_for(Duration::seconds(1));
  EXPECT_TRUE(io_.peer_closed_by_engine(peer));
  // The summary replaces a log line per refusal past the first few.
  EXPECT_EQ(log_.lines.find("more recipient refusals not logged"), std::string::npos);
}

TEST_F(EngineTest, ARecipientFloodIsSummedUpInTheLog) {
  configure(std::string(kConfig) + "errors.total = 0\n");
  server_.reset();
  start();
  auto peer = connect();
  say(peer, "EHLO c\r\nMAIL FROM:<a@b.example>\r\n");
  std::string rcpts;
  for (int i = 0; i < 50; ++i) rcpts += "RCPT TO:<n" + std::to_string(i) + "@example.org>\r\n";
  say(peer, rcpts, Duration::seconds(1));
  say(peer, "QUIT\r\n");
  std::size_t logged = 0;
  for (auto at = log_.info_lines.find("RCPT -> 550"); at != std::string::npos;
       at = log_.info_lines.find("RCPT -> 550", at + 1))
    ++logged;
  EXPECT_EQ(logged, 5u) << log_.info_lines;
  EXPECT_NE(log_.info_lines.find("45 more recipient refusals not logged (50 in all"),
            std::string::npos)
      << log_.info_lines;
}

// AUTH brute force: failures count per address across connections (48 parallel connections
// no longer give 48 guesses a second) and per login across addresses; a locked AUTH is
// refused with 454 4.7.0 without asking the directory, even with the right password.
TEST_F(EngineTest, AuthFailuresLockTheAddressAcrossConnections) {
  configure(std::string(kConfig) +
            "[session.auth.lockout]\nip = 4\naccount = 0\nwindow = \"10m\"\n");
  server_.reset();
  start();
  auto attempt = [&](const std::string& from_ip, const char* auth) {
    auto peer = connect(kSmtp, from_ip);
    say(peer, "EHLO c\r\nSTARTTLS\r\n");
    io_.peer_start_tls(peer);
    io_.run_for(Duration::milliseconds(100));
    say(peer, "EHLO c\r\n");
    auto reply = say(peer, std::string("AUTH PLAIN ") + auth + "\r\n", Duration::seconds(3));
    say(peer, "QUIT\r\n");
    return reply;
  };
  const char* wrong = "AGFubgB3cm9uZw==";  // ann / wrong
  const char* right = "AGFubgBzZWNyZXQ=";  // ann / secret
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(attempt("192.0.2.7", wrong), "535 5.7.8 Authentication credentials invalid\r\n") << i;
  }
  EXPECT_EQ(attempt("192.0.2.7", right),
            "454 4.7.0 Too many failed authentications, try again later\r\n")
      << "locked: the right password is not even checked";
  EXPECT_NE(log_.lines.find("AUTH lockout: 192.0.2.7"), std::string::npos) << log_.lines;
  EXPECT_EQ(attempt("192.0.2.8", right), "235 2.7.0 Authentication successful\r\n")
      << "another address is not locked";
  io_.run_for(Duration::minutes(10));
  EXPECT_EQ(attempt("192.0.2.7", right), "235 2.7.0 Authentication successful\r\n")
      << "free again once the window has passed";
}

TEST_F(EngineTest, AuthFailuresLockTheAccountAcrossAddresses) {
  configure(std::string(kConfig) +
            "[session.auth.lockout]\nip = 0\naccount = 3\nwindow = \"10m\"\n");
  server_.reset();
  start();
  auto attempt = [&](int n, const char* auth) {
    auto peer = connect(kSmtp, "198.51.100." + std::to_string(n));
    say(peer, "EHLO c\r\nSTARTTLS\r\n");
    io_.peer_start_tls(peer);
    io_.run_for(Duration::milliseconds(100));
    say(peer, "EHLO c\r\n");
    return say(peer, std::string("AUTH PLAIN ") + auth + "\r\n", Duration::seconds(3));
  };
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(attempt(i, "AGFubgB3cm9uZw=="), "535 5.7.8 Authentication credentials invalid\r\n");
  }
  // "ANN" is the same login.
  EXPECT_EQ(attempt(4, "AEFOTgBzZWNyZXQ="),
            "454 4.7.0 Too many failed authentications, try again later\r\n");
  EXPECT_EQ(attempt(5, "AGJvYgB3cm9uZw=="), "535 5.7.8 Authentication credentials invalid\r\n")
      << "bob is another account";
}

// A directory that hashes only for users it knows answers them later; the failure reply
// still comes exactly errors.wait after the credentials, for both.
TEST_F(EngineTest, FailedAuthIsAnsweredAtTheSameInstantHoweverLongTheDirectoryTakes) {
  directory_->known_user_delay = Duration::milliseconds(700);
  auto peer = connect();
  say(peer, "EHLO c\r\nSTARTTLS\r\n");
  io_.peer_start_tls(peer);
  io_.run_for(Duration::milliseconds(100));
  say(peer, "EHLO c\r\n");
  std::vector<int> waited;
  for (const char* attempt : {"AUTH PLAIN AGFubgB3cm9uZw==\r\n",         // ann / wrong (slow)
                              "AUTH PLAIN AG5vYm9keQBzZWNyZXQ=\r\n"}) {  // nobody (fast)
    io_.peer_send(peer, attempt);
    int ms = 0;
    std::string reply;
    while (reply.empty() && ms < 5000) {
      io_.run_for(Duration::milliseconds(1));
      ++ms;
      reply = io_.peer_take(peer);
    }
    EXPECT_EQ(reply, "535 5.7.8 Authentication credentials invalid\r\n") << attempt;
    waited.push_back(ms);
  }
  EXPECT_GE(waited[0], 2000);
  EXPECT_EQ(waited[0], waited[1]) << "an unknown user and a wrong password take the same time";
}

// Backscatter: <Postmaster> without a domain was accepted, failed routing, and its failure DSN
// (with the client's content) went to the forged sender. It is the postmaster of
// server.hostname now: delivered when that is a local mailbox, refused when it is not.
TEST_F(EngineTest, BarePostmasterIsTheLocalPostmasterOrRefusedNeverBounced) {
  auto peer = connect();
  say(peer, "EHLO c\r\nMAIL FROM:<victim@evil.example>\r\n");
  EXPECT_EQ(say(peer, "RCPT TO:<postmaster>\r\n"), "550 5.7.1 Relay access denied\r\n")
      << "mx.example.org is no local domain here";
  EXPECT_NE(log_.lines.find("postmaster@mx.example.org is not a local mailbox"), std::string::npos);
  EXPECT_EQ(say(peer, "DATA\r\n").substr(0, 4), "554 ");
  io_.run_for(Duration::seconds(5));
  EXPECT_TRUE(io_.spool_envelopes().empty());

  std::string toml(kConfig);
  toml.replace(toml.find("mx.example.org"), 14, "example.org");
  configure(toml);
  server_.reset();
  start();
  peer = connect();
  say(peer, "EHLO c\r\nMAIL FROM:<someone@remote.example>\r\n");
  EXPECT_EQ(say(peer, "RCPT TO:<Postmaster>\r\n"), "250 2.1.5 Recipient OK\r\n");
  say(peer, "DATA\r\n");
  EXPECT_EQ(say(peer, "hi\r\n.\r\n", Duration::seconds(1)).substr(0, 4), "250 ");
  io_.run_for(Duration::seconds(5));
  EXPECT_NE(only_maildir("postmaster").find("Delivered-To: postmaster@example.org"),
            std::string::npos);
}

// A recipient the policy accepts but no next-hop rule can route is refused at RCPT (it was
// accepted and bounced). Here a rule computes a remote id that does not exist, which only
// the evaluation can tell.
TEST_F(EngineTest, AnUnroutableRecipientIsRefusedAtRcpt) {
  configure(
      std::string(kConfig) +
      "[queue.outbound]\nnext-hop = [{ if = \"rcpt == 'bob@example.org'\", then = \"rcpt_domain\" "
      "},"
      " { if = \"is_local_domain('*', rcpt_domain)\", then = \"'local'\" }, { else = false }]\n");
  server_.reset();
  start();
  auto peer = connect();
  say(peer, "EHLO c\r\nMAIL FROM:<a@b.example>\r\n");
  EXPECT_EQ(say(peer, "RCPT TO:<ann@example.org>\r\n"), "250 2.1.5 Recipient OK\r\n");
  EXPECT_EQ(say(peer, "RCPT TO:<bob@example.org>\r\n"), "550 5.4.4 Recipient cannot be routed\r\n");
  EXPECT_NE(log_.lines.find("<bob@example.org> cannot be routed: "), std::string::npos)
      << log_.lines;
}

// Slowloris: one address holds at most server.max-connections-per-ip-share percent of the
// slots (N accepted, N+1 refused), so the others keep theirs; a client dripping a command line
// is closed at the command timeout, however steadily the bytes come.
TEST_F(EngineTest, SlowClientsFromOneAddressCannotTakeEverySlot) {
  std::string toml(kConfig);
  toml.replace(toml.find("max-connections-per-ip = 3"), 26,
               "max-connections = 8\nmax-connections-per-ip = 64\n"
               "max-connections-per-ip-share = 25\ntimeout.command = \"60s\"");
  configure(toml);
  server_.reset();
  start();
  std::vector<PeerId> slow;
  for (int i = 0; i < 3; ++i) slow.push_back(connect(kSmtp, "203.0.113.66"));
  EXPECT_EQ(io_.peer_take(slow[0]).substr(0, 4), "220 ");
  EXPECT_EQ(io_.peer_take(slow[1]).substr(0, 4), "220 ");
  EXPECT_EQ(io_.peer_take(slow[2]), "421 4.7.0 Too many connections, try again later\r\n")
      << "25% of 8 is 2";
  auto other = connect(kSmtp, "192.0.2.50");
  EXPECT_EQ(io_.peer_take(other).substr(0, 4), "220 ");
  // One byte every 2 s: the line never completes and the session ends at 60 s, not never.
  const std::string drip = "EHLO slowloris.example";
  for (std::size_t i = 0; i < drip.size() && !io_.peer_closed_by_engine(slow[0]); ++i) {
    io_.peer_send(slow[0], drip.substr(i, 1));
    io_.run_for(Duration::seconds(2));
  }
  io_.run_for(Duration::seconds(20));
  EXPECT_EQ(io_.peer_take(slow[0]),
            "421 4.4.2 mx.example.org Timeout exceeded, closing connection\r\n");
  EXPECT_TRUE(io_.peer_closed_by_engine(slow[0]));
}

// NUL tricks and long lines (the public smuggling scanners' cases): a NUL never ends the data
// and refuses the message; a text BDAT body with a 1001-octet line is refused; nothing of
// either reaches the spool. BODY=BINARYMIME is binary and accepted.
TEST_F(EngineTest, NulAndLongLinesNeverReachTheSpool) {
  auto peer = connect();
  say(peer, "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<ann@example.org>\r\nDATA\r\n");
  const std::string smuggled = std::string("hi\r\n") + '\0' +
                               ".\r\nMAIL FROM:<e@vil.example>\r\nRCPT TO:<bob@example.org>\r\n";
  EXPECT_EQ(say(peer, smuggled), "") << "the NUL line did not end the data";
  EXPECT_EQ(say(peer, ".\r\n", Duration::seconds(1)),
            "550 5.6.0 Message refused: a NUL octet in the body\r\n");
  say(peer, "MAIL FROM:<a@b.example>\r\nRCPT TO:<ann@example.org>\r\n");
  EXPECT_EQ(say(peer, "BDAT 1003 LAST\r\n" + std::string(1001, 'y') + "\r\n"),
            "550 5.6.0 Message refused: a line is longer than 1000 octets\r\n");
  say(peer, "RSET\r\nMAIL FROM:<a@b.example> BODY=BINARYMIME\r\nRCPT TO:<ann@example.org>\r\n");
  const std::string binary = std::string(1001, 'z') + '\0' + "\r\n";
  EXPECT_EQ(say(peer, "BDAT 1004 LAST\r\n" + binary, Duration::seconds(1)).substr(0, 24),
            "250 2.0.0 Ok: queued as ");
  io_.run_for(Duration::seconds(5));
  ASSERT_EQ(io_.maildir("ann").size(), 1u) << "only the binary message";
  EXPECT_NE(only_maildir("ann").find(binary), std::string::npos);
  EXPECT_EQ(io_.maildir("bob").size(), 0u) << "the smuggled transaction never ran";
}

}  // namespace
}  // namespace tern::runtime
