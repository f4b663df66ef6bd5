#include "protocol/imap/client_session.hpp"

#include <gtest/gtest.h>

#include "protocol/imap/tests/harness.hpp"

namespace tern::protocol::imap {
namespace {

using testing::ClientHarness;
using Lines = std::vector<std::string>;

constexpr std::string_view kDovecotGreeting =
    "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN "
    "AUTH=LOGIN] "
    "Dovecot ready.\r\n";

ClientConfig tls_config() {
  ClientConfig c;
  c.tls_active = true;
  return c;
}

AuthRequest user_pass(std::vector<std::string> mechanisms = {"PLAIN", "LOGIN"}) {
  AuthRequest r;
  r.mechanisms = std::move(mechanisms);
  r.credentials.username = "user";
  r.credentials.password = "pass";
  return r;
}

OutcomeEvent only_outcome(const ClientHarness& h) {
  const auto outcomes = h.outcomes();
  EXPECT_EQ(outcomes.size(), 1u);
  return outcomes.empty() ? OutcomeEvent{} : outcomes.front();
}

TEST(ImapClient, SaslIrWithCapabilitiesFromTheGreeting) {
  ClientHarness h(tls_config());
  ASSERT_FALSE(h.session.authenticate(user_pass(), h.now));
  h.run(kDovecotGreeting);
  EXPECT_EQ(h.lines(), (Lines{"A0001 AUTHENTICATE PLAIN AHVzZXIAcGFzcw=="}));
  h.run("A0001 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n");
  EXPECT_EQ(only_outcome(h), (OutcomeEvent{Outcome::accepted, OutcomeReason::success,
                                           "AUTHENTICATE PLAIN", "Logged in"}));
  EXPECT_EQ(h.lines().back(), "A0002 LOGOUT");
  EXPECT_FALSE(h.session.is_closed());
  h.run("* BYE Logging out\r\nA0002 OK Logout completed.\r\n");
  EXPECT_TRUE(h.session.is_closed());
  EXPECT_EQ(testing::describe(h.events.back()), "closed");
}

// The shape of RFC 9051 §6.2.2's first example (continuations), with PLAIN.
TEST(ImapClient, ContinuationFormWithoutSaslIr) {
  ClientHarness h(tls_config());
  h.run("* OK IMAP4rev2 Server\r\n");
  EXPECT_EQ(h.lines(), (Lines{"A0001 CAPABILITY"}));
  ASSERT_FALSE(h.session.authenticate(user_pass(), h.now));
  h.run("* CAPABILITY IMAP4rev2 AUTH=PLAIN\r\nA0001 OK CAPABILITY completed\r\n");
  EXPECT_EQ(h.lines().back(), "A0002 AUTHENTICATE PLAIN");
  h.run("+ \r\n");
  EXPECT_EQ(h.lines().back(), "AHVzZXIAcGFzcw==");
  h.run("A0002 OK PLAIN authentication successful\r\n");
  EXPECT_EQ(only_outcome(h).outcome, Outcome::accepted);
}

TEST(ImapClient, LoginMechanismAnswersEachChallenge) {
  ClientHarness h(tls_config());
  ASSERT_FALSE(h.session.authenticate(user_pass({"LOGIN"}), h.now));
  h.run(kDovecotGreeting);
  EXPECT_EQ(h.lines().back(), "A0001 AUTHENTICATE LOGIN");  // server-first: no initial response
  h.run("+ VXNlcm5hbWU6\r\n");
  EXPECT_EQ(h.lines().back(), "dXNlcg==");
  h.run("+ UGFzc3dvcmQ6\r\n");
  EXPECT_EQ(h.lines().back(), "cGFzcw==");
  h.run("A0001 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
  EXPECT_EQ(only_outcome(h).outcome, Outcome::rejected);
}

TEST(ImapClient, RejectedWithCodeOrWithout) {
  for (std::string_view reply :
       {"A0001 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n", "A0001 NO Login failed\r\n",
        "A0001 NO [EXPIRED] Password expired\r\n"}) {
    ClientHarness h(tls_config());
    ASSERT_FALSE(h.session.authenticate(user_pass(), h.now));
    h.run(kDovecotGreeting);
    h.run(reply);
    EXPECT_EQ(only_outcome(h).outcome, Outcome::rejected) << reply;
    EXPECT_EQ(only_outcome(h).reason, OutcomeReason::credentials);
  }
}

TEST(ImapClient, TemporaryFailuresStayDistinct) {
  struct Case {
    std::string_view after_greeting;
    OutcomeReason reason;
  };
  for (const Case& c : {Case{"A0001 NO [UNAVAILABLE] Temporary authentication failure.\r\n",
                             OutcomeReason::unavailable},
                        Case{"A0001 NO [SERVERBUG] oops\r\n", OutcomeReason::unavailable},
                        Case{"* BYE Server shutting down\r\n", OutcomeReason::bye},
                        Case{"A0001 BAD Invalid arguments\r\n", OutcomeReason::protocol_error},
                        Case{"A0009 OK who?\r\n", OutcomeReason::protocol_error},
                        Case{"garbage\r\n", OutcomeReason::protocol_error}}) {
    ClientHarness h(tls_config());
    ASSERT_FALSE(h.session.authenticate(user_pass(), h.now));
    h.run(kDovecotGreeting);
    h.run(c.after_greeting);
    EXPECT_EQ(only_outcome(h).outcome, Outcome::temporary_failure) << c.after_greeting;
    EXPECT_EQ(only_outcome(h).reason, c.reason) << c.after_greeting;
  }
}

TEST(ImapClient, GreetingByeTimeoutAndEofAreTemporary) {
  ClientHarness bye(tls_config());
  ASSERT_FALSE(bye.session.authenticate(user_pass(), bye.now));
  bye.run("* BYE Too many connections\r\n");
  EXPECT_EQ(only_outcome(bye).reason, OutcomeReason::refused);
  EXPECT_TRUE(bye.session.is_closed());

  ClientConfig c = tls_config();
  c.greeting_timeout = Duration::seconds(5);
  ClientHarness slow(c);
  ASSERT_FALSE(slow.session.authenticate(user_pass(), slow.now));
  EXPECT_EQ(slow.session.poll_timeout(), Instant{0} + Duration::seconds(5));
  slow.session.on_timeout(Instant{0} + Duration::seconds(4));
  slow.drain();
  EXPECT_TRUE(slow.outcomes().empty());
  slow.session.on_timeout(Instant{0} + Duration::seconds(5));
  slow.drain();
  EXPECT_EQ(only_outcome(slow).reason, OutcomeReason::timeout);

  // Untagged chatter does not push the deadline back: the command must be answered.
  ClientHarness chatty(c);
  ASSERT_FALSE(chatty.session.authenticate(user_pass(), chatty.now));
  chatty.now = Instant{0} + Duration::seconds(3);
  chatty.run(kDovecotGreeting);
  EXPECT_EQ(chatty.session.poll_timeout(), chatty.now + Duration::seconds(60));
  chatty.now = chatty.now + Duration::seconds(59);
  chatty.run("* 1 EXISTS\r\n");
  EXPECT_EQ(chatty.session.poll_timeout(), Instant{0} + Duration::seconds(63));

  ClientHarness eof(tls_config());
  ASSERT_FALSE(eof.session.authenticate(user_pass(), eof.now));
  eof.run(kDovecotGreeting);
  eof.session.feed_eof(eof.now);
  eof.drain();
  EXPECT_EQ(only_outcome(eof).reason, OutcomeReason::connection_closed);
  EXPECT_EQ(eof.session.authenticate(user_pass(), eof.now), client_errc::closed);
}

// Anything the server sends after its OK to STARTTLS and before the handshake is dropped.
TEST(ImapClient, StartTlsDiscardsInjectedResponsesAndRereadsCapabilities) {
  ClientHarness h(ClientConfig{});
  ASSERT_FALSE(h.session.authenticate(user_pass(), h.now));
  h.run("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n");
  EXPECT_EQ(h.lines(), (Lines{"A0001 STARTTLS"}));
  h.run(
      "A0001 OK Begin TLS negotiation now.\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR\r\nA0002 "
      "OK x\r\n");
  EXPECT_EQ(testing::describe(h.events.back()), "starttls");
  EXPECT_TRUE(h.session.capabilities().empty());
  h.run("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n");  // still before the handshake
  EXPECT_EQ(h.session.on_tls_established(h.now), std::error_code{});
  h.drain();
  EXPECT_EQ(h.lines().back(), "A0002 CAPABILITY");
  h.run("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nA0002 OK done\r\n");
  EXPECT_EQ(h.lines().back(),
            "A0003 AUTHENTICATE PLAIN");  // no SASL-IR: the injected one was dropped
  EXPECT_EQ(h.session.on_tls_established(h.now), client_errc::not_awaiting_tls);
}

TEST(ImapClient, NoPlaintextBeforeTlsAndTlsRequiredFailsTemporarily) {
  ClientHarness plain(ClientConfig{});
  ASSERT_FALSE(plain.session.authenticate(user_pass(), plain.now));
  plain.run("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n");
  EXPECT_TRUE(plain.lines().empty());
  EXPECT_EQ(only_outcome(plain).reason, OutcomeReason::no_mechanism);
  EXPECT_EQ(only_outcome(plain).outcome, Outcome::temporary_failure);

  ClientConfig required;
  required.starttls = TlsPolicy::required;
  required.plaintext_without_tls = true;
  ClientHarness h(required);
  ASSERT_FALSE(h.session.authenticate(user_pass(), h.now));
  h.run("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n");
  EXPECT_EQ(only_outcome(h).reason, OutcomeReason::tls_unavailable);
}

TEST(ImapClient, LoginCommandFallbackQuotesAndUsesLiterals) {
  ClientHarness h(tls_config());
  AuthRequest r = user_pass({});
  r.credentials.password = "p\xc3\xa4ss word";
  ASSERT_FALSE(h.session.authenticate(r, h.now));
  h.run("* OK [CAPABILITY IMAP4rev1] ready\r\n");
  EXPECT_EQ(h.output, "A0001 LOGIN user {10}\r\n");  // synchronizing: waits for "+"
  h.run("+ Ready for literal data\r\n");
  EXPECT_EQ(h.output, "A0001 LOGIN user {10}\r\np\xc3\xa4ss word\r\n");
  h.run("A0001 OK Logged in\r\n");
  EXPECT_EQ(only_outcome(h),
            (OutcomeEvent{Outcome::accepted, OutcomeReason::success, "LOGIN", "Logged in"}));

  ClientHarness plus(tls_config());
  r.credentials.password = "two words";
  ASSERT_FALSE(plus.session.authenticate(r, plus.now));
  plus.run("* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n");
  EXPECT_EQ(plus.output, "A0001 LOGIN user \"two words\"\r\n");
}

TEST(ImapClient, LoginDisabledLeavesNoMethod) {
  ClientHarness h(tls_config());
  ASSERT_FALSE(h.session.authenticate(user_pass({"CRAM-MD5"}), h.now));
  h.run("* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] ready\r\n");
  EXPECT_EQ(only_outcome(h).reason, OutcomeReason::no_mechanism);
}

TEST(ImapClient, PreauthIsNotACredentialCheckByDefault) {
  ClientHarness h(tls_config());
  ASSERT_FALSE(h.session.authenticate(user_pass(), h.now));
  h.run("* PREAUTH [CAPABILITY IMAP4rev1] logged in as Smith\r\n");
  EXPECT_EQ(only_outcome(h).reason, OutcomeReason::preauthenticated);
  ClientConfig c = tls_config();
  c.preauth_accepts = true;
  ClientHarness yes(c);
  ASSERT_FALSE(yes.session.authenticate(user_pass(), yes.now));
  yes.run("* PREAUTH [CAPABILITY IMAP4rev1] logged in as Smith\r\n");
  EXPECT_EQ(only_outcome(yes).outcome, Outcome::accepted);
}

TEST(ImapClient, UnanswerableChallengeIsCancelled) {
  ClientHarness h(tls_config());
  ASSERT_FALSE(h.session.authenticate(user_pass({"LOGIN"}), h.now));
  h.run(kDovecotGreeting);
  h.run("+ not-base64!\r\n");
  EXPECT_EQ(h.lines().back(), "*");
  h.run("A0001 BAD Authentication aborted\r\n");
  EXPECT_EQ(only_outcome(h).reason, OutcomeReason::protocol_error);
}

TEST(ImapClient, SecondRequestIsMisuse) {
  ClientHarness h(tls_config());
  ASSERT_FALSE(h.session.authenticate(user_pass(), h.now));
  EXPECT_EQ(h.session.authenticate(user_pass(), h.now), client_errc::already_requested);
}

}  // namespace
}  // namespace tern::protocol::imap
