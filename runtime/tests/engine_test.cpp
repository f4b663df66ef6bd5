// Engine tests: the receiving engine (runtime::Server) on the simulated Io, configured from
// TOML through the same config path ternd uses. No sockets, no files, no real time.
#include <algorithm>
#include <map>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "runtime/outbound/tests/smtp_peer.hpp"
#include "runtime/tests/engine_fixture.hpp"

namespace tern::runtime {
namespace {

using namespace testing;  // NOLINT(google-build-using-namespace): the fixture

TEST_F(EngineTest, AcceptsAMessageForALocalUserAndDeliversItToMaildir) {
  auto peer = connect();
  EXPECT_EQ(io_.peer_take(peer), "220 mx.example.org ESMTP Tern\r\n");
  EXPECT_NE(say(peer, "EHLO client.example\r\n").find("250 "), std::string::npos);
  EXPECT_EQ(say(peer, "MAIL FROM:<zed@remote.example>\r\n"), "250 2.1.0 Sender OK\r\n");
  EXPECT_EQ(say(peer, "RCPT TO:<ann@example.org>\r\n"), "250 2.1.5 Recipient OK\r\n");
  EXPECT_EQ(say(peer, "DATA\r\n").substr(0, 4), "354 ");
  const auto reply = say(peer, "Subject: hi\r\n\r\nHello\r\n..dot\r\n.\r\n", Duration::seconds(1));
  ASSERT_EQ(reply.substr(0, 24), "250 2.0.0 Ok: queued as ") << reply;
  EXPECT_EQ(say(peer, "QUIT\r\n").substr(0, 4), "221 ");
  io_.run_for(Duration::seconds(5));
  const auto message = only_maildir("ann");
  EXPECT_EQ(message.substr(0, 66),
            "Return-Path: <zed@remote.example>\r\nDelivered-To: ann@example.org\r\n");
  EXPECT_NE(message.find("Received: from client.example ([192.0.2.1])\r\n\tby mx.example.org "
                         "(Tern) with ESMTP id "),
            std::string::npos);
  EXPECT_NE(message.find("\tfor <ann@example.org>; "), std::string::npos);
  EXPECT_EQ(message.substr(message.size() - 28), "Subject: hi\r\n\r\nHello\r\n.dot\r\n");
  EXPECT_TRUE(io_.spool_envelopes().empty()) << "delivered messages leave the spool";
  EXPECT_TRUE(io_.peer_closed_by_engine(peer));
}

TEST_F(EngineTest, TheReplyToDataComesOnlyAfterTheMessageIsDurable) {
  auto peer = connect();
  say(peer, "EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<ann@example.org>\r\nDATA\r\n");
  io_.peer_send(peer, "x\r\n.\r\n");
  std::string seen;
  bool durable_before_reply = false;
  io_.run_until(
      [&] {
        seen += io_.peer_take(peer);
        if (seen.find("250 2.0.0") != std::string::npos) {
          durable_before_reply = !io_.spool_envelopes().empty() || !io_.maildir("ann").empty();
          return true;
        }
        return false;
      },
      Duration::seconds(5));
  EXPECT_TRUE(durable_before_reply) << seen;
}

TEST_F(EngineTest, UnknownLocalUserIs550_5_1_1) {
  auto peer = connect();
  say(peer, "EHLO c\r\nMAIL FROM:<a@b.example>\r\n");
  EXPECT_EQ(say(peer, "RCPT TO:<nobody@example.org>\r\n"), "550 5.1.1 Mailbox does not exist\r\n");
  EXPECT_EQ(say(peer, "RCPT TO:<nobody@EXAMPLE.org>\r\n"), "550 5.1.1 Mailbox does not exist\r\n");
}

TEST_F(EngineTest, RelayIsDeniedWhateverTheAddressForm) {
  auto peer = connect();
  say(peer, "EHLO c\r\nMAIL FROM:<a@b.example>\r\n");
  const char* relayed[] = {"<victim@remote.example>", "<@example.org:victim@remote.example>",
                           "<@example.org,@hop.example:victim@remote.example>",
                           "<victim@[192.0.2.9]>", "<victim@REMOTE.example>"};
  for (const char* rcpt : relayed) {
    EXPECT_EQ(say(peer, std::string("RCPT TO:") + rcpt + "\r\n"),
              "550 5.7.1 Relay access denied\r\n")
        << rcpt;
  }
  // Forms whose domain is ours are local parts to us: unknown users, never relayed.
  const char* local_forms[] = {"<victim%remote.example@example.org>",
                               "<remote.example!victim@example.org>",
                               "<\"victim@remote.example\"@example.org>"};
  for (const char* rcpt : local_forms) {
    EXPECT_EQ(say(peer, std::string("RCPT TO:") + rcpt + "\r\n"),
              "550 5.1.1 Mailbox does not exist\r\n")
        << rcpt;
  }
}

TEST_F(EngineTest, DirectoryDownGives4xxNever5xx) {
  directory_->down = true;
  auto peer = connect();
  say(peer, "EHLO c\r\nMAIL FROM:<a@b.example>\r\n");
  EXPECT_EQ(say(peer, "RCPT TO:<ann@example.org>\r\n"),
            "451 4.4.3 Directory unavailable, try again later\r\n");
}

TEST_F(EngineTest, AuthenticatedUsersMayRelayButOnlyAsThemselves) {
  auto peer = connect();
  say(peer, "EHLO c\r\nSTARTTLS\r\n");
  io_.peer_start_tls(peer);
  io_.run_for(Duration::milliseconds(100));
  const auto ehlo = say(peer, "EHLO c\r\n");
  ASSERT_NE(ehlo.find("AUTH PLAIN LOGIN"), std::string::npos) << ehlo;
  // "\0ann\0secret"
  EXPECT_EQ(ehlo.find("DSN"), std::string::npos) << "the default offers DSN after AUTH only";
  EXPECT_EQ(say(peer, "AUTH PLAIN AGFubgBzZWNyZXQ=\r\n"),
            "235 2.7.0 Authentication successful\r\n");
  EXPECT_NE(say(peer, "EHLO c\r\n").find("250-DSN\r\n"), std::string::npos);
  EXPECT_EQ(say(peer, "MAIL FROM:<bob@example.org>\r\n"),
            "553 5.7.1 Sender address not owned by the authenticated user\r\n");
  EXPECT_EQ(say(peer, "MAIL FROM:<ann@example.org>\r\n"), "250 2.1.0 Sender OK\r\n");
  EXPECT_EQ(say(peer, "RCPT TO:<friend@remote.example>\r\n"), "250 2.1.5 Recipient OK\r\n");
  say(peer, "DATA\r\n");
  EXPECT_EQ(say(peer, "x\r\n.\r\n", Duration::seconds(1)).substr(0, 24),
            "250 2.0.0 Ok: queued as ");
  io_.run_for(Duration::seconds(5));
  // remote.example has no DNS record at all (NXDOMAIN): the recipient fails at once and the
  // failure DSN reaches ann, who submitted the message.
  EXPECT_TRUE(io_.spool_envelopes().empty());
  const auto box = io_.maildir("ann");
  ASSERT_EQ(box.size(), 1u);
  EXPECT_NE(box.begin()->second.find("Status: 5.1.2"), std::string::npos) << box.begin()->second;
  EXPECT_NE(box.begin()->second.find("the domain remote.example does not exist"),
            std::string::npos);
}

TEST_F(EngineTest, FailedAuthWaitsTheSameForUnknownUsersAndWrongPasswords) {
  auto peer = connect();
  say(peer, "EHLO c\r\nSTARTTLS\r\n");
  io_.peer_start_tls(peer);
  io_.run_for(Duration::milliseconds(100));
  say(peer, "EHLO c\r\n");
  for (const char* attempt : {"AUTH PLAIN AGFubgB3cm9uZw==\r\n",         // ann / wrong
                              "AUTH PLAIN AG5vYm9keQBzZWNyZXQ=\r\n"}) {  // nobody / secret
    io_.peer_send(peer, attempt);
    io_.run_for(Duration::milliseconds(1900));
    EXPECT_EQ(io_.peer_take(peer), "") << "the failure must not come before errors.wait";
    io_.run_for(Duration::milliseconds(200));
    EXPECT_EQ(io_.peer_take(peer), "535 5.7.8 Authentication credentials invalid\r\n");
  }
  directory_->down = true;
  say(peer, "AUTH PLAIN AGFubgBzZWNyZXQ=\r\n", Duration::seconds(3));
  // The third failure closes the session (errors.total = 3): 454 is not a client fault.
}

TEST_F(EngineTest, NonFqdnHeloIsRefusedWhenConfigured) {
  // The fixture leaves session.ehlo.reject-non-fqdn at its default (false).
  auto peer = connect();
  io_.peer_take(peer);
  EXPECT_EQ(say(peer, "EHLO localhost\r\n").substr(0, 4), "250-");
  auto settings = std::make_shared<EngineSettings>(*settings_);
  auto loaded = config::load_string("[session.ehlo]\nreject-non-fqdn = true\n", "t.toml");
  auto model = config::build_route_model(loaded.config);
  ASSERT_TRUE(model.ok());
  settings->session["session.ehlo.reject-non-fqdn"] =
      model.model.session.at("session.ehlo.reject-non-fqdn");
  server_->reload(settings);
  auto strict = connect();
  io_.peer_take(strict);
  EXPECT_EQ(say(strict, "EHLO localhost\r\n"),
            "550 5.5.2 The EHLO name must be a fully qualified domain name\r\n");
  EXPECT_EQ(say(strict, "EHLO [192.0.2.1]\r\n").substr(0, 4), "250-");
  EXPECT_EQ(say(strict, "EHLO client.example\r\n").substr(0, 4), "250-");
  // Sessions that started before the reload keep their settings.
  EXPECT_EQ(say(peer, "EHLO localhost\r\n").substr(0, 4), "250-");
}

// session.extensions.vrfy / .expn: off by default (the machine answers 252 / 502 without a
// lookup); where the policy offers them, the argument is looked up as RCPT would.
TEST_F(EngineTest, VrfyAndExpnAreAnsweredOnlyWhereThePolicyOffersThem) {
  auto peer = connect();
  io_.peer_take(peer);
  const auto plain = say(peer, "EHLO c\r\n");
  EXPECT_EQ(plain.find("VRFY"), std::string::npos) << plain;
  EXPECT_EQ(say(peer, "VRFY ann@example.org\r\n").substr(0, 4), "252 ");
  EXPECT_EQ(say(peer, "EXPN ann@example.org\r\n").substr(0, 4), "502 ");
  auto settings = std::make_shared<EngineSettings>(*settings_);
  auto loaded = config::load_string(
      "[session.extensions]\nvrfy = true\nexpn = [{ if = \"listener == 'lmtp'\", then = true }, "
      "{ else = false }]\n",
      "t.toml");
  auto model = config::build_route_model(loaded.config);
  ASSERT_TRUE(model.ok());
  for (const auto* key : {"session.extensions.vrfy", "session.extensions.expn"})
    settings->session[key] = model.model.session.at(key);
  server_->reload(settings);
  auto smtp = connect();
  io_.peer_take(smtp);
  const auto ehlo = say(smtp, "EHLO c\r\n");
  EXPECT_NE(ehlo.find("250-VRFY\r\n"), std::string::npos) << ehlo;
  EXPECT_EQ(ehlo.find("EXPN"), std::string::npos) << ehlo;
  EXPECT_EQ(say(smtp, "VRFY ann@example.org\r\n"), "250 2.1.5 <ann@example.org>\r\n");
  EXPECT_EQ(say(smtp, "VRFY Ann Example <bob@example.org>\r\n"), "250 2.1.5 <bob@example.org>\r\n");
  EXPECT_EQ(say(smtp, "VRFY <nobody@example.org>\r\n"), "550 5.1.1 Mailbox does not exist\r\n");
  const std::string cannot =
      "252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery\r\n";
  EXPECT_EQ(say(smtp, "VRFY ann\r\n"), cannot) << "a bare user name is not looked up";
  EXPECT_EQ(say(smtp, "VRFY zed@remote.example\r\n"), cannot) << "only the next hop knows";
  EXPECT_EQ(say(smtp, "EXPN ann@example.org\r\n").substr(0, 4), "502 ");
  directory_->down = true;
  EXPECT_EQ(say(smtp, "VRFY ann@example.org\r\n"),
            "451 4.4.3 Directory unavailable, try again later\r\n");
  directory_->down = false;
  auto lmtp = connect(kLmtp);
  io_.peer_take(lmtp);
  EXPECT_NE(say(lmtp, "LHLO c\r\n").find("250-EXPN\r\n"), std::string::npos);
  EXPECT_EQ(say(lmtp, "EXPN ann@example.org\r\n"), "250 2.1.5 <ann@example.org>\r\n");
}

TEST_F(EngineTest, AuthIsNotOfferedBeforeTls) {
  auto peer = connect();
  const auto ehlo = say(peer, "EHLO c\r\n");
  EXPECT_EQ(ehlo.find("AUTH"), std::string::npos) << ehlo;
  EXPECT_NE(ehlo.find("STARTTLS"), std::string::npos) << ehlo;
}

TEST_F(EngineTest, CommandsPipelinedAfterStartTlsAreDropped) {
  auto peer = connect();
  say(peer, "EHLO c\r\n");
  EXPECT_EQ(say(peer, "STARTTLS\r\nMAIL FROM:<injected@x.example>\r\n"),
            "220 2.0.0 Ready to start TLS\r\n");
  io_.peer_start_tls(peer);
  io_.run_for(Duration::milliseconds(100));
  // Were the injected MAIL still there, this would be 503 (no EHLO after TLS) or 250.
  EXPECT_EQ(say(peer, "RCPT TO:<ann@example.org>\r\n").substr(0, 4), "503 ");
}

TEST_F(EngineTest, ImplicitTlsGreetsAfterTheHandshake) {
  auto peer = connect(kSmtps);
  EXPECT_EQ(io_.peer_take(peer), "");
  io_.peer_start_tls(peer);
  io_.run_for(Duration::milliseconds(100));
  EXPECT_EQ(io_.peer_take(peer), "220 mx.example.org ESMTP Tern\r\n");
  EXPECT_NE(say(peer, "EHLO c\r\n").find("AUTH PLAIN LOGIN"), std::string::npos);
}

TEST_F(EngineTest, LmtpRepliesOncePerAcceptedRecipient) {
  auto peer = connect(kLmtp);
  EXPECT_EQ(io_.peer_take(peer), "220 mx.example.org LMTP Tern\r\n");
  say(peer, "LHLO c\r\nMAIL FROM:<a@b.example>\r\n");
  EXPECT_EQ(say(peer, "RCPT TO:<ann@example.org>\r\n"), "250 2.1.5 Recipient OK\r\n");
  EXPECT_EQ(say(peer, "RCPT TO:<nobody@example.org>\r\n"), "550 5.1.1 Mailbox does not exist\r\n");
  EXPECT_EQ(say(peer, "RCPT TO:<bob@example.org>\r\n"), "250 2.1.5 Recipient OK\r\n");
  say(peer, "DATA\r\n");
  const auto replies = say(peer, "x\r\n.\r\n", Duration::seconds(1));
  ASSERT_EQ(replies.size(), 2 * 42u) << replies;
  EXPECT_EQ(replies.substr(0, 24), "250 2.1.5 Ok: queued as ");
  io_.run_for(Duration::seconds(5));
  EXPECT_EQ(io_.maildir("ann").size(), 1u);
  EXPECT_EQ(io_.maildir("bob").size(), 1u);
}

TEST_F(EngineTest, DiskFullIs452AndLeavesNothing) {
  io_.set_disk_capacity(100);
  auto peer = connect();
  say(peer, "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<ann@example.org>\r\nDATA\r\n");
  EXPECT_EQ(say(peer, "x\r\n.\r\n", Duration::seconds(1)),
            "452 4.3.1 Insufficient system storage, try again later\r\n");
  EXPECT_TRUE(io_.spool_envelopes().empty());
  // The session goes on: the next transaction works once there is room.
  io_.set_disk_capacity(1 << 20);
  say(peer, "MAIL FROM:<a@b.example>\r\nRCPT TO:<ann@example.org>\r\nDATA\r\n");
  EXPECT_EQ(say(peer, "x\r\n.\r\n", Duration::seconds(1)).substr(0, 24),
            "250 2.0.0 Ok: queued as ");
}

TEST_F(EngineTest, FsyncFailureIs452AndLeavesNothing) {
  io_.fail_next_fsyncs(1);
  auto peer = connect();
  say(peer, "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<ann@example.org>\r\nDATA\r\n");
  EXPECT_EQ(say(peer, "x\r\n.\r\n", Duration::seconds(1)),
            "452 4.3.1 Could not store the message (disk error), try again later\r\n");
  io_.run_for(Duration::seconds(5));
  EXPECT_TRUE(io_.spool_envelopes().empty());
  EXPECT_TRUE(io_.maildir("ann").empty());
}

TEST_F(EngineTest, AMessageSpooledBeforeACrashIsDeliveredAfterRestart) {
  io_.fail_next_fsyncs(0);
  auto peer = connect();
  say(peer, "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<ann@example.org>\r\nDATA\r\n");
  io_.peer_send(peer, "crash test\r\n.\r\n");
  // Run just until the 250 is on its way, then crash before the Maildir delivery lands.
  std::string seen;
  io_.run_until(
      [&] {
        seen += io_.peer_take(peer);
        return seen.find("250 2.0.0") != std::string::npos;
      },
      Duration::seconds(5));
  ASSERT_NE(seen.find("250 2.0.0"), std::string::npos);
  io_.crash();
  server_.reset();
  EXPECT_EQ(io_.spool_envelopes().size(), 1u);
  start();
  io_.run_for(Duration::seconds(5));
  EXPECT_NE(only_maildir("ann").find("crash test\r\n"), std::string::npos) << log_.lines;
  EXPECT_TRUE(io_.spool_envelopes().empty()) << io_.spool_envelopes().begin()->second;
}

TEST_F(EngineTest, AFailedLocalDeliveryIsRetriedOnScheduleEvenAcrossARestart) {
  auto peer = connect();
  say(peer, "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<ann@example.org>\r\nDATA\r\n");
  io_.peer_send(peer, "retry me\r\n.\r\n");
  // Stop as soon as the commit is durable: the delivery attempt is posted, not yet made.
  io_.run_until([&] { return !io_.spool_envelopes().empty(); }, Duration::seconds(5));
  io_.fail_next_fsyncs(1);  // the Maildir delivery fails once
  io_.run_for(Duration::seconds(30));
  EXPECT_TRUE(io_.maildir("ann").empty());
  const auto spooled = io_.spool_envelopes();
  ASSERT_EQ(spooled.size(), 1u);
  EXPECT_NE(spooled.begin()->second.find(" pending "), std::string::npos);
  // queue.schedule.retry starts at 2 minutes; a restart in between keeps the schedule.
  io_.crash();
  server_.reset();
  start();
  io_.run_for(Duration::seconds(60));
  EXPECT_TRUE(io_.maildir("ann").empty()) << "retried before its time: " << log_.lines;
  io_.run_for(Duration::seconds(60));
  EXPECT_NE(only_maildir("ann").find("retry me\r\n"), std::string::npos) << log_.lines;
  EXPECT_TRUE(io_.spool_envelopes().empty());
}

TEST_F(EngineTest, ConnectionsBeyondThePerIpLimitGet421) {
  std::vector<PeerId> peers;
  for (int i = 0; i < 3; ++i) peers.push_back(connect());
  auto extra = connect();
  EXPECT_EQ(io_.peer_take(extra), "421 4.7.0 Too many connections, try again later\r\n");
  EXPECT_TRUE(io_.peer_closed_by_engine(extra));
  auto other_ip = connect(kSmtp, "192.0.2.2");
  EXPECT_EQ(io_.peer_take(other_ip).substr(0, 4), "220 ");
  io_.peer_close(peers[0]);
  io_.run_for(Duration::milliseconds(100));
  auto again = connect();
  EXPECT_EQ(io_.peer_take(again).substr(0, 4), "220 ");
}

TEST_F(EngineTest, AnIdleClientIsDisconnectedAfterTheCommandTimeout) {
  auto peer = connect();
  io_.peer_take(peer);
  io_.run_for(Duration::minutes(4));
  EXPECT_EQ(io_.peer_take(peer), "");
  io_.run_for(Duration::minutes(2));
  EXPECT_EQ(io_.peer_take(peer).substr(0, 4), "421 ");
  EXPECT_TRUE(io_.peer_closed_by_engine(peer));
}

TEST_F(EngineTest, ShutdownTempfailsSessionsInFlight) {
  auto peer = connect();
  say(peer, "EHLO c\r\n");
  bool stopped = false;
  server_->shutdown([&] { stopped = true; });
  io_.run_for(Duration::seconds(1));
  EXPECT_EQ(io_.peer_take(peer).substr(0, 4), "421 ");
  EXPECT_TRUE(stopped);
  EXPECT_FALSE(io_.connect_peer(kSmtp, Endpoint{"192.0.2.3", 1}).has_value());
}

}  // namespace
}  // namespace tern::runtime

