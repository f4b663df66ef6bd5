// RemoteDelivery against a simulated network whose far end is our own smtp::ServerSession,
// so every conversation is a real one (the sim's handshake stands for TLS).
#include "runtime/outbound/remote_delivery.hpp"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "adapters/sim/sim_io.hpp"
#include "protocol/smtp/server_session.hpp"
#include "runtime/outbound/tests/smtp_peer.hpp"

namespace tern::runtime::outbound {
namespace {

using adapters::sim::PeerId;
using adapters::sim::SimIo;
using testing::Behaviour;
using testing::Peer;
using testing::reply;
namespace smtp = protocol::smtp;
namespace route = protocol::route;

const Endpoint kServer{"192.0.2.1", 25};

enum class How { normal, refused, stalls, greeting_421 };

struct World {
  SimIo sim{7};
  Behaviour behaviour;
  bool lmtp = false;
  bool implicit_tls = false;
  bool offer_starttls = false;
  std::vector<std::string> auth_mechanisms;
  bool chunking = true;  // the peer offers CHUNKING (and takes lines of any length over BDAT)
  int fail_tls_connections = 0;  // the first N connections fail their TLS handshake
  std::vector<std::unique_ptr<Peer>> peers;
  std::vector<PeerId> ids;

  void serve(How how, const Endpoint& at = kServer) {
    if (how == How::refused) return;
    sim.serve(at, [this, how](PeerId id) {
      ids.push_back(id);
      if (fail_tls_connections > 0) {
        --fail_tls_connections;
        sim.peer_fail_tls(id);
      }
      if (implicit_tls) sim.peer_start_tls(id);
      if (how == How::stalls) return;
      if (how == How::greeting_421) {
        sim.peer_send(id, "421 4.3.2 busy, come back later\r\n");
        return sim.peer_close(id);
      }
      smtp::ServerConfig config;
      config.mode = lmtp ? smtp::ServerMode::lmtp : smtp::ServerMode::smtp;
      config.hostname = "mx.example.net";
      config.tls_active = implicit_tls;
      config.tls_available = offer_starttls;
      config.auth_mechanisms = auth_mechanisms;
      config.extensions.chunking = chunking;
      config.limits.text_line_bytes_max = 1 << 20;
      peers.push_back(std::make_unique<Peer>(sim, id, config, behaviour));
      peers.back()->attach();
    });
  }

  DeliveryRequest request(std::vector<std::string> rcpts, std::string body = "") const {
    DeliveryRequest r;
    r.host.id = "relay";
    r.host.address = kServer.ip;
    r.host.port = kServer.port;
    r.host.protocol = lmtp ? route::RemoteProtocol::lmtp : route::RemoteProtocol::smtp;
    r.host.tls = implicit_tls ? route::TlsMode::implicit : route::TlsMode::none;
    r.helo_name = "mta.example.org";
    r.sender = "ann@example.org";
    for (auto& a : rcpts) r.recipients.push_back({a, ""});
    r.body = body.empty() ? "Received: by mta.example.org\r\nSubject: hi\r\n\r\nHello\r\n" : body;
    return r;
  }

