#include "protocol/smtp/client_session.hpp"

#include <gtest/gtest.h>

namespace tern::protocol::smtp {
namespace {

// Drives a client against scripted server text and records what it sends and reports.
struct Script {
  ClientSession client;
  std::string sent;
  std::vector<ClientEvent> events;
  Instant now{0};

  explicit Script(ClientConfig config = {}) : client(std::move(config), Instant{0}) {}

  // Feeds `server_text`, collects output and events; returns what was sent meanwhile.
  std::string server(std::string_view server_text) {
    const std::size_t before = sent.size();
    EXPECT_EQ(client.feed(server_text, now), server_text.size());
    collect();
    return sent.substr(before);
  }
  void collect() {
    auto out = client.pending_output();
    sent.append(out.data(), out.size());
    client.consume_output(out.size());
    while (auto e = client.poll_event()) events.push_back(*e);
  }
  template <class E>
  std::vector<E> all() const {
    std::vector<E> out;
    for (const auto& e : events) {
      if (const auto* x = std::get_if<E>(&e)) out.push_back(*x);
    }
    return out;
  }
};

Envelope envelope_to(std::initializer_list<const char*> recipients) {
  Envelope e;
  e.sender = *parse_reverse_path("<s@example.org>", {});
  for (const char* r : recipients) e.recipients.push_back(Rcpt{*parse_forward_path(r, {}), {}});
  return e;
}

constexpr std::string_view kEhlo =
    "250-mx.example.com\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 1000\r\n250 "
    "ENHANCEDSTATUSCODES\r\n";

TEST(ClientSession, PipelinedTransactionAndConnectionReuse) {
  ClientConfig config;
  config.helo_name = "client.example.org";
  Script s(config);
  EXPECT_EQ(s.server("220 mx.example.com ESMTP\r\n"), "EHLO client.example.org\r\n");
  EXPECT_EQ(s.server(kEhlo), "");
  ASSERT_EQ(s.all<ReadyEvent>().size(), 1u);
  EXPECT_TRUE(s.all<ReadyEvent>()[0].capabilities.pipelining);
  EXPECT_EQ(s.all<ReadyEvent>()[0].capabilities.size, 1000u);

  ASSERT_FALSE(s.client.submit(envelope_to({"<a@example.com>", "<b@example.com>"}), s.now));
  s.collect();
  EXPECT_EQ(s.sent.substr(25),
            "MAIL FROM:<s@example.org>\r\nRCPT TO:<a@example.com>\r\n"
            "RCPT TO:<b@example.com>\r\nDATA\r\n");
  s.server("250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 unknown\r\n354 go\r\n");
  ASSERT_EQ(s.all<BodyWantedEvent>().size(), 1u);
  ASSERT_EQ(s.all<RecipientEvent>().size(), 1u);
  EXPECT_EQ(s.all<RecipientEvent>()[0].index, 1u);
  EXPECT_EQ(s.all<RecipientEvent>()[0].outcome, Outcome::permanent_failure);
  EXPECT_EQ(s.all<RecipientEvent>()[0].reply.enhanced, (EnhancedStatus{5, 1, 1}));
  const std::size_t before = s.sent.size();
  ASSERT_FALSE(s.client.send_body(std::string_view(".hidden\nline\r"), s.now));
  ASSERT_FALSE(s.client.end_body(s.now));
  s.collect();
  EXPECT_EQ(s.sent.substr(before), "..hidden\r\nline\r\n.\r\n");
  s.server("250 2.0.0 queued as X\r\n");
  ASSERT_EQ(s.all<RecipientEvent>().size(), 2u);
  EXPECT_EQ(s.all<RecipientEvent>()[1].index, 0u);
  EXPECT_EQ(s.all<RecipientEvent>()[1].outcome, Outcome::delivered);
  EXPECT_EQ(s.all<MessageDoneEvent>().size(), 1u);
  EXPECT_EQ(s.all<ReadyEvent>().size(), 2u);  // ready for the next message on this connection
  EXPECT_TRUE(s.client.is_ready());
  s.client.quit(s.now);
  s.collect();
  EXPECT_EQ(s.sent.substr(s.sent.size() - 6), "QUIT\r\n");
  s.server("221 bye\r\n");
  EXPECT_TRUE(s.client.is_closed());
}

TEST(ClientSession, WithoutPipeliningCommandsGoOneAtATime) {
  Script s;
  s.server("220 mx\r\n");
  s.server("250 mx\r\n");
  ASSERT_FALSE(s.client.submit(envelope_to({"<a@example.com>", "<b@example.com>"}), s.now));
  s.collect();
  EXPECT_EQ(s.sent, "EHLO localhost\r\nMAIL FROM:<s@example.org>\r\n");
  EXPECT_EQ(s.server("250 ok\r\n"), "RCPT TO:<a@example.com>\r\n");
  EXPECT_EQ(s.server("450 try later\r\n"), "RCPT TO:<b@example.com>\r\n");
  EXPECT_EQ(s.server("250 ok\r\n"), "DATA\r\n");
  EXPECT_EQ(s.all<RecipientEvent>()[0].outcome, Outcome::temporary_failure);
}

TEST(ClientSession, AllRecipientsRefusedSendsNoBodyAndResetsBeforeTheNextMail) {
  Script s;
  s.server("220 mx\r\n");
  s.server(kEhlo);
  ASSERT_FALSE(s.client.submit(envelope_to({"<a@example.com>"}), s.now));
  s.collect();
  s.server("250 ok\r\n550 no\r\n554 5.5.1 no valid recipients\r\n");
  EXPECT_TRUE(s.all<BodyWantedEvent>().empty());
  EXPECT_EQ(s.all<MessageDoneEvent>().size(), 1u);
  ASSERT_FALSE(s.client.submit(envelope_to({"<c@example.com>"}), s.now));
  const std::size_t before = s.sent.size();
  s.collect();
  EXPECT_EQ(s.sent.substr(before, 6), "RSET\r\n");
}

TEST(ClientSession, A421ToPipelinedMailIsEveryRecipientsReplyWhenTheServerHangsUp) {
  Script s;
  s.server("220 mx\r\n");
  s.server(kEhlo);
  ASSERT_FALSE(s.client.submit(envelope_to({"<a@example.com>", "<b@example.com>"}), s.now));
  s.collect();
  s.server("421 4.3.2 Server closing connection\r\n");
  s.client.feed_eof(s.now);
  s.collect();
  const auto rcpts = s.all<RecipientEvent>();
  ASSERT_EQ(rcpts.size(), 2u);
  for (const auto& r : rcpts) {
    EXPECT_EQ(r.outcome, Outcome::temporary_failure);
    EXPECT_EQ(r.reply.code, 421);
    EXPECT_EQ(r.reply.lines, std::vector<std::string>{"Server closing connection"});
  }
}

TEST(ClientSession, EhloRefusedFallsBackToHelo) {
  Script s;
  s.server("220 old.example\r\n");
  EXPECT_EQ(s.server("502 5.5.1 what\r\n"), "HELO localhost\r\n");
  s.server("250 old.example\r\n");
  ASSERT_EQ(s.all<ReadyEvent>().size(), 1u);
  EXPECT_FALSE(s.all<ReadyEvent>()[0].capabilities.esmtp);
}

TEST(ClientSession, RefusedGreetingFailsPermanentlyAndQuits) {
  Script s;
  EXPECT_EQ(s.server("554 5.7.1 no service for you\r\n"), "QUIT\r\n");
  ASSERT_EQ(s.all<SessionFailedEvent>().size(), 1u);
  EXPECT_EQ(s.all<SessionFailedEvent>()[0].outcome, Outcome::permanent_failure);
  EXPECT_EQ(s.client.submit(envelope_to({"<a@example.com>"}), s.now), client_errc::not_ready);
}

TEST(ClientSession, StartTlsDiscardsInjectedRepliesAndSaysEhloAgain) {
  ClientConfig config;
  config.starttls = StartTlsPolicy::require;
  Script s(config);
  s.server("220 mx\r\n");
  EXPECT_EQ(s.server("250-mx\r\n250 STARTTLS\r\n"), "STARTTLS\r\n");
  s.server("220 2.0.0 go ahead\r\n250 injected before the handshake\r\n");
  ASSERT_EQ(s.all<ClientStartTlsEvent>().size(), 1u);
  EXPECT_FALSE(s.client.wants_read());
  ASSERT_FALSE(s.client.on_tls_established(s.now));
  s.collect();
  EXPECT_EQ(s.sent.substr(s.sent.size() - 16), "EHLO localhost\r\n");
  s.server("250 mx\r\n");
  ASSERT_EQ(s.all<ReadyEvent>().size(), 1u);
  EXPECT_TRUE(s.all<ReadyEvent>()[0].tls_active);
}

TEST(ClientSession, RequiredTlsNotOfferedIsATemporaryFailure) {
  ClientConfig config;
  config.starttls = StartTlsPolicy::require;
  Script s(config);
  s.server("220 mx\r\n");
  EXPECT_EQ(s.server("250 mx\r\n"), "QUIT\r\n");
  ASSERT_EQ(s.all<SessionFailedEvent>().size(), 1u);
  EXPECT_EQ(s.all<SessionFailedEvent>()[0].outcome, Outcome::temporary_failure);
}

TEST(ClientSession, AuthPlainThenLoginChallenges) {
  ClientConfig config;
  config.tls_active = true;
  config.auth = ClientAuth{{"PLAIN"}, {.username = "user", .password = "pass"}};
  Script s(config);
  s.server("220 mx\r\n");
  EXPECT_EQ(s.server("250-mx\r\n250 AUTH LOGIN PLAIN\r\n"), "AUTH PLAIN AHVzZXIAcGFzcw==\r\n");
  s.server("235 2.7.0 ok\r\n");
  ASSERT_EQ(s.all<ReadyEvent>().size(), 1u);
  EXPECT_TRUE(s.all<ReadyEvent>()[0].authenticated);

  config.auth = ClientAuth{{"LOGIN"}, {.username = "user", .password = "pass"}};
  Script login(config);
  login.server("220 mx\r\n");
  EXPECT_EQ(login.server("250-mx\r\n250 AUTH LOGIN PLAIN\r\n"), "AUTH LOGIN\r\n");
  EXPECT_EQ(login.server("334 VXNlcm5hbWU6\r\n"), "dXNlcg==\r\n");
  EXPECT_EQ(login.server("334 UGFzc3dvcmQ6\r\n"), "cGFzcw==\r\n");
  EXPECT_EQ(login.server("535 5.7.8 bad credentials\r\n"), "QUIT\r\n");
  ASSERT_EQ(login.all<SessionFailedEvent>().size(), 1u);
  EXPECT_EQ(login.all<SessionFailedEvent>()[0].outcome, Outcome::temporary_failure);
}

TEST(ClientSession, NoCredentialsOverAClearConnection) {
  ClientConfig config;
  config.starttls = StartTlsPolicy::disable;
  config.auth = ClientAuth{{"PLAIN"}, {.username = "user", .password = "pass"}};
  Script s(config);
  s.server("220 mx\r\n");
  EXPECT_EQ(s.server("250-mx\r\n250 AUTH PLAIN\r\n"), "QUIT\r\n");
  EXPECT_EQ(s.all<SessionFailedEvent>()[0].reason, "refusing to send credentials without TLS");
}

TEST(ClientSession, AuthOnlyWhenOfferedGoesOnWithoutAuthButNeverSkipsAnOfferedOne) {
  ClientConfig config;
  config.starttls = StartTlsPolicy::disable;
  config.auth = ClientAuth{{"PLAIN"}, {.username = "user", .password = "pass"}};
  config.auth_only_when_offered = true;
  Script none(config);
  none.server("220 store\r\n");
  none.server("250-store\r\n250 PIPELINING\r\n");
  ASSERT_EQ(none.all<ReadyEvent>().size(), 1u);
  EXPECT_FALSE(none.all<ReadyEvent>()[0].authenticated);
  EXPECT_EQ(none.sent.find("AUTH"), std::string::npos);
  // Offered over a clear connection: the TLS rule still holds.
  Script offered(config);
  offered.server("220 store\r\n");
  EXPECT_EQ(offered.server("250-store\r\n250 AUTH PLAIN\r\n"), "QUIT\r\n");
  EXPECT_EQ(offered.all<SessionFailedEvent>()[0].reason,
            "refusing to send credentials without TLS");
  // Without the flag, a server with no AUTH fails the session (a relay that wants AUTH).
  config.auth_only_when_offered = false;
  config.tls_active = true;
  Script strict(config);
  strict.server("220 mx\r\n");
  EXPECT_EQ(strict.server("250-mx\r\n250 PIPELINING\r\n"), "QUIT\r\n");
  EXPECT_EQ(strict.all<SessionFailedEvent>()[0].reason,
            "no AUTH mechanism in common with the server");
}

TEST(ClientSession, LmtpGivesEachAcceptedRecipientItsOwnReply) {
  ClientConfig config;
  config.mode = ClientMode::lmtp;
  Script s(config);
  EXPECT_EQ(s.server("220 store LMTP\r\n"), "LHLO localhost\r\n");
  s.server("250-store\r\n250 PIPELINING\r\n");
  ASSERT_FALSE(s.client.submit(envelope_to({"<a@x.org>", "<b@x.org>", "<c@x.org>"}), s.now));
  s.collect();
  s.server("250 ok\r\n250 ok\r\n550 no\r\n250 ok\r\n354 go\r\n");
  ASSERT_FALSE(s.client.send_body(std::string_view("hi\r\n"), s.now));
  ASSERT_FALSE(s.client.end_body(s.now));
  s.server("250 2.0.0 a ok\r\n");
  EXPECT_TRUE(s.all<MessageDoneEvent>().empty());
  s.server("452 4.2.2 c full\r\n");
  const auto outcomes = s.all<RecipientEvent>();
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_EQ(outcomes[0].index, 1u);
  EXPECT_EQ(outcomes[1].index, 0u);
  EXPECT_EQ(outcomes[1].outcome, Outcome::delivered);
  EXPECT_EQ(outcomes[2].index, 2u);
  EXPECT_EQ(outcomes[2].outcome, Outcome::temporary_failure);
  EXPECT_EQ(s.all<MessageDoneEvent>().size(), 1u);
}

TEST(ClientSession, BinaryBodyGoesByBdatOrFailsPermanently) {
  Script s;
  s.server("220 mx\r\n");
  s.server("250-mx\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 BINARYMIME\r\n");
  Envelope e = envelope_to({"<a@x.org>"});
  e.params.body = BodyType::binary_mime;
  ASSERT_FALSE(s.client.submit(e, s.now));
  s.collect();
  s.server("250 ok\r\n250 ok\r\n");
  ASSERT_EQ(s.all<BodyWantedEvent>().size(), 1u);
  const std::size_t before = s.sent.size();
  ASSERT_FALSE(s.client.send_body(std::string_view("a\nb\0", 4), s.now));
  ASSERT_FALSE(s.client.end_body(s.now));
  s.collect();
  EXPECT_EQ(s.sent.substr(before), std::string("BDAT 4\r\na\nb\0BDAT 0 LAST\r\n", 25));
  s.server("250 ok\r\n250 2.0.0 queued\r\n");
  EXPECT_EQ(s.all<RecipientEvent>()[0].outcome, Outcome::delivered);

  Script old;
  old.server("220 mx\r\n");
  old.server("250-mx\r\n250 PIPELINING\r\n");
  ASSERT_FALSE(old.client.submit(e, old.now));
  old.collect();
  ASSERT_EQ(old.all<RecipientEvent>().size(), 1u);
  EXPECT_EQ(old.all<RecipientEvent>()[0].outcome, Outcome::permanent_failure);
  EXPECT_EQ(old.all<RecipientEvent>()[0].reply.code, 554);
}

// Issue 16: a 5,000-octet line accepted over BDAT was relayed over DATA unchanged. A body
// with a line over 998 octets goes only over BDAT; without CHUNKING it fails permanently.
TEST(ClientSession, ALongLineGoesByBdatOrFailsPermanently) {
  const std::string body = std::string(5000, 'x') + "\r\n";
  Script s;
  s.server("220 mx\r\n");
  s.server("250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n");
  Envelope e = envelope_to({"<a@x.org>"});
  e.long_lines = true;
  ASSERT_FALSE(s.client.submit(e, s.now));
  s.collect();
  s.server("250 ok\r\n250 ok\r\n");
  ASSERT_EQ(s.all<BodyWantedEvent>().size(), 1u);
  const std::size_t before = s.sent.size();
  ASSERT_FALSE(s.client.send_body(body, s.now));
  ASSERT_FALSE(s.client.end_body(s.now));
  s.collect();
  EXPECT_EQ(s.sent.substr(before), "BDAT 5002\r\n" + body + "BDAT 0 LAST\r\n");
  s.server("250 ok\r\n250 2.0.0 queued\r\n");
  EXPECT_EQ(s.all<RecipientEvent>()[0].outcome, Outcome::delivered);

  Script old;
  old.server("220 mx\r\n");
  old.server("250-mx\r\n250 PIPELINING\r\n");
  ASSERT_FALSE(old.client.submit(e, old.now));
  old.collect();
  ASSERT_EQ(old.all<RecipientEvent>().size(), 1u);
  EXPECT_EQ(old.all<RecipientEvent>()[0].outcome, Outcome::permanent_failure);
  EXPECT_EQ(old.all<RecipientEvent>()[0].reply.code, 554);
  EXPECT_EQ(old.sent.find("DATA"), std::string::npos) << old.sent;
}

TEST(ClientSession, ConnectionLostAndTimeoutAreTemporary) {
  Script s;
  s.server("220 mx\r\n");
  s.server(kEhlo);
  ASSERT_FALSE(s.client.submit(envelope_to({"<a@x.org>"}), s.now));
  s.collect();
  s.client.feed_eof(s.now);
  s.collect();
  ASSERT_EQ(s.all<RecipientEvent>().size(), 1u);
  EXPECT_EQ(s.all<RecipientEvent>()[0].outcome, Outcome::temporary_failure);
  EXPECT_TRUE(s.client.is_closed());

  Script t;
  auto deadline = t.client.poll_timeout();
  ASSERT_TRUE(deadline);
  EXPECT_EQ(*deadline, Instant{0} + Duration::minutes(5));
  t.client.on_timeout(*deadline);
  t.collect();
  ASSERT_EQ(t.all<SessionFailedEvent>().size(), 1u);
  EXPECT_EQ(t.all<SessionFailedEvent>()[0].reason, "timeout waiting for the server's reply");
}

TEST(ClientSession, OverlongOrMalformedRepliesEndTheSession) {
  ClientConfig config;
  config.replies.line_bytes_max = 64;
  Script s(config);
  s.client.feed(std::string(100, '2'), s.now);
  s.collect();
  ASSERT_EQ(s.all<SessionFailedEvent>().size(), 1u);
  EXPECT_TRUE(s.client.is_closed());
  Script bad;
  bad.server("hello\r\n");
  EXPECT_EQ(bad.all<SessionFailedEvent>().size(), 1u);
}

TEST(ClientSession, MisuseIsRefused) {
  Script s;
  EXPECT_EQ(s.client.submit(envelope_to({"<a@x.org>"}), s.now), client_errc::not_ready);
  EXPECT_EQ(s.client.send_body(std::string_view("x"), s.now), client_errc::body_not_wanted);
  EXPECT_EQ(s.client.on_tls_established(s.now), client_errc::not_awaiting_tls);
  s.server("220 mx\r\n");
  s.server("250 mx\r\n");
  EXPECT_EQ(s.client.submit(Envelope{}, s.now), client_errc::no_recipients);
}

Envelope probe_to(std::initializer_list<const char*> recipients) {
  Envelope e = envelope_to(recipients);
  e.sender = ReversePath{};
  e.probe_only = true;
  return e;
}

TEST(ClientSession, ProbeSendsMailAndRcptsButNeverData) {
  Script s;
  s.server("220 mx\r\n");
  s.server(kEhlo);
  ASSERT_FALSE(s.client.submit(probe_to({"<a@x.org>", "<b@x.org>", "<c@x.org>"}), s.now));
  const std::size_t before = s.sent.size();
  s.collect();
  EXPECT_EQ(s.sent.substr(before),
            "MAIL FROM:<>\r\nRCPT TO:<a@x.org>\r\nRCPT TO:<b@x.org>\r\nRCPT TO:<c@x.org>\r\n");
  EXPECT_EQ(s.server("250 ok\r\n251 2.1.5 forwarded\r\n550 5.1.1 unknown\r\n450 4.2.1 later\r\n"),
            "");
  EXPECT_TRUE(s.all<BodyWantedEvent>().empty());
  const auto r = s.all<RecipientEvent>();
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].index, 1u);  // refusals are reported as they come, acceptances at the end
  EXPECT_EQ(r[0].outcome, Outcome::permanent_failure);
  EXPECT_EQ(r[0].reply.code, 550);
  EXPECT_EQ(r[1].index, 2u);
  EXPECT_EQ(r[1].outcome, Outcome::temporary_failure);
  EXPECT_EQ(r[1].reply.code, 450);
  EXPECT_EQ(r[2].index, 0u);
  EXPECT_EQ(r[2].outcome, Outcome::delivered);
  EXPECT_EQ(r[2].reply.code, 251);
  EXPECT_EQ(s.all<MessageDoneEvent>().size(), 1u);
  EXPECT_EQ(s.all<ReadyEvent>().size(), 2u);
  EXPECT_TRUE(s.client.is_ready());
  // The next probe clears the transaction first, in the same flight.
  ASSERT_FALSE(s.client.submit(probe_to({"<d@x.org>"}), s.now));
  const std::size_t second = s.sent.size();
  s.collect();
  EXPECT_EQ(s.sent.substr(second), "RSET\r\nMAIL FROM:<>\r\nRCPT TO:<d@x.org>\r\n");
  s.server("250 reset\r\n250 ok\r\n250 ok\r\n");
  ASSERT_EQ(s.all<RecipientEvent>().size(), 4u);
  EXPECT_EQ(s.all<RecipientEvent>()[3].index, 0u);
  EXPECT_EQ(s.all<RecipientEvent>()[3].outcome, Outcome::delivered);
  EXPECT_EQ(s.all<MessageDoneEvent>().size(), 2u);
  EXPECT_EQ(s.all<ReadyEvent>().size(), 3u);
  s.client.quit(s.now);
  EXPECT_EQ(s.server(""), "QUIT\r\n");
}