namespace tern::runtime {
namespace {

// The relay seed (000): every non-local recipient goes to remote.relay; here the relay is
// our own server machine on the simulated network.
constexpr std::string_view kRelayConfig = R"toml(
[server]
hostname = "mx.example.org"
[server.listener.smtp]
bind = ["127.0.0.1:25"]
[remote.relay]
address = "192.0.2.50"
port = 25
protocol = "smtp"
tls.implicit = false
tls.starttls = false
[queue.outbound]
next-hop = [{ if = "is_local_domain('', rcpt_domain)", then = "'local'" }, { else = "'relay'" }]
tls.mta-sts = "disable"
tls.dane = "disable"
[directory.main]
type = "memory"
)toml";

class RelayTest : public EngineTest {
 protected:
  virtual std::string config_text() const { return std::string(kRelayConfig); }
  void SetUp() override {
    configure(config_text());
    io_.serve(Endpoint{"192.0.2.50", 25}, [this](PeerId id) {
      peers_.push_back(
          std::make_unique<outbound::testing::Peer>(io_, id, peer_config_, behaviour_));
      peers_.back()->attach();
    });
    start();
  }
  protocol::smtp::ServerConfig peer_config_;

  // A client after STARTTLS, AUTH as ann, and a second EHLO (DSN is offered after AUTH).
  PeerId authenticated_client() {
    auto peer = connect();
    say(peer, "EHLO c\r\nSTARTTLS\r\n");
    io_.peer_start_tls(peer);
    io_.run_for(Duration::milliseconds(100));
    say(peer, "EHLO c\r\nAUTH PLAIN AGFubgBzZWNyZXQ=\r\nEHLO c\r\n");
    return peer;
  }

