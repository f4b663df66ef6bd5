#include "protocol/imap/server_session.hpp"

#include <gtest/gtest.h>

#include "protocol/imap/tests/harness.hpp"

namespace tern::protocol::imap {
namespace {

using testing::ServerHarness;
using Lines = std::vector<std::string>;

ServerConfig tls_config() {
  ServerConfig c;
  c.tls_active = true;
  return c;
}

Lines after_greeting(const ServerHarness& h) {
  Lines l = h.lines();
  if (!l.empty()) l.erase(l.begin());
  return l;
}

TEST(ImapServer, GreetingCarriesCapabilitiesLikeDovecot) {
  ServerConfig c;
  c.tls_available = true;
  ServerHarness plain(c);
  EXPECT_EQ(plain.lines(),
            (Lines{"* OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR STARTTLS LOGINDISABLED] "
                   "Tern IMAP ready."}));
  ServerHarness tls(tls_config());
  EXPECT_EQ(tls.lines(),
            (Lines{"* OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR AUTH=PLAIN AUTH=LOGIN] "
                   "Tern IMAP ready."}));
  tls.run("a CAPABILITY\r\nb NOOP\r\n");
  EXPECT_EQ(after_greeting(tls),
            (Lines{"* CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR AUTH=PLAIN AUTH=LOGIN",
                   "a OK Capability completed.", "b OK NOOP completed."}));
}

// The shape of RFC 9051 §6.2.2's first example (empty challenge, continuation), with PLAIN.
TEST(ImapServer, AuthenticateWithContinuation) {
  ServerHarness h(tls_config());
  h.run("A001 AUTHENTICATE PLAIN\r\n");
  EXPECT_EQ(after_greeting(h), (Lines{"+ "}));
  h.run("AHVzZXIAcGFzcw==\r\n");
  EXPECT_EQ(after_greeting(h),
            (Lines{"+ ", "A001 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+] Logged in"}));
  EXPECT_TRUE(h.session.authenticated());
  EXPECT_EQ(testing::describe_all(h.events), (Lines{"verify PLAIN user pass", "authenticated user",
                                                    "completed A001 AUTHENTICATE OK"}));
}

// RFC 4959 §3: the initial response on the AUTHENTICATE line ("test" / "test" / "test").
TEST(ImapServer, Rfc4959InitialResponse) {
  ServerHarness h(tls_config());
  h.policy = [](const VerifyEvent& e) -> ServerDecision {
    const auto& p = std::get<sasl::PasswordCredentials>(e.credentials);
    return Verified{p.authzid == "test" && p.authcid == "test" && p.password == "test"};
  };
  h.run("C01 AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n");
  EXPECT_EQ(after_greeting(h),
            (Lines{"C01 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+] Logged in"}));
}

TEST(ImapServer, FailedUnavailableAndCancelledAuthentication) {
  ServerHarness h(tls_config());
  h.run("a AUTHENTICATE PLAIN AHVzZXIAd3Jvbmc=\r\n");
  h.policy = [](const VerifyEvent&) -> ServerDecision { return Unavailable{}; };
  h.run(
      "b AUTHENTICATE PLAIN AHVzZXIAcGFzcw==\r\nc AUTHENTICATE PLAIN\r\n*\r\nd AUTHENTICATE PLAIN "
      "*\r\n");
  EXPECT_EQ(after_greeting(h),
            (Lines{"a NO [AUTHENTICATIONFAILED] Authentication failed.",
                   "b NO [UNAVAILABLE] Temporary authentication failure.", "+ ",
                   "c BAD Authentication aborted by client.",
                   "d BAD Error in IMAP command AUTHENTICATE: expected an argument."}));
  EXPECT_FALSE(h.session.is_closed());
}

TEST(ImapServer, TooManyAuthFailuresClose) {
  ServerHarness h(tls_config());
  h.run("a LOGIN user x\r\nb LOGIN user y\r\nc LOGIN user z\r\nd NOOP\r\n");
  EXPECT_EQ(after_greeting(h).back(), "* BYE Too many authentication failures.");
  EXPECT_EQ(after_greeting(h).size(), 4u);
  EXPECT_TRUE(h.session.is_closed());
}

TEST(ImapServer, LoginWithQuotedAndLiteralArguments) {
  ServerHarness h(tls_config());
  h.run("a1 LOGIN \"user\" {4}\r\n");
  EXPECT_EQ(after_greeting(h), (Lines{"+ Ready for literal data"}));
  h.run("pass\r\n");
  EXPECT_EQ(after_greeting(h).back(), "a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+] Logged in");
  ServerHarness plus(tls_config());
  plus.run("a1 LOGIN {4+}\r\nuser {4+}\r\npass\r\n");
  EXPECT_EQ(after_greeting(plus),
            (Lines{"a1 OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+] Logged in"}));
  plus.run("a2 LOGIN user pass\r\n");
  EXPECT_EQ(after_greeting(plus).back(), "a2 BAD Already authenticated.");
}

TEST(ImapServer, LoginRefusedBeforeTls) {
  ServerConfig c;
  c.tls_available = true;
  ServerHarness h(c);
  h.run(
      "a LOGIN user pass\r\nb LOGIN user {4}\r\nc AUTHENTICATE PLAIN\r\nd AUTHENTICATE "
      "CRAM-MD5\r\n");
  EXPECT_EQ(after_greeting(h), (Lines{"a NO [PRIVACYREQUIRED] Plaintext authentication disallowed "
                                      "on non-secure (SSL/TLS) connections.",
                                      "b NO [PRIVACYREQUIRED] Plaintext authentication disallowed "
                                      "on non-secure (SSL/TLS) connections.",
                                      "c NO [PRIVACYREQUIRED] Plaintext authentication disallowed "
                                      "on non-secure (SSL/TLS) connections.",
                                      "d NO Unsupported authentication mechanism."}));
  c.plaintext_without_tls = true;
  ServerHarness allowed(c);
  allowed.run("a LOGIN user pass\r\n");
  EXPECT_EQ(after_greeting(allowed).back(),
            "a OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+] Logged in");
}

// Bytes pipelined after STARTTLS are dropped; after the handshake the session starts over.
TEST(ImapServer, StartTlsDropsInjectedCommands) {
  ServerConfig c;
  c.tls_available = true;
  c.plaintext_without_tls = true;
  ServerHarness h(c);
  h.run("a STARTTLS\r\nb LOGIN user pass\r\n");
  EXPECT_EQ(after_greeting(h), (Lines{"a OK Begin TLS negotiation now."}));
  h.run("c LOGIN user pass\r\n");
  EXPECT_EQ(after_greeting(h).size(), 1u);
  EXPECT_EQ(testing::describe_all(h.events), (Lines{"completed a STARTTLS OK", "starttls"}));
  EXPECT_FALSE(h.session.wants_read());
  EXPECT_EQ(h.session.on_tls_established(h.now), std::error_code{});
  EXPECT_EQ(h.session.on_tls_established(h.now), server_errc::not_awaiting_tls);
  h.run("d CAPABILITY\r\ne STARTTLS\r\n");
  EXPECT_EQ(after_greeting(h),
            (Lines{"a OK Begin TLS negotiation now.",
                   "* CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR AUTH=PLAIN AUTH=LOGIN",
                   "d OK Capability completed.", "e BAD TLS is already active."}));
  EXPECT_FALSE(h.session.authenticated());
}

TEST(ImapServer, UnknownAndUnsupportedCommands) {
  ServerHarness h(tls_config());
  h.run(
      "a SELECT INBOX\r\nb FROB\r\n\r\n+x NOOP\r\nc NOOP extra\r\nd LOGIN onlyone\r\ne SELECT "
      "{3}\r\n");
  EXPECT_EQ(after_greeting(h),
            (Lines{"a NO Command not available in this service.", "b BAD Unknown command.",
                   "* BAD Error in IMAP command received by server.",
                   "* BAD Error in IMAP command received by server.",
                   "c BAD Error in IMAP command NOOP: Unexpected arguments.",
                   "d BAD Invalid arguments.", "e NO Command not available in this service."}));
}

TEST(ImapServer, TooManyBadCommandsClose) {
  ServerConfig c = tls_config();
  c.bad_commands_max = 3;
  ServerHarness h(c);
  const std::string rest = h.run("a X\r\nb X\r\nc X\r\nd NOOP\r\n");
  EXPECT_EQ(after_greeting(h),
            (Lines{"a BAD Unknown command.", "b BAD Unknown command.", "c BAD Unknown command.",
                   "* BYE Too many invalid IMAP commands."}));
  EXPECT_EQ(rest, "d NOOP\r\n");
  EXPECT_EQ(testing::describe(h.events.back()), "closed 1");
}

TEST(ImapServer, LogoutSaysByeThenOk) {
  ServerHarness h(tls_config());
  h.run("A023 LOGOUT\r\n");
  EXPECT_EQ(after_greeting(h), (Lines{"* BYE Logging out", "A023 OK Logout completed."}));
  EXPECT_TRUE(h.session.is_closed());
}

TEST(ImapServer, LineLimitAtNAndNPlusOne) {
  ServerConfig c = tls_config();
  c.limits.line_bytes_max = 16;
  ServerHarness ok(c);
  ok.run("a NOOP" + std::string(8, ' ') + "\r\n");  // 16 bytes: read, then refused as syntax
  EXPECT_FALSE(ok.session.is_closed());
  ServerHarness over(c);
  over.run("a NOOP" + std::string(9, ' ') + "\r\n");
  EXPECT_EQ(after_greeting(over), (Lines{"* BYE [TOOBIG] Command line too long."}));
  EXPECT_TRUE(over.session.is_closed());
}

TEST(ImapServer, LiteralLimitAtNAndNPlusOne) {
  ServerConfig c = tls_config();
  c.limits.literal_bytes_max = 4;
  ServerHarness h(c);
  h.run("a LOGIN {4}\r\nuser {5}\r\n");
  EXPECT_EQ(after_greeting(h),
            (Lines{"+ Ready for literal data", "a BAD [TOOBIG] Literal too large."}));
  h.run("b LOGIN user {5+}\r\npass5\r\nc LOGIN user {4+}\r\npass\r\n");
  EXPECT_EQ(after_greeting(h).back(), "c OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+] Logged in");
  EXPECT_EQ(after_greeting(h)[2], "b BAD [TOOBIG] Literal too large.");
}

TEST(ImapServer, IdleTimeoutSaysBye) {
  ServerConfig c = tls_config();
  c.idle_timeout = Duration::seconds(10);
  ServerHarness h(c);
  EXPECT_EQ(h.session.poll_timeout(), Instant{0} + Duration::seconds(10));
  h.session.on_timeout(Instant{0} + Duration::seconds(9));
  EXPECT_FALSE(h.session.is_closed());
  h.session.on_timeout(Instant{0} + Duration::seconds(10));
  h.drain();
  EXPECT_EQ(after_greeting(h), (Lines{"* BYE Disconnected for inactivity."}));
}

TEST(ImapServer, DecisionMisuseChangesNothing) {
  ServerHarness h(tls_config());
  h.policy = nullptr;
  h.session.feed(std::string_view("a LOGIN user pass\r\nb NOOP\r\n"), h.now);
  auto event = h.session.poll_event();
  ASSERT_TRUE(event.has_value());
  const auto& verify = std::get<VerifyEvent>(*event);
  EXPECT_EQ(h.session.decide(verify.ticket + 1, Verified{true}, h.now),
            server_errc::no_pending_decision);
  EXPECT_EQ(h.session.decide(verify.ticket, Secret{"x"}, h.now), server_errc::wrong_decision_kind);
  EXPECT_EQ(h.session.decide(verify.ticket, Verified{true}, h.now), std::error_code{});
  EXPECT_EQ(h.session.decide(verify.ticket, Verified{true}, h.now),
            server_errc::no_pending_decision);
}

TEST(ImapServer, CramMd5UsesTheSecretDecision) {
  ServerConfig c = tls_config();
  c.auth_mechanisms = {"CRAM-MD5"};
  c.sasl.cram_md5_challenge = "<1896.697170952@postoffice.reston.mci.net>";
  ServerHarness h(c);
  // RFC 2195's example: user "tim", secret "tanstaaftanstaaf".
  h.policy = [](const VerifyEvent&) -> ServerDecision { return Secret{"tanstaaftanstaaf"}; };
  h.run("a AUTHENTICATE CRAM-MD5\r\n");
  EXPECT_EQ(after_greeting(h),
            (Lines{"+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+"}));
  h.run("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n");
  EXPECT_EQ(after_greeting(h).back(), "a OK [CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+] Logged in");
}

}  // namespace
}  // namespace tern::protocol::imap