  std::optional<DeliveryReport> deliver(DeliveryRequest r, Resolver resolver = {}) {
    std::optional<DeliveryReport> got;
    int calls = 0;
    auto handle = RemoteDelivery::start(
        sim, std::move(r),
        [&](DeliveryReport report) {
          ++calls;
          got = std::move(report);
        },
        std::move(resolver));
    EXPECT_EQ(calls, 0);  // never inside start()
    sim.run_until_idle();
    EXPECT_LE(calls, 1);
    EXPECT_TRUE(handle.finished() || calls == 0);
    return got;
  }
};

std::vector<DeliveryStatus> statuses(const DeliveryReport& report) {
  std::vector<DeliveryStatus> out;
  for (const auto& r : report.recipients) out.push_back(r.status);
  return out;
}

constexpr auto kOk = DeliveryStatus::delivered;
constexpr auto kTemp = DeliveryStatus::temporary_failure;
constexpr auto kPerm = DeliveryStatus::permanent_failure;

TEST(RemoteDelivery, SmtpAcceptsAllAndTheBodyArrivesIntact) {
  World w;
  w.serve(How::normal);
  const std::string body =
      "Received: by mta.example.org\r\nSubject: dots\r\n\r\n.leading dot\r\n..two\r\n.\r\nend\r\n";
  auto report = w.deliver(w.request({"bob@example.net", "carol@example.net"}, body));
  ASSERT_TRUE(report);
  EXPECT_EQ(statuses(*report), (std::vector{kOk, kOk}));
  EXPECT_EQ(report->recipients[0].text, "250 2.0.0 Message accepted");
  EXPECT_TRUE(report->recipients[0].from_server);
  EXPECT_EQ(report->host, "192.0.2.1");
  EXPECT_EQ(report->endpoint, kServer);
  EXPECT_TRUE(report->dsn_supported);
  EXPECT_FALSE(report->tls_version);
  ASSERT_EQ(w.peers.size(), 1u);
  EXPECT_EQ(w.peers[0]->body, body);
  EXPECT_NE(w.peers[0]->received.find("EHLO mta.example.org\r\n"), std::string::npos);
  EXPECT_NE(w.peers[0]->received.find("\r\n..leading dot\r\n...two\r\n..\r\n"), std::string::npos);
  ASSERT_TRUE(w.peers[0]->mail);
  EXPECT_EQ(w.peers[0]->mail->params.size, body.size());
  EXPECT_NE(w.peers[0]->received.find("QUIT\r\n"), std::string::npos);
  EXPECT_TRUE(w.sim.peer_closed_by_engine(w.ids[0]));
}

// Issue 16: a 5,000-octet line must never go through DATA. With CHUNKING it goes over BDAT;
// without, the recipients fail permanently (554 5.6.0) and nothing is sent after RCPT.
TEST(RemoteDelivery, ALineOver998OctetsGoesByBdatOrNotAtAll) {
  const std::string body = "Subject: long\r\n\r\n" + std::string(5000, 'x') + "\r\n";
  World w;
  w.serve(How::normal);
  auto report = w.deliver(w.request({"bob@example.net"}, body));
  ASSERT_TRUE(report);
  EXPECT_EQ(statuses(*report), (std::vector{kOk}));
  ASSERT_EQ(w.peers.size(), 1u);
  EXPECT_EQ(w.peers[0]->body, body);
  EXPECT_NE(w.peers[0]->received.find("BDAT "), std::string::npos);
  EXPECT_EQ(w.peers[0]->received.find("DATA\r\n"), std::string::npos);

  World old;
  old.chunking = false;
  old.serve(How::normal);
  report = old.deliver(old.request({"bob@example.net"}, body));
  ASSERT_TRUE(report);
  EXPECT_EQ(statuses(*report), (std::vector{kPerm}));
  EXPECT_EQ(report->recipients[0].text.substr(0, 9), "554 5.6.0") << report->recipients[0].text;
  EXPECT_EQ(old.peers[0]->received.find("DATA"), std::string::npos);
  // At 998 octets a line is fine for DATA.
  const std::string fits = "Subject: ok\r\n\r\n" + std::string(998, 'x') + "\r\n";
  report = old.deliver(old.request({"bob@example.net"}, fits));
  ASSERT_TRUE(report);
  EXPECT_EQ(statuses(*report), (std::vector{kOk}));
}

TEST(RemoteDelivery, MixedRcptOutcomes) {
  World w;
  w.behaviour.rcpt["gone"] = reply(550, {5, 1, 1}, "no such user");
  w.behaviour.rcpt["full"] = reply(450, {4, 2, 2}, "mailbox full");
  w.serve(How::normal);
  auto report = w.deliver(w.request({"ok@example.net", "gone@example.net", "full@example.net"}));
  ASSERT_TRUE(report);
  EXPECT_EQ(statuses(*report), (std::vector{kOk, kPerm, kTemp}));
  EXPECT_EQ(report->recipients[1].text, "550 5.1.1 no such user");
  EXPECT_EQ(report->recipients[2].text, "450 4.2.2 mailbox full");
  EXPECT_EQ(w.peers[0]->rcpts, std::vector<std::string>{"ok"});
}

TEST(RemoteDelivery, DataRefusalsApplyToEveryAcceptedRecipient) {
  for (auto [code, expected] : {std::pair{452, kTemp}, std::pair{554, kPerm}}) {
    World w;
    w.behaviour.message = reply(code, {std::uint8_t(code / 100), 3, 1}, "not now");
    w.behaviour.rcpt["gone"] = reply(550, {5, 1, 1}, "no such user");
    w.serve(How::normal);
    auto report = w.deliver(w.request({"a@x.net", "gone@x.net", "b@x.net"}));
    ASSERT_TRUE(report);
    EXPECT_EQ(statuses(*report), (std::vector{expected, kPerm, expected})) << code;
    EXPECT_EQ(report->recipients[0].text,
              std::to_string(code) + " " + std::to_string(code / 100) + ".3.1 not now");
  }
}

TEST(RemoteDelivery, LmtpGivesOneOutcomePerRecipient) {
  World w;
  w.lmtp = true;
  w.behaviour.lmtp["bob"] = reply(550, {5, 2, 1}, "mailbox disabled");
  w.serve(How::normal);
  auto report = w.deliver(w.request({"ann@x.net", "bob@x.net", "cat@x.net"}));
  ASSERT_TRUE(report);
  EXPECT_EQ(statuses(*report), (std::vector{kOk, kPerm, kOk}));
  EXPECT_EQ(report->recipients[0].text, "250 2.0.0 ok ann");
  EXPECT_EQ(report->recipients[1].text, "550 5.2.1 mailbox disabled");
  EXPECT_EQ(w.peers[0]->received.rfind("LHLO mta.example.org\r\n", 0), 0u);
}

TEST(RemoteDelivery, ConnectRefusedIsTemporaryForAll) {
  World w;
  w.serve(How::refused);
  auto report = w.deliver(w.request({"a@x.net", "b@x.net"}));
  ASSERT_TRUE(report);
  EXPECT_EQ(statuses(*report), (std::vector{kTemp, kTemp}));
  EXPECT_EQ(report->recipients[0].text, "connect 192.0.2.1:25: Connection refused");
  EXPECT_FALSE(report->recipients[0].from_server);
  EXPECT_FALSE(report->endpoint);
}

TEST(RemoteDelivery, StalledServerTimesOutAtTheGreetingTimeout) {
  World w;
  w.serve(How::stalls);
  auto r = w.request({"a@x.net"});
  r.timeouts.greeting = Duration::seconds(30);
  std::optional<DeliveryReport> got;
  const Instant start = w.sim.now();
  RemoteDelivery::start(w.sim, r, [&](DeliveryReport report) { got = std::move(report); });
  // connect takes 1 ms (latency); the greeting deadline is 30 s after the session began.
  w.sim.run_for(Duration::seconds(30));
  EXPECT_FALSE(got);
  w.sim.run_for(Duration::milliseconds(2));
  ASSERT_TRUE(got);
  EXPECT_LE(w.sim.now() - start, Duration::seconds(30) + Duration::milliseconds(2));
  EXPECT_EQ(statuses(*got), std::vector{kTemp});
  EXPECT_EQ(got->recipients[0].text, "192.0.2.1:25: timeout waiting for the server's reply");
  w.sim.run_until_idle();
}

TEST(RemoteDelivery, Greeting421IsTemporary) {
  World w;
  w.serve(How::greeting_421);
  auto report = w.deliver(w.request({"a@x.net"}));
  ASSERT_TRUE(report);
  EXPECT_EQ(statuses(*report), std::vector{kTemp});
  EXPECT_EQ(report->recipients[0].text,
            "421 4.3.2 busy, come back later (the server refused the connection)");
}

TEST(RemoteDelivery, StartTlsRequiredAndOffered) {
  World w;
  w.offer_starttls = true;
  w.serve(How::normal);
  auto r = w.request({"a@x.net"});
  r.host.tls = route::TlsMode::starttls;
  auto report = w.deliver(r);
  ASSERT_TRUE(report);
  EXPECT_EQ(statuses(*report), std::vector{kOk});
  EXPECT_TRUE(report->tls_version);
  EXPECT_TRUE(w.peers[0]->tls_started);
  EXPECT_TRUE(w.sim.peer_tls_active(w.ids[0]));
  const std::string& seen = w.peers[0]->received;
  const auto tls_at = seen.find("STARTTLS\r\n");
  ASSERT_NE(tls_at, std::string::npos);
  EXPECT_GT(seen.find("MAIL FROM:"), tls_at);
  EXPECT_EQ(w.peers[0]->body, r.body);
}

TEST(RemoteDelivery, StartTlsRequiredButNotOfferedIsTemporary) {
  World w;
  w.serve(How::normal);
  auto r = w.request({"a@x.net"});
  r.host.tls = route::TlsMode::starttls;
  auto report = w.deliver(r);
  ASSERT_TRUE(report);
  EXPECT_EQ(statuses(*report), std::vector{kTemp});
  EXPECT_EQ(report->recipients[0].text,
            "192.0.2.1:25: TLS is required but the server does not offer STARTTLS");
  EXPECT_EQ(w.peers[0]->received.find("MAIL"), std::string::npos);
}

TEST(RemoteDelivery, OpportunisticStartTlsIsUsedWhenOfferedAndSkippedWhenNot) {
  World w;
  w.offer_starttls = true;
  w.serve(How::normal);
  auto r = w.request({"a@x.net"});
  r.host.tls = route::TlsMode::starttls;
  r.opportunistic_tls = true;
  auto report = w.deliver(r);
  ASSERT_TRUE(report);
  EXPECT_EQ(statuses(*report), std::vector{kOk});
  EXPECT_TRUE(report->tls_version);

  World plain;
  plain.serve(How::normal);
  report = plain.deliver(r);
  ASSERT_TRUE(report);
  EXPECT_EQ(statuses(*report), std::vector{kOk}) << "clear text beats no delivery";
  EXPECT_FALSE(report->tls_version);
}

TEST(RemoteDelivery, AFailedOpportunisticHandshakeFallsBackToClearTextOnTheSameHost) {
  World w;
  w.offer_starttls = true;
  w.fail_tls_connections = 1;
  w.serve(How::normal);
  auto r = w.request({"a@x.net"});
  r.host.tls = route::TlsMode::starttls;
  r.opportunistic_tls = true;
  auto report = w.deliver(r);
  ASSERT_TRUE(report);
  EXPECT_EQ(statuses(*report), std::vector{kOk});
  EXPECT_FALSE(report->tls_version);
  ASSERT_EQ(w.peers.size(), 2u);
  EXPECT_NE(w.peers[0]->received.find("STARTTLS"), std::string::npos);
  EXPECT_EQ(w.peers[1]->received.find("STARTTLS"), std::string::npos);
  EXPECT_NE(w.peers[1]->received.find("MAIL FROM"), std::string::npos);

  // Required TLS never falls back.
  World strict;
  strict.offer_starttls = true;
  strict.fail_tls_connections = 1;
  strict.serve(How::normal);
  r.opportunistic_tls = false;
  report = strict.deliver(r);
  ASSERT_TRUE(report);
  EXPECT_EQ(statuses(*report), std::vector{kTemp});
  EXPECT_EQ(strict.peers.size(), 1u);
}

TEST(RemoteDelivery, StalledStartTlsHandshakeTimesOut) {
  World w;
  w.offer_starttls = true;
  w.behaviour.never_handshake = true;
  w.serve(How::normal);
  auto r = w.request({"a@x.net"});
  r.host.tls = route::TlsMode::starttls;
  r.timeouts.data_block = Duration::seconds(60);
  std::optional<DeliveryReport> got;
  RemoteDelivery::start(w.sim, r, [&](DeliveryReport report) { got = std::move(report); });
  w.sim.run_for(Duration::seconds(59));
  EXPECT_FALSE(got);
  w.sim.run_for(Duration::seconds(2));
  ASSERT_TRUE(got);
  EXPECT_EQ(statuses(*got), std::vector{kTemp});
  EXPECT_EQ(got->recipients[0].text, "192.0.2.1:25: timeout in the TLS handshake");
  w.sim.run_until_idle();
}

TEST(RemoteDelivery, ImplicitTls) {
  World w;
  w.implicit_tls = true;
  w.serve(How::normal);
  auto report = w.deliver(w.request({"a@x.net"}));
  ASSERT_TRUE(report);
  EXPECT_EQ(statuses(*report), std::vector{kOk});
  EXPECT_TRUE(report->tls_version);
  EXPECT_TRUE(w.sim.peer_tls_active(w.ids[0]));
}

TEST(RemoteDelivery, FailedImplicitHandshakeIsTemporary) {
  World w;
  w.sim.serve(kServer, [&](PeerId id) {
    w.sim.peer_fail_tls(id);
    w.sim.peer_start_tls(id);
  });
  w.implicit_tls = true;
  auto report = w.deliver(w.request({"a@x.net"}));
  ASSERT_TRUE(report);
  EXPECT_EQ(statuses(*report), std::vector{kTemp});
  EXPECT_EQ(report->recipients[0].text.rfind("192.0.2.1:25: TLS handshake failed", 0), 0u)
      << report->recipients[0].text;
}

TEST(RemoteDelivery, AuthPlainSucceedsAndFailsTemporarily) {
  for (bool right : {true, false}) {
    World w;
    w.implicit_tls = true;
    w.auth_mechanisms = {"PLAIN"};
    w.serve(How::normal);
    auto r = w.request({"a@x.net"});
    r.host.auth_username = "relay_server";
    r.host.auth_secret = right ? "secret" : "wrong";
    auto report = w.deliver(r);
    ASSERT_TRUE(report);
    EXPECT_NE(w.peers[0]->received.find("AUTH PLAIN "), std::string::npos);
    if (right) {
      EXPECT_EQ(statuses(*report), std::vector{kOk});
    } else {
      EXPECT_EQ(statuses(*report), std::vector{kTemp});
      EXPECT_EQ(report->recipients[0].text, "535 5.7.8 bad credentials (authentication failed)");
      EXPECT_EQ(w.peers[0]->received.find("MAIL"), std::string::npos);
    }
  }
}

TEST(RemoteDelivery, TwoMegabyteBodyInChunks) {
  World w;
  w.serve(How::normal);
  std::string body = "Received: by mta.example.org\r\n\r\n";
  for (int i = 0; body.size() < std::size_t{2} * 1024 * 1024; ++i) {
    body += (i % 7 == 0 ? "." : "") + std::string(70, char('a' + i % 26)) + "\r\n";
  }
  auto report = w.deliver(w.request({"a@x.net"}, body));
  ASSERT_TRUE(report);
  EXPECT_EQ(statuses(*report), std::vector{kOk});
  EXPECT_EQ(w.peers[0]->body.size(), body.size());
  EXPECT_TRUE(w.peers[0]->body == body);
}

TEST(RemoteDelivery, ServerClosingMidDataIsTemporary) {
  World w;
  w.behaviour.close_mid_data = true;
  w.behaviour.rcpt["gone"] = reply(550, {5, 1, 1}, "no such user");
  w.serve(How::normal);
  auto report = w.deliver(w.request({"a@x.net", "gone@x.net"}, std::string(300000, 'x')));
  ASSERT_TRUE(report);
  EXPECT_EQ(statuses(*report), (std::vector{kTemp, kPerm}));
  EXPECT_FALSE(report->recipients[0].from_server);
  EXPECT_EQ(report->recipients[0].text.rfind("192.0.2.1:25: ", 0), 0u)
      << report->recipients[0].text;
}

TEST(RemoteDelivery, DsnParametersPassThroughWhenOffered) {
  World w;
  w.serve(How::normal);
  auto r = w.request({"a@x.net"});
  r.sender_params = "BODY=8BITMIME RET=HDRS ENVID=abc123";
  r.recipients[0].params = "NOTIFY=FAILURE,DELAY ORCPT=rfc822;a@x.net";
  auto report = w.deliver(r);
  ASSERT_TRUE(report);
  EXPECT_EQ(statuses(*report), std::vector{kOk});
  const std::string& seen = w.peers[0]->received;
  EXPECT_NE(seen.find("MAIL FROM:<ann@example.org> SIZE="), std::string::npos) << seen;
  ASSERT_TRUE(w.peers[0]->mail);
  EXPECT_EQ(w.peers[0]->mail->params.body, smtp::BodyType::eight_bit_mime);
  EXPECT_EQ(w.peers[0]->mail->params.ret, smtp::RetType::hdrs);
  EXPECT_EQ(w.peers[0]->mail->params.envid, "abc123");
  ASSERT_EQ(w.peers[0]->rcpt_commands.size(), 1u);
  EXPECT_TRUE(w.peers[0]->rcpt_commands[0].params.notify);
  EXPECT_TRUE(w.peers[0]->rcpt_commands[0].params.orcpt);
}

TEST(RemoteDelivery, HostNamesAreResolvedThroughDnsAndAnUnknownOneIsTemporary) {
  World w;
  auto r = w.request({"a@x.net", "b@x.net"});
  r.host.address = "relay.example.org";
  auto report = w.deliver(r);
  ASSERT_TRUE(report);
  EXPECT_EQ(statuses(*report), (std::vector{kTemp, kTemp}));
  EXPECT_EQ(report->recipients[0].text,
            "relay.example.org: no address for relay.example.org (relay.example.org has no A "
            "or AAAA record)");

  World named;
  named.serve(How::normal);
  named.sim.dns_addresses("relay.example.org", {kServer.ip});
  report = named.deliver(r);
  ASSERT_TRUE(report);
  EXPECT_EQ(statuses(*report), (std::vector{kOk, kOk}));
}

TEST(RemoteDelivery, LocalhostAndTheResolverHook) {
  World w;
  w.serve(How::normal, Endpoint{"127.0.0.1", 25});
  auto r = w.request({"a@x.net"});
  r.host.address = "localhost";
  auto report = w.deliver(r);
  ASSERT_TRUE(report);
  EXPECT_EQ(statuses(*report), std::vector{kOk});
  EXPECT_EQ(report->endpoint, (Endpoint{"127.0.0.1", 25}));

  // A resolver answering inside the call, first endpoint refused, second serves.
  World v;
  v.serve(How::normal, Endpoint{"192.0.2.9", 25});
  auto r2 = v.request({"a@x.net"});
  r2.host.address = "relay.example.org";
  auto report2 = v.deliver(r2, [](std::string host, ResolveHandler done) {
    EXPECT_EQ(host, "relay.example.org");
    std::vector<ResolvedTarget> targets(2);
    targets[0].endpoint.ip = "192.0.2.8";
    targets[1].endpoint.ip = "192.0.2.9";
    for (auto& t : targets) t.name = "relay.example.org";
    done(std::move(targets));
  });
  ASSERT_TRUE(report2);
  EXPECT_EQ(statuses(*report2), std::vector{kOk});
  EXPECT_EQ(report2->endpoint, (Endpoint{"192.0.2.9", 25}));

  World u;
  auto r3 = u.request({"a@x.net"});
  r3.host.address = "nx.example.org";
  auto report3 = u.deliver(r3, [](std::string, ResolveHandler done) {
    done(protocol::Unexpected<ResolveFailure>{ResolveFailure{true, "no such host"}});
  });
  ASSERT_TRUE(report3);
  EXPECT_EQ(statuses(*report3), std::vector{kPerm});
  EXPECT_EQ(report3->recipients[0].text, "nx.example.org: no such host");
}

// Starts a delivery with `cache` and runs the world for `span`; the report, if any.
std::optional<DeliveryReport> deliver_for(World& w, DeliveryRequest r,
                                          std::shared_ptr<ConnectionCache> cache,
                                          Duration span = Duration::seconds(2)) {
  std::optional<DeliveryReport> got;
  RemoteDelivery::start(
      w.sim, std::move(r), [&](DeliveryReport report) { got = std::move(report); }, {}, cache);
  w.sim.run_for(span);
  return got;
}

TEST(RemoteDelivery, AKeptConnectionCarriesTheNextMessage) {
  World w;
  w.serve(How::normal);
  auto cache = std::make_shared<ConnectionCache>(Duration::seconds(5));
  auto first = deliver_for(w, w.request({"a@x.net"}), cache);
  ASSERT_TRUE(first);
  EXPECT_EQ(statuses(*first), std::vector{kOk});
  EXPECT_EQ(cache->idle_count(), 1u);
  EXPECT_EQ(w.peers[0]->received.find("QUIT"), std::string::npos);
  auto second = deliver_for(w, w.request({"b@x.net", "c@x.net"}), cache);
  ASSERT_TRUE(second);
  EXPECT_EQ(statuses(*second), (std::vector{kOk, kOk}));
  ASSERT_EQ(w.peers.size(), 1u) << "one connection for both messages";
  EXPECT_EQ(cache->reused_count(), 1u);
  EXPECT_EQ(w.peers[0]->rcpts, (std::vector<std::string>{"a", "b", "c"}));
  const std::string& seen = w.peers[0]->received;
  EXPECT_EQ(seen.find("EHLO", 1), std::string::npos) << "no second greeting or EHLO";
  EXPECT_NE(seen.find("MAIL FROM:", seen.find("\r\n.\r\n")), std::string::npos) << seen;
  EXPECT_EQ(second->endpoint, (Endpoint{"192.0.2.1", 25}));
  // Idle for longer than idle_max: QUIT, and the connection is gone.
  w.sim.run_for(Duration::seconds(6));
  EXPECT_EQ(cache->idle_count(), 0u);
  EXPECT_NE(w.peers[0]->received.find("QUIT\r\n"), std::string::npos);
  EXPECT_TRUE(w.sim.peer_closed_by_engine(w.ids[0]));
}

TEST(RemoteDelivery, AKeptConnectionTheServerClosedMeansAFreshOneNotAFailure) {
  World w;
  w.serve(How::normal);
  auto cache = std::make_shared<ConnectionCache>(Duration::seconds(30));
  ASSERT_TRUE(deliver_for(w, w.request({"a@x.net"}), cache));
  ASSERT_EQ(cache->idle_count(), 1u);
  w.sim.peer_close(w.ids[0]);  // the server's idle timeout
  w.sim.run_for(Duration::seconds(1));
  EXPECT_EQ(cache->idle_count(), 0u) << "noticed while idle";
  auto next = deliver_for(w, w.request({"b@x.net"}), cache);
  ASSERT_TRUE(next);
  EXPECT_EQ(statuses(*next), std::vector{kOk});
  EXPECT_EQ(w.peers.size(), 2u);
}

TEST(RemoteDelivery, AKeptConnectionThatDiesUnnoticedIsReplacedBeforeAnyOutcome) {
  World w;
  w.serve(How::normal);
  auto cache = std::make_shared<ConnectionCache>(Duration::seconds(30));
  ASSERT_TRUE(deliver_for(w, w.request({"a@x.net"}), cache));
  ASSERT_EQ(cache->idle_count(), 1u);
  // The close is in flight when the next message takes the connection.
  w.sim.peer_close(w.ids[0]);
  auto next = deliver_for(w, w.request({"b@x.net"}), cache);
  ASSERT_TRUE(next);
  EXPECT_EQ(statuses(*next), std::vector{kOk}) << next->recipients[0].text;
  EXPECT_EQ(w.peers.size(), 2u);
  EXPECT_EQ(w.peers[1]->rcpts, std::vector<std::string>{"b"});
}

TEST(RemoteDelivery, OnlyTheSameDestinationSharesAConnection) {
  World w;
  w.serve(How::normal);
  auto cache = std::make_shared<ConnectionCache>(Duration::seconds(30));
  ASSERT_TRUE(deliver_for(w, w.request({"a@x.net"}), cache));
  auto other = w.request({"b@x.net"});
  other.helo_name = "other.example.org";
  ASSERT_TRUE(deliver_for(w, other, cache));
  EXPECT_EQ(w.peers.size(), 2u);
  EXPECT_EQ(cache->reused_count(), 0u);
  EXPECT_EQ(cache->idle_count(), 2u);
  cache.reset();  // the owner goes away: every idle connection says QUIT and closes
  w.sim.run_for(Duration::seconds(1));
  EXPECT_NE(w.peers[0]->received.find("QUIT\r\n"), std::string::npos);
  EXPECT_TRUE(w.sim.peer_closed_by_engine(w.ids[1]));
}

TEST(RemoteDelivery, CancelMeansNoCallback) {
  World w;
  w.serve(How::normal);
  bool called = false;
  auto handle =
      RemoteDelivery::start(w.sim, w.request({"a@x.net"}), [&](DeliveryReport) { called = true; });
  w.sim.run_for(Duration::milliseconds(3));
  handle.cancel();
  w.sim.run_until_idle();
  EXPECT_FALSE(called);
  EXPECT_TRUE(handle.finished());
}

}  // namespace
}  // namespace tern::runtime::outbound