  // Submits one message as an authenticated user (relaying needs AUTH).
  std::string submit(const std::vector<std::string>& rcpts, const std::string& body) {
    auto peer = authenticated_client();
    say(peer, "MAIL FROM:<ann@example.org>\r\n");
    for (const auto& r : rcpts) say(peer, "RCPT TO:<" + r + ">\r\n");
    say(peer, "DATA\r\n");
    return say(peer, body + ".\r\n", Duration::seconds(1));
  }

  outbound::testing::Behaviour behaviour_;
  std::vector<std::unique_ptr<outbound::testing::Peer>> peers_;
};

TEST_F(RelayTest, ARelayedMessageArrivesByteIdenticalApartFromOurReceivedHeader) {
  const std::string body = "Subject: relayed\r\n\r\nline\r\n..dot\r\n";
  ASSERT_EQ(submit({"x@remote.example", "bob@example.org"}, body).substr(0, 4), "250 ");
  io_.run_for(Duration::seconds(10));
  ASSERT_EQ(peers_.size(), 1u);
  const auto& got = peers_[0]->body;
  ASSERT_EQ(got.substr(0, 10), "Received: ");
  EXPECT_EQ(got.substr(got.find("\r\nSubject: ") + 2), "Subject: relayed\r\n\r\nline\r\n.dot\r\n");
  EXPECT_EQ(peers_[0]->rcpts, std::vector<std::string>{"x"});
  EXPECT_EQ(io_.maildir("bob").size(), 1u);
  EXPECT_TRUE(io_.spool_envelopes().empty());
}

TEST_F(RelayTest, MixedOutcomesAreRecordedPerRecipientAndTemporaryOnesRetried) {
  behaviour_.rcpt["gone"] = outbound::testing::reply(550, {5, 1, 1}, "no such user");
  behaviour_.rcpt["busy"] = outbound::testing::reply(450, {4, 2, 1}, "mailbox busy");
  ASSERT_EQ(submit({"ok@remote.example", "gone@remote.example", "busy@remote.example"},
                   "Subject: x\r\n\r\nx\r\n")
                .substr(0, 4),
            "250 ");
  io_.run_for(Duration::seconds(10));
  auto spooled = io_.spool_envelopes();
  ASSERT_EQ(spooled.size(), 1u);
  const auto& env = spooled.begin()->second;
  EXPECT_NE(env.find("rcpt ok@remote.example delivered"), std::string::npos) << env;
  EXPECT_NE(env.find("rcpt gone@remote.example failed"), std::string::npos) << env;
  EXPECT_NE(env.find("rcpt busy@remote.example pending"), std::string::npos) << env;
  EXPECT_NE(env.find("450%204.2.1%20mailbox%20busy"), std::string::npos) << env;
  // The permanent failure was bounced at once, to the sender's mailbox (ann is local).
  const auto dsn = only_maildir("ann");
  EXPECT_NE(dsn.find("Return-Path: <>\r\n"), std::string::npos) << dsn;
  EXPECT_NE(dsn.find("Content-Type: multipart/report; report-type=delivery-status;"),
            std::string::npos)
      << dsn;
  EXPECT_NE(dsn.find("Final-Recipient: rfc822; gone@remote.example\r\nAction: failed\r\n"
                     "Status: 5.1.1\r\n"),
            std::string::npos)
      << dsn;
  EXPECT_NE(dsn.find("Diagnostic-Code: smtp; 550 5.1.1 no such user"), std::string::npos) << dsn;
  EXPECT_EQ(dsn.find("busy@remote.example"), std::string::npos) << "pending: no failure notice";
  EXPECT_NE(env.find("rcpt gone@remote.example failed 0 1 1 "), std::string::npos) << env;
  // The first retry comes 2 minutes later, for the pending recipient only.
  behaviour_.rcpt.erase("busy");
  io_.run_for(Duration::seconds(100));
  EXPECT_EQ(peers_.size(), 1u);
  io_.run_for(Duration::seconds(30));
  ASSERT_EQ(peers_.size(), 2u);
  EXPECT_EQ(peers_[1]->rcpts, std::vector<std::string>{"busy"});
  io_.run_for(Duration::seconds(10));
  EXPECT_TRUE(io_.spool_envelopes().empty()) << "every recipient is now delivered or failed";
}

TEST_F(RelayTest, ABounceIsNeverBounced) {
  behaviour_.rcpt["gone"] = outbound::testing::reply(550, {5, 1, 1}, "no such user");
  auto peer = authenticated_client();
  say(peer, "MAIL FROM:<>\r\n");
  say(peer, "RCPT TO:<gone@remote.example>\r\nDATA\r\n");
  ASSERT_EQ(say(peer, "x\r\n.\r\n", Duration::seconds(1)).substr(0, 4), "250 ");
  io_.run_for(Duration::seconds(10));
  EXPECT_TRUE(io_.spool_envelopes().empty()) << "failed, nothing owed, gone";
  EXPECT_TRUE(io_.maildir("ann").empty());
}

TEST_F(RelayTest, NotifyNeverMeansNoDsn) {
  behaviour_.rcpt["gone"] = outbound::testing::reply(550, {5, 1, 1}, "no such user");
  auto peer = authenticated_client();
  say(peer, "MAIL FROM:<ann@example.org>\r\n");
  EXPECT_EQ(say(peer, "RCPT TO:<gone@remote.example> NOTIFY=NEVER\r\n").substr(0, 4), "250 ");
  say(peer, "DATA\r\n");
  ASSERT_EQ(say(peer, "x\r\n.\r\n", Duration::seconds(1)).substr(0, 4), "250 ");
  io_.run_for(Duration::seconds(10));
  EXPECT_TRUE(io_.spool_envelopes().empty());
  EXPECT_TRUE(io_.maildir("ann").empty());
}

TEST_F(RelayTest, ARelayThatIsDownMeansRetriesNotBounces) {
  io_.stop_serving(Endpoint{"192.0.2.50", 25});
  ASSERT_EQ(submit({"x@remote.example"}, "Subject: x\r\n\r\nx\r\n").substr(0, 4), "250 ");
  io_.run_for(Duration::seconds(10));
  auto spooled = io_.spool_envelopes();
  ASSERT_EQ(spooled.size(), 1u);
  EXPECT_NE(spooled.begin()->second.find("rcpt x@remote.example pending"), std::string::npos);
  EXPECT_NE(spooled.begin()->second.find("Connection%20refused"), std::string::npos)
      << spooled.begin()->second;
}

// Delay notices: the relay is down for hours; at the queue.schedule.notify age the sender
// hears once (per step) that the recipient is still being tried.
TEST_F(RelayTest, ADelayNoticeGoesOutOncePerNotifyStep) {
  io_.stop_serving(Endpoint{"192.0.2.50", 25});
  ASSERT_EQ(submit({"x@remote.example"}, "Subject: slow\r\n\r\nx\r\n").substr(0, 4), "250 ");
  // Default notify steps: 1 day and 3 days; retries at 2m, 5m, ... then every 2 hours.
  io_.run_for(Duration::minutes(std::int64_t{23} * 60));
  EXPECT_TRUE(io_.maildir("ann").empty()) << "younger than the first notify step";
  io_.run_for(Duration::minutes(std::int64_t{3} * 60));
  auto box = io_.maildir("ann");
  ASSERT_EQ(box.size(), 1u);
  const std::string& notice = box.begin()->second;
  EXPECT_NE(notice.find("Action: delayed\r\nStatus: 4.4.0\r\n"), std::string::npos) << notice;
  EXPECT_NE(notice.find("Will-Retry-Until: "), std::string::npos) << notice;
  EXPECT_NE(notice.find("Final-Recipient: rfc822; x@remote.example"), std::string::npos);
  io_.run_for(Duration::minutes(std::int64_t{24} * 60));
  EXPECT_EQ(io_.maildir("ann").size(), 1u) << "the second step (3 days) is not reached yet";
  io_.run_for(Duration::minutes(std::int64_t{26} * 60));
  EXPECT_EQ(io_.maildir("ann").size(), 2u) << "the 3-day notice";
  // Expiry after 5 days: a failure notice, and the message leaves the spool.
  io_.run_for(Duration::minutes(2 * 24 * 60 + 3 * 60));
  box = io_.maildir("ann");
  ASSERT_EQ(box.size(), 3u);
  bool expired_notice = false;
  for (const auto& [name, text] : box) {
    expired_notice |= text.find("Action: failed\r\nStatus: 5.4.7\r\n") != std::string::npos;
  }
  EXPECT_TRUE(expired_notice);
  EXPECT_TRUE(io_.spool_envelopes().empty());
}

TEST_F(RelayTest, SuccessNoticesWhenAskedAndTheNextHopHasNoDsn) {
  peer_config_.extensions.dsn = false;
  auto peer = authenticated_client();
  say(peer, "MAIL FROM:<ann@example.org> ENVID=env42\r\n");
  say(peer, "RCPT TO:<x@remote.example> NOTIFY=SUCCESS,FAILURE\r\n");
  say(peer, "RCPT TO:<bob@example.org> NOTIFY=SUCCESS\r\n");
  say(peer, "RCPT TO:<quiet@remote.example>\r\nDATA\r\n");
  ASSERT_EQ(say(peer, "x\r\n.\r\n", Duration::seconds(1)).substr(0, 4), "250 ");
  io_.run_for(Duration::seconds(10));
  ASSERT_EQ(peers_.size(), 1u);
  const auto notice = only_maildir("ann");
  EXPECT_NE(notice.find("Original-Envelope-Id: env42\r\n"), std::string::npos) << notice;
  EXPECT_NE(notice.find("Final-Recipient: rfc822; x@remote.example\r\nAction: relayed\r\n"
                        "Status: 2.0.0\r\n"),
            std::string::npos)
      << notice;
  EXPECT_NE(notice.find("Final-Recipient: rfc822; bob@example.org\r\nAction: delivered\r\n"),
            std::string::npos)
      << notice;
  EXPECT_EQ(notice.find("quiet@remote.example"), std::string::npos) << "did not ask";
  EXPECT_TRUE(io_.spool_envelopes().empty());
}

TEST_F(RelayTest, ACrashInTheMiddleOfADeliveryRedeliversAfterRestart) {
  behaviour_.stall_message = true;  // the relay has the whole body but has not answered
  ASSERT_EQ(submit({"x@remote.example"}, "Subject: crash\r\n\r\nx\r\n").substr(0, 4), "250 ");
  io_.run_for(Duration::seconds(5));
  ASSERT_EQ(peers_.size(), 1u);
  ASSERT_NE(peers_[0]->body.find("Subject: crash"), std::string::npos);
  behaviour_.stall_message = false;
  io_.crash();
  server_.reset();
  EXPECT_EQ(io_.spool_envelopes().size(), 1u) << "the message is durable";
  start();
  io_.run_for(Duration::seconds(10));
  ASSERT_EQ(peers_.size(), 2u);
  EXPECT_EQ(peers_[1]->rcpts, std::vector<std::string>{"x"});
  EXPECT_NE(peers_[1]->body.find("Subject: crash"), std::string::npos);
  EXPECT_TRUE(io_.spool_envelopes().empty());
}

TEST_F(RelayTest, AdministratorsCanSeeHoldReleaseRetryAndDelete) {
  io_.stop_serving(Endpoint{"192.0.2.50", 25});
  ASSERT_EQ(
      submit({"x@remote.example", "y@remote.example"}, "Subject: a\r\n\r\nx\r\n").substr(0, 4),
      "250 ");
  io_.run_for(Duration::seconds(10));
  auto& queue = server_->queue();
  auto views = queue.list();
  ASSERT_EQ(views.size(), 1u);
  const std::string id = views[0].id;
  ASSERT_EQ(views[0].recipients.size(), 2u);
  const auto& x = views[0].recipients[0];
  EXPECT_EQ(x.state, "pending");
  EXPECT_EQ(x.route, "remote relay");
  EXPECT_EQ(x.attempts, 1u);
  ASSERT_EQ(x.history.size(), 1u);
  EXPECT_EQ(x.history[0].route, "remote relay");
  EXPECT_EQ(x.history[0].host, "192.0.2.50:25");
  EXPECT_NE(x.history[0].reply.find("Connection refused"), std::string::npos) << x.history[0].reply;
  EXPECT_NEAR(x.next_attempt_unix, io_.wall_unix_seconds() - 10 + 120, 1);

  std::optional<AdminResult> answer;
  auto keep = [&](AdminResult r) { answer = r; };
  queue.hold("NOSUCHID", keep);
  EXPECT_FALSE(answer) << "never inside the call";
  io_.run_for(Duration::milliseconds(10));
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, AdminStatus::not_found);