TEST(ClientSession, ProbeWithoutPipeliningGoesOneAtATime) {
  Script s;
  s.server("220 mx\r\n");
  s.server("250 mx\r\n");
  ASSERT_FALSE(s.client.submit(probe_to({"<a@x.org>", "<b@x.org>"}), s.now));
  s.collect();
  EXPECT_EQ(s.sent, "EHLO localhost\r\nMAIL FROM:<>\r\n");
  EXPECT_EQ(s.server("250 ok\r\n"), "RCPT TO:<a@x.org>\r\n");
  EXPECT_EQ(s.server("250 ok\r\n"), "RCPT TO:<b@x.org>\r\n");
  EXPECT_EQ(s.server("553 5.1.3 bad\r\n"), "");
  const auto r = s.all<RecipientEvent>();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].index, 1u);
  EXPECT_EQ(r[0].outcome, Outcome::permanent_failure);
  EXPECT_EQ(r[1].index, 0u);
  EXPECT_EQ(r[1].outcome, Outcome::delivered);
  EXPECT_TRUE(s.client.is_ready());
}

TEST(ClientSession, ProbeWithRefusedMailIsTemporaryForEveryRecipient) {
  for (const bool pipelining : {true, false}) {
    Script s;
    s.server("220 mx\r\n");
    s.server(pipelining ? kEhlo : std::string_view("250 mx\r\n"));
    ASSERT_FALSE(s.client.submit(probe_to({"<a@x.org>", "<b@x.org>"}), s.now));
    s.collect();
    s.server(pipelining ? "553 5.1.7 bad sender\r\n503 no mail\r\n503 no mail\r\n"
                        : "553 5.1.7 bad sender\r\n");
    const auto r = s.all<RecipientEvent>();
    ASSERT_EQ(r.size(), 2u) << pipelining;
    EXPECT_EQ(r[0].outcome, Outcome::temporary_failure);
    EXPECT_EQ(r[0].reply.code, 553);
    EXPECT_EQ(r[1].outcome, Outcome::temporary_failure);
    EXPECT_EQ(s.all<MessageDoneEvent>().size(), 1u);
    EXPECT_TRUE(s.client.is_ready());
  }
}

TEST(ClientSession, ProbeIgnoresBodyTypeAndChunking) {
  ClientConfig config;
  config.use_chunking = true;
  Script s(config);
  s.server("220 mx\r\n");
  s.server("250-mx\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 BINARYMIME\r\n");
  Envelope e = probe_to({"<a@x.org>"});
  e.params.body = BodyType::binary_mime;
  ASSERT_FALSE(s.client.submit(e, s.now));
  s.server("250 ok\r\n250 ok\r\n");
  ASSERT_EQ(s.all<RecipientEvent>().size(), 1u);
  EXPECT_EQ(s.all<RecipientEvent>()[0].outcome, Outcome::delivered);
  EXPECT_EQ(s.sent.find("BDAT"), std::string::npos);
  EXPECT_TRUE(s.client.is_ready());
}

}  // namespace
}  // namespace tern::protocol::smtp