  // Held: the retry time passes and nothing is tried; the hold is in the envelope.
  queue.hold(id, keep);
  io_.run_for(Duration::milliseconds(10));
  EXPECT_EQ(answer->status, AdminStatus::done);
  EXPECT_NE(io_.spool_envelopes().at(id).find("\nheld 1\n"), std::string::npos);
  io_.serve(Endpoint{"192.0.2.50", 25}, [this](PeerId pid) {
    peers_.push_back(std::make_unique<outbound::testing::Peer>(
        io_, pid, protocol::smtp::ServerConfig{}, behaviour_));
    peers_.back()->attach();
  });
  behaviour_.rcpt["y"] = outbound::testing::reply(451, {4, 3, 0}, "later");
  io_.run_for(Duration::minutes(10));
  EXPECT_TRUE(peers_.empty());
  queue.release(id, keep);
  io_.run_for(Duration::seconds(5));
  EXPECT_EQ(answer->status, AdminStatus::done);
  ASSERT_EQ(peers_.size(), 1u) << "released past its retry time: tried at once";
  auto shown = queue.show(id);
  ASSERT_TRUE(shown);
  EXPECT_EQ(shown->recipients[0].state, "delivered");
  EXPECT_EQ(shown->recipients[1].state, "pending");
  EXPECT_EQ(shown->recipients[1].history.size(), 2u);
  EXPECT_EQ(shown->recipients[1].history[1].reply.substr(0, 13), "451 4.3.0 lat");

  // retry: due now instead of in 5 minutes.
  queue.retry(id, keep);
  io_.run_for(Duration::seconds(5));
  EXPECT_EQ(answer->status, AdminStatus::done);
  EXPECT_EQ(answer->message, "1 message(s) due now");
  EXPECT_EQ(queue.show(id)->recipients[1].history.size(), 3u) << "tried again at once";
  EXPECT_EQ(peers_.size(), 1u) << "on the connection kept from the attempt before";

  // delete: the pending recipient fails with a DSN to the sender, and the message is gone.
  queue.remove(id, false, keep);
  io_.run_for(Duration::seconds(5));
  EXPECT_EQ(answer->status, AdminStatus::done) << answer->message;
  EXPECT_FALSE(queue.show(id));
  EXPECT_EQ(io_.spool_envelopes().count(id), 0u);
  const auto dsn = only_maildir("ann");
  EXPECT_NE(dsn.find("Final-Recipient: rfc822; y@remote.example\r\nAction: failed\r\n"),
            std::string::npos)
      << dsn;
  EXPECT_NE(dsn.find("deleted from the queue by the administrator"), std::string::npos);
}

TEST_F(RelayTest, MessagesToTheSameRelayShareAKeptConnection) {
  ASSERT_EQ(submit({"x@remote.example"}, "Subject: one\r\n\r\nx\r\n").substr(0, 4), "250 ");
  io_.run_for(Duration::seconds(1));
  ASSERT_EQ(submit({"y@remote.example"}, "Subject: two\r\n\r\ny\r\n").substr(0, 4), "250 ");
  io_.run_for(Duration::seconds(2));
  ASSERT_EQ(peers_.size(), 1u) << "the second message took the connection kept from the first";
  EXPECT_EQ(peers_[0]->rcpts, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(peers_[0]->received.find("QUIT"), std::string::npos);
  EXPECT_TRUE(io_.spool_envelopes().empty());
  // Idle past the cache's limit: QUIT. The next message opens a new connection.
  io_.run_for(Duration::seconds(10));
  EXPECT_NE(peers_[0]->received.find("QUIT\r\n"), std::string::npos);
  ASSERT_EQ(submit({"z@remote.example"}, "Subject: three\r\n\r\nz\r\n").substr(0, 4), "250 ");
  io_.run_for(Duration::seconds(2));
  EXPECT_EQ(peers_.size(), 2u);
}

class ConcurrencyTest : public RelayTest {
 protected:
  std::string config_text() const override {
    std::string text(kRelayConfig);
    const std::string anchor = "tls.dane = \"disable\"\n";
    return text.insert(text.find(anchor) + anchor.size(), "limits.concurrency = 2\n");
  }
};

TEST_F(ConcurrencyTest, DeliveriesToOneDestinationAreBounded) {
  behaviour_.stall_message = true;
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(submit({"x" + std::to_string(i) + "@remote.example"}, "Subject: c\r\n\r\nx\r\n")
                  .substr(0, 4),
              "250 ");
  }
  io_.run_for(Duration::seconds(30));
  EXPECT_EQ(peers_.size(), 2u) << "two at once; the third waits for its turn";
  // The stalled transactions time out (10 minutes for the end of data); the third starts.
  io_.run_for(Duration::minutes(10));
  EXPECT_EQ(peers_.size(), 3u);
}

// DNS MX delivery (the default next-hop sends non-local domains to MX).
constexpr std::string_view kMxConfig = R"toml(
[server]
hostname = "mx.example.org"
[server.listener.smtp]
bind = ["127.0.0.1:25"]
[directory.main]
type = "memory"
[queue.outbound.tls]
mta-sts = "disable"
dane = "disable"
)toml";

class MxTest : public RelayTest {
 protected:
  void SetUp() override {
    configure(extra_.empty() ? kMxConfig : std::string(kMxConfig) + extra_);
    for (const char* ip : {"192.0.2.11", "192.0.2.12", "192.0.2.13"}) serve(ip);
    io_.dns_mx("remote.example", {{10, "mx1.remote.example"}, {20, "mx2.remote.example"}});
    io_.dns_addresses("mx1.remote.example", {"192.0.2.11"});
    io_.dns_addresses("mx2.remote.example", {"192.0.2.12"});
    start();
  }
  void serve(const std::string& ip) {
    io_.serve(Endpoint{ip, 25}, [this, ip](PeerId id) {
      peers_.push_back(std::make_unique<outbound::testing::Peer>(
          io_, id, protocol::smtp::ServerConfig{}, behaviour_));
      peers_.back()->attach();
      hosts_.push_back(ip);
    });
  }
  std::string extra_;
  std::vector<std::string> hosts_;
};

TEST_F(MxTest, TheBestMxThatAnswersGetsTheMessage) {
  io_.stop_serving(Endpoint{"192.0.2.11", 25});  // the best MX refuses connections
  ASSERT_EQ(
      submit({"x@remote.example", "y@remote.example"}, "Subject: mx\r\n\r\nx\r\n").substr(0, 4),
      "250 ");
  io_.run_for(Duration::seconds(10));
  ASSERT_EQ(hosts_, std::vector<std::string>{"192.0.2.12"});
  EXPECT_EQ(peers_[0]->rcpts, (std::vector<std::string>{"x", "y"})) << "one transaction";
  EXPECT_TRUE(io_.spool_envelopes().empty());
  EXPECT_NE(log_.lines.find("(mx remote.example, mx2.remote.example 192.0.2.12:25)"),
            std::string::npos)
      << log_.lines;
}

TEST_F(MxTest, ANullMxBouncesAtOnceWithoutAConnection) {
  io_.dns_mx("nomail.example", {{0, ""}});
  ASSERT_EQ(submit({"x@nomail.example"}, "Subject: n\r\n\r\nx\r\n").substr(0, 4), "250 ");
  io_.run_for(Duration::seconds(10));
  EXPECT_TRUE(peers_.empty());
  const auto dsn = only_maildir("ann");
  EXPECT_NE(dsn.find("Action: failed\r\nStatus: 5.1.10\r\n"), std::string::npos) << dsn;
  EXPECT_TRUE(io_.spool_envelopes().empty());
}

TEST_F(MxTest, NoMxRecordMeansTheDomainsOwnAddress) {
  io_.dns_addresses("plain.example", {"192.0.2.13"});
  ASSERT_EQ(submit({"x@plain.example"}, "Subject: a\r\n\r\nx\r\n").substr(0, 4), "250 ");
  io_.run_for(Duration::seconds(10));
  EXPECT_EQ(hosts_, std::vector<std::string>{"192.0.2.13"});
  EXPECT_TRUE(io_.spool_envelopes().empty());
}

TEST_F(MxTest, ATemporaryDnsFailureIsRetriedNotBounced) {
  io_.dns_fail("remote.example", DnsType::mx, IoErrc::dns_failed);
  ASSERT_EQ(submit({"x@remote.example"}, "Subject: a\r\n\r\nx\r\n").substr(0, 4), "250 ");
  io_.run_for(Duration::seconds(10));
  EXPECT_TRUE(peers_.empty());
  auto env = io_.spool_envelopes();
  ASSERT_EQ(env.size(), 1u);
  EXPECT_NE(env.begin()->second.find("rcpt x@remote.example pending"), std::string::npos);
  EXPECT_NE(env.begin()->second.find("MX%20lookup%20for%20remote.example%20failed"),
            std::string::npos)
      << env.begin()->second;
  io_.dns_mx("remote.example", {{10, "mx1.remote.example"}});
  io_.run_for(Duration::minutes(2));
  EXPECT_EQ(hosts_, std::vector<std::string>{"192.0.2.11"});
  EXPECT_TRUE(io_.spool_envelopes().empty());
}

class MxRequireTlsTest : public MxTest {
 protected:
  void SetUp() override {
    extra_ = "starttls = \"require\"\n";
    MxTest::SetUp();
  }
};

TEST_F(MxRequireTlsTest, RequiredStartTlsThatIsNotOfferedIsATemporaryFailure) {
  ASSERT_EQ(submit({"x@remote.example"}, "Subject: a\r\n\r\nx\r\n").substr(0, 4), "250 ");
  io_.run_for(Duration::seconds(10));
  EXPECT_EQ(hosts_, (std::vector<std::string>{"192.0.2.11", "192.0.2.12"}));
  for (const auto& p : peers_) EXPECT_EQ(p->received.find("MAIL FROM"), std::string::npos);
  auto env = io_.spool_envelopes();
  ASSERT_EQ(env.size(), 1u);
  EXPECT_NE(env.begin()->second.find("rcpt x@remote.example pending"), std::string::npos);
  EXPECT_NE(env.begin()->second.find("STARTTLS"), std::string::npos) << env.begin()->second;
}

}  // namespace
}  // namespace tern::runtime

namespace tern::runtime {
namespace {

// The engine's replies to a pipelined conversation, fed in the given pieces.
std::string converse(const std::vector<std::string>& pieces) {
  SimIo io(7);
  CollectLog log;
  auto settings = engine_settings(kConfig, io, std::make_shared<FakeDirectory>(io));
  Server server(io, log, settings);
  if (!server.start().ok()) return "start failed";
  auto peer = io.connect_peer(kSmtp, Endpoint{"192.0.2.1", 40000});
  if (!peer) return "no listener";
  for (const auto& piece : pieces) {
    io.peer_send(*peer, piece);
    io.run_for(Duration::milliseconds(3));
  }
  io.run_for(Duration::seconds(5));
  return io.peer_take(*peer);
}

constexpr std::string_view kConversation =
    "EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<ann@example.org>\r\n"
    "RCPT TO:<nobody@example.org>\r\nRCPT TO:<x@remote.example>\r\nDATA\r\n"
    "Subject: x\r\n\r\nbody\r\n..dot\r\n.\r\nRSET\r\nMAIL FROM:<>\r\n"
    "RCPT TO:<bob@example.org>\r\nBDAT 5 LAST\r\nhelloNOOP\r\nQUIT\r\n";

// Any split of the client's bytes gives the same replies, in the same order: the engine
// keeps pipelined replies in order whatever the reads look like.
RC_GTEST_PROP(EngineSplits, AnySplitOfTheClientBytesGivesTheSameReplies, ()) {
  static const std::string reference = converse({std::string(kConversation)});
  const auto cuts = *rc::gen::container<std::vector<std::size_t>>(
      rc::gen::inRange<std::size_t>(1, kConversation.size()));
  std::vector<std::size_t> sorted = cuts;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::string> pieces;
  std::size_t from = 0;
  for (const auto cut : sorted) {
    pieces.emplace_back(kConversation.substr(from, cut - from));
    from = cut;
  }
  pieces.emplace_back(kConversation.substr(from));
  RC_ASSERT(converse(pieces) == reference);
}

TEST(EngineSplitsReference, TheConversationIsAnsweredInFull) {
  const auto replies = converse({std::string(kConversation)});
  EXPECT_NE(replies.find("550 5.1.1 Mailbox does not exist\r\n"), std::string::npos) << replies;
  EXPECT_NE(replies.find("550 5.7.1 Relay access denied\r\n"), std::string::npos) << replies;
  std::size_t queued = 0;
  for (auto at = replies.find("Ok: queued as "); at != std::string::npos;
       at = replies.find("Ok: queued as ", at + 1)) {
    ++queued;
  }
  EXPECT_EQ(queued, 2u) << replies;
  const std::string bye = "221 2.0.0 mx.example.org closing connection\r\n";
  EXPECT_EQ(replies.substr(replies.size() - bye.size()), bye) << replies;
}

TEST(EngineLimits, TotalConnectionsAtNAndNPlusOne) {
  SimIo io(3);
  CollectLog log;
  auto settings = std::make_shared<EngineSettings>(
      *engine_settings(kConfig, io, std::make_shared<FakeDirectory>(io)));
  settings->connections_max = 2;
  Server server(io, log, settings);
  ASSERT_TRUE(server.start().ok());
  std::vector<PeerId> peers;
  for (int i = 0; i < 3; ++i) {  // one IP each: only the total limit applies
    peers.push_back(*io.connect_peer(kSmtp, Endpoint{"192.0.2." + std::to_string(10 + i), 1}));
    io.run_for(Duration::milliseconds(100));
  }
  EXPECT_EQ(io.peer_take(peers[0]).substr(0, 4), "220 ");
  EXPECT_EQ(io.peer_take(peers[1]).substr(0, 4), "220 ");
  EXPECT_EQ(io.peer_take(peers[2]), "421 4.7.0 Too many connections, try again later\r\n");
  EXPECT_EQ(server.sessions(), 2u);
}

// One destination that never answers (its MX is a blackhole) and one that does, with one
// delivery at a time per destination.
class MxSlowDestinationTest : public MxTest {
 protected:
  void SetUp() override {
    extra_ = "[queue.outbound.limits]\nconcurrency = 1\n";
    MxTest::SetUp();
    io_.dns_mx("slow.example", {{10, "mx.slow.example"}});
    io_.dns_addresses("mx.slow.example", {"192.0.2.99"});
    io_.blackhole(Endpoint{"192.0.2.99", 25});
  }
};

TEST_F(MxSlowDestinationTest, MessagesWaitingForASlowDestinationDoNotStallOthers) {
  // More messages for the slow destination than may be in flight at once (16): those that
  // wait for its one delivery must not hold the slots the other destination needs.
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(
        submit({"x" + std::to_string(i) + "@slow.example"}, "Subject: s\r\n\r\nx\r\n").substr(0, 4),
        "250 ");
  }
  ASSERT_EQ(submit({"y@remote.example"}, "Subject: f\r\n\r\nx\r\n").substr(0, 4), "250 ");
  io_.run_for(Duration::seconds(30));
  EXPECT_EQ(hosts_, std::vector<std::string>{"192.0.2.11"});
  EXPECT_EQ(io_.spool_envelopes().size(), 20u);  // the slow ones are still queued
}

}  // namespace
}  // namespace tern::runtime
