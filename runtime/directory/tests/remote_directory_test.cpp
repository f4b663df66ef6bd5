// The remote directories against a simulated network, with the far end played by our own
// server machines (protocol/imap and protocol/smtp ServerSession), so every conversation
// is a real one (STARTTLS included: the sim's handshake stands for TLS); plus the memory
// directory's async adapter.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "adapters/sim/sim_io.hpp"
#include "protocol/imap/server_session.hpp"
#include "protocol/smtp/server_session.hpp"
#include "runtime/directory/imap_directory.hpp"
#include "runtime/directory/memory_adapter.hpp"
#include "runtime/directory/smtp_directory.hpp"

namespace tern::runtime::directory {
namespace {

using adapters::sim::PeerId;
using adapters::sim::SimIo;
namespace imap = protocol::imap;
namespace smtp = protocol::smtp;
namespace sasl = protocol::sasl;

const Endpoint kServer{"192.0.2.10", 143};

std::size_t count(const std::string& text, std::string_view what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// ---- The far end --------------------------------------------------------------------------

struct Accounts {
  std::string user = "ann@example.org";
  std::string password = "correct horse";
  bool matches(std::string_view u, std::string_view p) const { return u == user && p == password; }
};

// One server connection: bytes from the engine feed the machine, decisions are made at once,
// its output goes back; when it closes, the peer closes.
template <class Machine>
class Peer {
 public:
  Peer(SimIo& sim, PeerId id, std::unique_ptr<Machine> machine) : sim_(sim), id_(id) {
    machine_ = std::move(machine);
  }
  virtual ~Peer() = default;
  void attach() {
    sim_.peer_on_bytes(id_, [this](std::string_view bytes) {
      received += bytes;
      if (stalled_) return;
      inbox_ += bytes;
      pump();
    });
    pump();
  }
  void pump() {
    for (int guard = 0; guard < 10000 && !closed_; ++guard) {
      const std::size_t used = machine_->feed(inbox_, sim_.now());
      inbox_.erase(0, used);
      bool progressed = used > 0;
      while (auto event = machine_->poll_event()) {
        progressed = true;
        on_event(*event);
      }
      auto out = machine_->pending_output();
      if (!out.empty()) {
        sim_.peer_send(id_, std::string_view(out.data(), out.size()));
        machine_->consume_output(out.size());
      }
      if (machine_->is_closed()) {
        closed_ = true;
        sim_.peer_close(id_);
      }
      if (!progressed) break;
    }
  }
  void stall() { stalled_ = true; }                     // reads on, never answers again
  std::string received;                                 // every byte the engine sent
  std::size_t received_before_tls = std::string::npos;  // received.size() at STARTTLS

 protected:
  virtual void on_event(typename Machine::Event& event) = 0;
  // The machine queued its go-ahead to STARTTLS: that goes out in clear, then the sim's
  // handshake; the machine starts over as its contract says once TLS is up.
  void begin_tls() {
    auto out = machine_->pending_output();
    sim_.peer_send(id_, std::string_view(out.data(), out.size()));
    machine_->consume_output(out.size());
    received_before_tls = received.size();
    sim_.peer_start_tls(id_);
    EXPECT_FALSE(machine_->on_tls_established(sim_.now()));
  }
  SimIo& sim_;
  PeerId id_;
  std::unique_ptr<Machine> machine_;

 private:
  std::string inbox_;
  bool closed_ = false;
  bool stalled_ = false;
};

struct ImapServerMachine : imap::ServerSession {
  using Event = imap::ServerEvent;
  using imap::ServerSession::ServerSession;
};
struct SmtpServerMachine : smtp::ServerSession {
  using Event = smtp::ServerEvent;
  using smtp::ServerSession::ServerSession;
};

class ImapPeer final : public Peer<ImapServerMachine> {
 public:
  ImapPeer(SimIo& sim, PeerId id, imap::ServerConfig config, const Accounts& accounts,
           bool unavailable)
      : Peer(sim, id, std::make_unique<ImapServerMachine>(config, sim.now())),
        accounts_(accounts),
        unavailable_(unavailable) {}

 private:
  void on_event(imap::ServerEvent& event) override {
    if (std::holds_alternative<imap::StartTlsEvent>(event)) return begin_tls();
    const auto* verify = std::get_if<imap::VerifyEvent>(&event);
    if (verify == nullptr) return;
    const auto* pw = std::get_if<sasl::PasswordCredentials>(&verify->credentials);
    const bool ok = pw && accounts_.matches(pw->authcid, pw->password);
    // Built once (no reassignment): g++ 12 -O1 warns maybe-uninitialized otherwise.
    (void)machine_->decide(verify->ticket,
                           unavailable_ ? imap::ServerDecision{imap::Unavailable{}}
                                        : imap::ServerDecision{imap::Verified{ok}},
                           sim_.now());
  }
  const Accounts& accounts_;
  bool unavailable_;
};

struct SmtpBehaviour {
  bool auth_offered = true;
  // RCPT: reply per local part; absent: 250.
  std::map<std::string, smtp::Reply> rcpt_replies;
};

class SmtpPeer final : public Peer<SmtpServerMachine> {
 public:
  SmtpPeer(SimIo& sim, PeerId id, smtp::ServerConfig config, const Accounts& accounts,
           const SmtpBehaviour& behaviour)
      : Peer(sim, id, std::make_unique<SmtpServerMachine>(config, sim.now())),
        accounts_(accounts),
        behaviour_(behaviour) {}

 private:
  void on_event(smtp::ServerEvent& event) override {
    if (std::holds_alternative<smtp::StartTlsEvent>(event)) return begin_tls();
    smtp::ServerDecision decision = smtp::Accept{};
    std::optional<smtp::Ticket> ticket;
    if (const auto* auth = std::get_if<smtp::AuthEvent>(&event)) {
      ticket = auth->ticket;
      const std::string r = auth->response.value_or("");
      const std::size_t a = r.find('\0');
      const std::size_t b = a == std::string::npos ? a : r.find('\0', a + 1);
      const bool ok =
          b != std::string::npos && accounts_.matches(r.substr(a + 1, b - a - 1), r.substr(b + 1));
      decision = ok ? smtp::ServerDecision{smtp::Authenticated{}}
                    : smtp::ServerDecision{
                          smtp::Reject{smtp::Reply{535, smtp::EnhancedStatus{5, 7, 8}, {"no"}}}};
    } else if (const auto* rcpt = std::get_if<smtp::RcptEvent>(&event)) {
      ticket = rcpt->ticket;
      const auto& path = rcpt->command.path.path;
      auto it = behaviour_.rcpt_replies.find(path ? path->mailbox.local_part : "");
      if (it != behaviour_.rcpt_replies.end()) decision = smtp::Reject{it->second};
    } else if (const auto* hello = std::get_if<smtp::HelloEvent>(&event)) {
      ticket = hello->ticket;
    } else if (const auto* mail = std::get_if<smtp::MailEvent>(&event)) {
      ticket = mail->ticket;
    } else if (const auto* message = std::get_if<smtp::MessageEvent>(&event)) {
      ticket = message->ticket;
    }
    if (ticket) (void)machine_->decide(*ticket, decision, sim_.now());
  }
  const Accounts& accounts_;
  const SmtpBehaviour& behaviour_;
};

// How the far end answers a new connection.
enum class Server { normal, refused, stalls, garbage, unavailable, closes };
// What the directory's settings ask for.
enum class Tls { plain, implicit, starttls };

struct World {
  explicit World(std::uint64_t seed = 1) : sim(seed) {}

  void serve_imap(Server how, bool tls = false) {
    serve(how, tls, [this, tls](PeerId id) {
      imap::ServerConfig config;
      config.tls_active = tls;
      config.tls_available = offer_starttls;
      config.plaintext_without_tls = !auth_needs_tls;
      config.auth_mechanisms = imap_mechanisms;
      auto peer =
          std::make_shared<ImapPeer>(sim, id, config, accounts, how_ == Server::unavailable);
      imap_peers.push_back(peer);
      peer->attach();
    });
  }
  void serve_smtp(Server how, bool tls = false, bool lmtp = false) {
    serve(how, tls, [this, tls, lmtp](PeerId id) {
      smtp::ServerConfig config;
      config.mode = lmtp ? smtp::ServerMode::lmtp : smtp::ServerMode::smtp;
      config.tls_active = tls;
      config.tls_available = offer_starttls;
      config.auth_requires_tls = auth_needs_tls;
      if (behaviour.auth_offered) config.auth_mechanisms = {"PLAIN", "LOGIN"};
      auto peer = std::make_shared<SmtpPeer>(sim, id, config, accounts, behaviour);
      smtp_peers.push_back(peer);
      peer->attach();
    });
  }

  void serve(Server how, bool tls, std::function<void(PeerId)> make) {
    how_ = how;
    if (how == Server::refused) return;  // nobody listens: connect is refused
    sim.serve(kServer, [this, how, tls, make](PeerId id) {
      ++connections;
      peer_ids.push_back(id);
      if (tls) sim.peer_start_tls(id);
      if (fail_tls) sim.peer_fail_tls(id);
      if (how == Server::stalls) return;
      if (how == Server::garbage) return sim.peer_send(id, "HTTP/1.1 400 Bad Request\r\n\r\n");
      if (how == Server::closes) return sim.peer_close(id);
      make(id);
    });
  }

  RemoteDirectorySettings settings(Tls tls = Tls::plain) const {
    RemoteDirectorySettings s;
    s.address = kServer.ip;
    s.port = kServer.port;
    s.tls_implicit = tls == Tls::implicit;
    s.starttls = tls == Tls::starttls;  // plain means both off: credentials in clear
    s.lookup_domains = {"example.org"};
    return s;
  }

  // Runs until `done` or the limit of virtual time.
  bool run_until(const std::function<bool()>& done, Duration limit = Duration::seconds(60)) {
    return sim.run_until(done, limit);
  }

  SimIo sim;
  Accounts accounts;
  SmtpBehaviour behaviour;
  bool offer_starttls = false;  // the servers offer STARTTLS while TLS is not active
  bool auth_needs_tls = false;  // the servers take credentials only once TLS is active
  bool fail_tls = false;        // every connection's handshake fails
  std::vector<std::string> imap_mechanisms{"PLAIN", "LOGIN"};
  std::size_t connections = 0;
  std::vector<PeerId> peer_ids;
  std::vector<std::shared_ptr<ImapPeer>> imap_peers;
  std::vector<std::shared_ptr<SmtpPeer>> smtp_peers;
  Server how_ = Server::normal;
};

// Collects answers in the order they arrive.
template <class Outcome>
struct Answers {
  std::vector<Outcome> got;
  std::vector<std::size_t> order;
  std::function<void(Outcome)> slot(std::size_t tag = 0) {
    return [this, tag](Outcome o) {
      got.push_back(std::move(o));
      order.push_back(tag);
    };
  }
};

// One authentication, run to its answer: exactly one answer, whose status is returned.
template <class Dir>
AuthStatus auth_once(World& w, Dir& dir, std::string_view user, std::string_view password) {
  Answers<AuthOutcome> a;
  dir.authenticate(user, password, a.slot());
  w.sim.run_until_idle();
  EXPECT_EQ(a.got.size(), 1u) << "exactly one answer";
  return a.got.empty() ? AuthStatus::rejected : a.got[0].status;
}

// ---- IMAP ---------------------------------------------------------------------------------

TEST(ImapDirectory, RightPasswordAuthenticatesAndLogsOut) {
  World w;
  w.serve_imap(Server::normal);
  ImapDirectory dir(w.sim, w.settings());
  Answers<AuthOutcome> a;
  dir.authenticate("ann@example.org", "correct horse", a.slot());
  EXPECT_TRUE(a.got.empty());  // never inside the call
  ASSERT_TRUE(w.run_until([&] { return !a.got.empty(); }));
  EXPECT_EQ(a.got[0].status, AuthStatus::authenticated);
  EXPECT_EQ(a.got[0].principal, "ann@example.org");
  EXPECT_EQ(a.got[0].addresses, std::vector<std::string>{"ann@example.org"});
  w.sim.run_until_idle();
  ASSERT_EQ(w.imap_peers.size(), 1u);
  EXPECT_NE(w.imap_peers[0]->received.find("AUTHENTICATE PLAIN"), std::string::npos);
  EXPECT_NE(w.imap_peers[0]->received.find("LOGOUT"), std::string::npos);
  EXPECT_TRUE(w.sim.peer_closed_by_engine(w.peer_ids[0]));
  EXPECT_EQ(dir.connections(), 0u);
  EXPECT_EQ(a.got.size(), 1u);
}

TEST(ImapDirectory, WrongPasswordIsRejected) {
  World w;
  w.serve_imap(Server::normal);
  ImapDirectory dir(w.sim, w.settings());
  Answers<AuthOutcome> a;
  dir.authenticate("ann@example.org", "wrong", a.slot());
  w.sim.run_until_idle();
  ASSERT_EQ(a.got.size(), 1u);
  EXPECT_EQ(a.got[0].status, AuthStatus::rejected);
  EXPECT_TRUE(a.got[0].principal.empty());
  EXPECT_EQ(dir.connections(), 0u);
}

TEST(ImapDirectory, ServerSideFailuresAreUnavailable) {
  for (Server how : {Server::refused, Server::garbage, Server::unavailable, Server::closes}) {
    World w;
    w.serve_imap(how);
    ImapDirectory dir(w.sim, w.settings());
    Answers<AuthOutcome> a;
    dir.authenticate("ann@example.org", "correct horse", a.slot());
    w.sim.run_until_idle();
    ASSERT_EQ(a.got.size(), 1u) << int(how);
    EXPECT_EQ(a.got[0].status, AuthStatus::unavailable) << int(how);
    EXPECT_EQ(dir.connections(), 0u);
    EXPECT_FALSE(dir.last_failure().empty());
    if (how == Server::refused) {
      EXPECT_NE(dir.last_failure().find("refused"), std::string::npos) << dir.last_failure();
    }
    // The outcome carries the cause for the session's log.
    EXPECT_EQ(a.got[0].reason, "remote directory unavailable: " + dir.last_failure());
    // Unavailable is never cached: the next attempt asks again.
    EXPECT_EQ(dir.cache().size(), 0u);
  }
}

TEST(ImapDirectory, StalledServerTimesOutAtTheTimeout) {
  World w;
  w.serve_imap(Server::stalls);
  auto settings = w.settings();
  settings.timeout = Duration::seconds(15);
  ImapDirectory dir(w.sim, settings);
  Answers<AuthOutcome> a;
  const Instant start = w.sim.now();
  dir.authenticate("ann@example.org", "correct horse", a.slot());
  w.sim.run_for(Duration::seconds(15) - Duration::milliseconds(1));
  EXPECT_TRUE(a.got.empty());
  w.sim.run_for(Duration::milliseconds(1));
  ASSERT_EQ(a.got.size(), 1u);
  EXPECT_EQ(a.got[0].status, AuthStatus::unavailable);
  EXPECT_EQ(w.sim.now() - start, Duration::seconds(15));
  EXPECT_NE(dir.last_failure().find("timeout"), std::string::npos) << dir.last_failure();
  EXPECT_EQ(dir.connections(), 0u);
  w.sim.run_until_idle();
  EXPECT_EQ(a.got.size(), 1u);
}

TEST(ImapDirectory, ImplicitTlsThenLogin) {
  World w;
  w.serve_imap(Server::normal, /*tls=*/true);
  ImapDirectory dir(w.sim, w.settings(Tls::implicit));
  EXPECT_EQ(auth_once(w, dir, "ann@example.org", "correct horse"), AuthStatus::authenticated);
  EXPECT_TRUE(w.sim.peer_tls_active(w.peer_ids[0]));
}

TEST(ImapDirectory, FailedHandshakeIsUnavailable) {
  World w;
  w.sim.serve(kServer, [&](PeerId id) {
    w.sim.peer_fail_tls(id);
    w.sim.peer_start_tls(id);
  });
  ImapDirectory dir(w.sim, w.settings(Tls::implicit));
  EXPECT_EQ(auth_once(w, dir, "ann@example.org", "correct horse"), AuthStatus::unavailable);
  EXPECT_NE(dir.last_failure().find("TLS"), std::string::npos) << dir.last_failure();
}

// What the engine sent in clear (before the STARTTLS handshake) and after it.
std::string before_tls(const std::string& received, std::size_t at) {
  return at == std::string::npos ? received : received.substr(0, at);
}
std::string after_tls(const std::string& received, std::size_t at) {
  return at == std::string::npos ? std::string() : received.substr(at);
}

TEST(ImapDirectory, StartTlsThenLogin) {
  // Once with AUTHENTICATE PLAIN, once with the LOGIN command (no mechanism offered).
  for (const auto& mechanisms :
       {std::vector<std::string>{"PLAIN", "LOGIN"}, std::vector<std::string>{}}) {
    World w;
    w.offer_starttls = true;
    w.auth_needs_tls = true;  // the server would refuse credentials in clear
    w.imap_mechanisms = mechanisms;
    w.serve_imap(Server::normal);
    ImapDirectory dir(w.sim, w.settings(Tls::starttls));
    Answers<AuthOutcome> a;
    dir.authenticate("ann@example.org", "correct horse", a.slot());
    dir.authenticate("ann@example.org", "wrong", a.slot());
    w.sim.run_until_idle();
    ASSERT_EQ(a.got.size(), 2u);
    EXPECT_EQ(a.got[0].status, AuthStatus::authenticated);
    EXPECT_EQ(a.got[0].principal, "ann@example.org");
    EXPECT_EQ(a.got[1].status, AuthStatus::rejected);
    ASSERT_EQ(w.imap_peers.size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) {
      EXPECT_TRUE(w.sim.peer_tls_active(w.peer_ids[i]));
      const auto& p = *w.imap_peers[i];
      const std::string clear = before_tls(p.received, p.received_before_tls);
      const std::string secure = after_tls(p.received, p.received_before_tls);
      EXPECT_EQ(clear, "A0001 STARTTLS\r\n");
      const char* method = mechanisms.empty() ? "A0003 LOGIN " : "A0003 AUTHENTICATE PLAIN";
      EXPECT_EQ(secure.rfind("A0002 CAPABILITY\r\n" + std::string(method), 0), 0u) << secure;
      EXPECT_NE(secure.find("LOGOUT"), std::string::npos);
    }
    EXPECT_EQ(dir.connections(), 0u);
  }
}

TEST(ImapDirectory, StartTlsNotOfferedIsUnavailable) {
  World w;
  w.offer_starttls = false;  // and the server would take credentials in clear
  w.serve_imap(Server::normal);
  ImapDirectory dir(w.sim, w.settings(Tls::starttls));
  EXPECT_EQ(auth_once(w, dir, "ann@example.org", "correct horse"), AuthStatus::unavailable);
  EXPECT_NE(dir.last_failure().find("STARTTLS"), std::string::npos) << dir.last_failure();
  ASSERT_EQ(w.imap_peers.size(), 1u);
  EXPECT_EQ(w.imap_peers[0]->received.find("AUTHENTICATE"), std::string::npos);
  EXPECT_EQ(w.imap_peers[0]->received.find("LOGIN "), std::string::npos);
  EXPECT_EQ(w.imap_peers[0]->received.find("STARTTLS"), std::string::npos);
  EXPECT_FALSE(w.sim.peer_tls_active(w.peer_ids[0]));
  EXPECT_EQ(dir.cache().size(), 0u);
  EXPECT_EQ(dir.connections(), 0u);
}

TEST(ImapDirectory, StartTlsHandshakeFailureIsUnavailable) {
  World w;
  w.offer_starttls = true;
  w.fail_tls = true;
  w.serve_imap(Server::normal);
  ImapDirectory dir(w.sim, w.settings(Tls::starttls));
  EXPECT_EQ(auth_once(w, dir, "ann@example.org", "correct horse"), AuthStatus::unavailable);
  EXPECT_NE(dir.last_failure().find("STARTTLS with the remote directory failed: TLS handshake"),
            std::string::npos)
      << dir.last_failure();
  ASSERT_EQ(w.imap_peers.size(), 1u);
  EXPECT_EQ(w.imap_peers[0]->received, "A0001 STARTTLS\r\n");  // and then nothing
  EXPECT_TRUE(w.sim.peer_closed_by_engine(w.peer_ids[0]));
  EXPECT_EQ(dir.cache().size(), 0u);
  EXPECT_EQ(dir.connections(), 0u);
}

TEST(ImapDirectory, StartTlsOffStaysPlainEvenWhenOffered) {
  World w;
  w.offer_starttls = true;
  w.serve_imap(Server::normal);
  auto settings = w.settings(Tls::plain);
  ASSERT_FALSE(settings.starttls);
  ImapDirectory dir(w.sim, settings);
  EXPECT_EQ(auth_once(w, dir, "ann@example.org", "correct horse"), AuthStatus::authenticated);
  ASSERT_EQ(w.imap_peers.size(), 1u);
  EXPECT_EQ(w.imap_peers[0]->received.find("STARTTLS"), std::string::npos);
  EXPECT_EQ(w.imap_peers[0]->received.rfind("A0001 AUTHENTICATE PLAIN", 0), 0u);
  EXPECT_FALSE(w.sim.peer_tls_active(w.peer_ids[0]));
}

TEST(ImapDirectory, CacheAnswersRepeatsWithoutAConnection) {
  World w;
  w.serve_imap(Server::normal);
  ImapDirectory dir(w.sim, w.settings());
  Answers<AuthOutcome> a;
  dir.authenticate("ann@example.org", "correct horse", a.slot());
  w.sim.run_until_idle();
  dir.authenticate("ann@example.org", "correct horse", a.slot());
  w.sim.run_until_idle();
  ASSERT_EQ(a.got.size(), 2u);
  EXPECT_EQ(a.got[1].status, AuthStatus::authenticated);
  EXPECT_EQ(a.got[1].principal, "ann@example.org");
  EXPECT_EQ(w.connections, 1u);
  // Another password is other credentials: the server is asked.
  dir.authenticate("ann@example.org", "wrong", a.slot());
  w.sim.run_until_idle();
  EXPECT_EQ(a.got[2].status, AuthStatus::rejected);
  EXPECT_EQ(w.connections, 2u);
  // The negative answer is cached for its TTL (10 minutes), then asked again.
  dir.authenticate("ann@example.org", "wrong", a.slot());
  w.sim.run_until_idle();
  EXPECT_EQ(a.got[3].status, AuthStatus::rejected);
  EXPECT_EQ(w.connections, 2u);
  w.sim.run_for(Duration::minutes(10));
  dir.authenticate("ann@example.org", "wrong", a.slot());
  w.sim.run_until_idle();
  EXPECT_EQ(a.got[4].status, AuthStatus::rejected);
  EXPECT_EQ(w.connections, 3u);
  // The positive one lives an hour.
  w.sim.run_for(Duration::minutes(50) - Duration::milliseconds(100));
  dir.authenticate("ann@example.org", "correct horse", a.slot());
  w.sim.run_until_idle();
  EXPECT_EQ(w.connections, 3u);
  w.sim.run_for(Duration::seconds(1));
  dir.authenticate("ann@example.org", "correct horse", a.slot());
  w.sim.run_until_idle();
  EXPECT_EQ(w.connections, 4u);
  EXPECT_EQ(a.got[6].status, AuthStatus::authenticated);
}

TEST(ImapDirectory, AuthErrorsLimitAnswersWithoutTheServer) {
  World w;
  w.serve_imap(Server::normal);
  auto settings = w.settings();
  settings.limits_auth_errors = 2;
  ImapDirectory dir(w.sim, settings);
  Answers<AuthOutcome> a;
  dir.authenticate("ann@example.org", "guess1", a.slot());
  w.sim.run_until_idle();
  dir.authenticate("ann@example.org", "guess2", a.slot());  // the 2nd still asks
  w.sim.run_until_idle();
  EXPECT_EQ(w.connections, 2u);
  dir.authenticate("ann@example.org", "guess3", a.slot());  // the 3rd: locked out
  dir.authenticate("ann@example.org", "correct horse", a.slot());
  w.sim.run_until_idle();
  EXPECT_EQ(w.connections, 2u);
  ASSERT_EQ(a.got.size(), 4u);
  for (const auto& o : a.got) EXPECT_EQ(o.status, AuthStatus::rejected);
  EXPECT_EQ(a.got[3].reason, "too many authentication failures");
  // Another user is not affected.
  dir.authenticate("bob@example.org", "x", a.slot());
  w.sim.run_until_idle();
  EXPECT_EQ(w.connections, 3u);
  // After the negative TTL the server is asked again.
  w.sim.run_for(Duration::minutes(10));
  dir.authenticate("ann@example.org", "correct horse", a.slot());
  w.sim.run_until_idle();
  EXPECT_EQ(w.connections, 4u);
  EXPECT_EQ(a.got.back().status, AuthStatus::authenticated);
}

TEST(ImapDirectory, RecipientsAreLocalAtLookupDomainsOnly) {
  World w;
  w.serve_imap(Server::normal);
  ImapDirectory dir(w.sim, w.settings());
  Answers<RecipientOutcome> r;
  dir.check_recipient("Anyone@Example.ORG", r.slot());
  dir.check_recipient("someone@elsewhere.example", r.slot());
  EXPECT_TRUE(r.got.empty());
  w.sim.run_until_idle();
  ASSERT_EQ(r.got.size(), 2u);
  EXPECT_EQ(r.got[0].status, RecipientStatus::local);
  EXPECT_EQ(r.got[0].principal, "anyone@example.org");
  EXPECT_EQ(r.got[1].status, RecipientStatus::unknown);
  EXPECT_EQ(w.connections, 0u);
  EXPECT_TRUE(dir.is_local_domain("EXAMPLE.org"));
  EXPECT_FALSE(dir.is_local_domain("example.com"));
  Answers<SenderOutcome> s;
  dir.may_send_as("ann@example.org", "ANN@example.org", s.slot());
  dir.may_send_as("ann@example.org", "bob@example.org", s.slot());
  w.sim.run_until_idle();
  ASSERT_EQ(s.got.size(), 2u);
  EXPECT_EQ(s.got[0].status, SenderStatus::allowed);
  EXPECT_EQ(s.got[1].status, SenderStatus::not_owned);
}

// Settings naming the server imap.example.org, which resolves to it, with no positive
// cache: every request reaches the server.
RemoteDirectorySettings by_name(World& w) {
  w.sim.dns_addresses("imap.example.org", {kServer.ip});
  auto settings = w.settings();
  settings.address = "imap.example.org";
  settings.cache_positive_ttl = Duration::seconds(0);
  return settings;
}

TEST(ImapDirectory, HostNameIsResolvedThenUsed) {
  World w;
  w.serve_imap(Server::normal);
  ImapDirectory dir(w.sim, by_name(w));
  EXPECT_EQ(auth_once(w, dir, "ann@example.org", "correct horse"), AuthStatus::authenticated);
  EXPECT_EQ(w.connections, 1u);
  const std::uint64_t queries = w.sim.dns_queries();
  EXPECT_GE(queries, 1u);
  EXPECT_EQ(auth_once(w, dir, "ann@example.org", "correct horse"), AuthStatus::authenticated);
  EXPECT_EQ(w.connections, 2u);
  EXPECT_EQ(w.sim.dns_queries(), queries);  // the answer is kept (kHostNameTtl)
}

TEST(ImapDirectory, UnresolvableHostNameIsUnavailableWithAReason) {
  World w;
  w.serve_imap(Server::normal);
  auto settings = w.settings();
  settings.address = "imap.example.org";  // NXDOMAIN in the simulation
  ImapDirectory dir(w.sim, settings);
  EXPECT_EQ(auth_once(w, dir, "ann@example.org", "correct horse"), AuthStatus::unavailable);
  EXPECT_NE(dir.last_failure().find("cannot resolve 'imap.example.org'"), std::string::npos)
      << dir.last_failure();
  EXPECT_EQ(w.connections, 0u);
  // It is asked again for the next request, and works once DNS does.
  w.sim.dns_addresses("imap.example.org", {kServer.ip});
  EXPECT_EQ(auth_once(w, dir, "ann@example.org", "correct horse"), AuthStatus::authenticated);
}

TEST(ImapDirectory, AStaleAnswerServesWhileDnsFails) {
  World w;
  w.serve_imap(Server::normal);
  ImapDirectory dir(w.sim, by_name(w));
  EXPECT_EQ(auth_once(w, dir, "ann@example.org", "correct horse"), AuthStatus::authenticated);
  w.sim.dns_fail("imap.example.org", DnsType::a, IoErrc::dns_failed);
  w.sim.dns_fail("imap.example.org", DnsType::aaaa, IoErrc::dns_failed);
  w.sim.run_for(Duration::minutes(6));  // past kHostNameTtl
  EXPECT_EQ(auth_once(w, dir, "ann@example.org", "correct horse"), AuthStatus::authenticated);
  w.sim.run_until_idle();
  EXPECT_NE(dir.last_failure().find("cannot resolve"), std::string::npos) << dir.last_failure();
}

TEST(ImapDirectory, AddressThatIsNeitherIpNorNameIsUnavailable) {
  World w;
  w.serve_imap(Server::normal);
  auto settings = w.settings();
  settings.address = "imap_example..org";
  ImapDirectory dir(w.sim, settings);
  EXPECT_EQ(auth_once(w, dir, "ann@example.org", "correct horse"), AuthStatus::unavailable);
  EXPECT_NE(dir.last_failure().find("neither an IP address nor a host name"), std::string::npos);
  EXPECT_EQ(w.connections, 0u);
}

TEST(RemoteDirectory, HostNamesFollowRfc1123) {
  EXPECT_TRUE(is_host_name("imap.example.org"));
  EXPECT_TRUE(is_host_name("localhost"));
  EXPECT_TRUE(is_host_name("a-b.c0"));
  EXPECT_TRUE(is_host_name(std::string(63, 'a') + ".org"));
  EXPECT_FALSE(is_host_name(std::string(64, 'a') + ".org"));
  EXPECT_FALSE(is_host_name("192.0.2.1"));  // an IPv4 literal, not a name
  EXPECT_FALSE(is_host_name("-a.org"));
  EXPECT_FALSE(is_host_name("a-.org"));
  EXPECT_FALSE(is_host_name("a..org"));
  EXPECT_FALSE(is_host_name("a.org."));
  EXPECT_FALSE(is_host_name("a_b.org"));
  EXPECT_FALSE(is_host_name(""));
}

TEST(ImapDirectory, PoolBoundAndFifoQueue) {
  World w;
  // The server greets after 1 s, so requests pile up.
  w.sim.serve(kServer, [&](PeerId id) {
    ++w.connections;
    w.sim.start_timer(w.sim.now() + Duration::seconds(1), [&w, id] {
      imap::ServerConfig config;
      config.plaintext_without_tls = true;
      auto peer = std::make_shared<ImapPeer>(w.sim, id, config, w.accounts, false);
      w.imap_peers.push_back(peer);
      peer->attach();
    });
  });
  auto settings = w.settings();
  settings.pool_max_connections = 2;
  settings.queue_max = 3;
  ImapDirectory dir(w.sim, settings);
  Answers<AuthOutcome> a;
  for (std::size_t i = 0; i < 6; ++i) {
    dir.authenticate("user" + std::to_string(i) + "@example.org", "pw", a.slot(i));
  }
  EXPECT_EQ(dir.connections(), 2u);
  EXPECT_EQ(dir.queued(), 3u);
  w.sim.run_for(Duration::milliseconds(500));
  EXPECT_EQ(w.connections, 2u);
  ASSERT_EQ(a.got.size(), 1u);  // the 6th found the queue full
  EXPECT_EQ(a.order[0], 5u);
  EXPECT_EQ(a.got[0].status, AuthStatus::unavailable);
  w.sim.run_until_idle();
  EXPECT_EQ(w.connections, 5u);
  ASSERT_EQ(a.got.size(), 6u);
  EXPECT_EQ(a.order, (std::vector<std::size_t>{5, 0, 1, 2, 3, 4}));
  for (std::size_t i = 1; i < 6; ++i) EXPECT_EQ(a.got[i].status, AuthStatus::rejected);
  EXPECT_EQ(dir.connections(), 0u);
}

TEST(ImapDirectory, QueuedRequestsExpireAtTheirTimeout) {
  World w;
  w.serve_imap(Server::stalls);
  auto settings = w.settings();
  settings.pool_max_connections = 1;
  settings.timeout = Duration::seconds(5);
  ImapDirectory dir(w.sim, settings);
  Answers<AuthOutcome> a;
  dir.authenticate("a@example.org", "pw", a.slot(0));
  w.sim.run_for(Duration::seconds(2));
  dir.authenticate("b@example.org", "pw", a.slot(1));
  EXPECT_EQ(dir.queued(), 1u);
  w.sim.run_for(Duration::seconds(3));
  ASSERT_EQ(a.got.size(), 1u);  // the first timed out; the second got its connection
  EXPECT_EQ(dir.queued(), 0u);
  w.sim.run_for(Duration::milliseconds(10));
  EXPECT_EQ(w.connections, 2u);
  w.sim.run_for(Duration::seconds(2) - Duration::milliseconds(20));
  EXPECT_EQ(a.got.size(), 1u);
  w.sim.run_for(Duration::milliseconds(10));
  ASSERT_EQ(a.got.size(), 2u);  // 5 s after its arrival, not after its connect
  EXPECT_EQ(a.order, (std::vector<std::size_t>{0, 1}));
  EXPECT_EQ(a.got[1].status, AuthStatus::unavailable);
}

TEST(ImapDirectory, DestroyedDirectoryNeverAnswers) {
  World w;
  w.serve_imap(Server::normal);
  Answers<AuthOutcome> a;
  {
    ImapDirectory dir(w.sim, w.settings());
    dir.authenticate("ann@example.org", "correct horse", a.slot());
    w.sim.run_for(Duration::milliseconds(2));
  }
  w.sim.run_until_idle();
  EXPECT_TRUE(a.got.empty());
}

// ---- SMTP and LMTP -------------------------------------------------------------------------

TEST(SmtpDirectory, AuthRightWrongAndNoMechanism) {
  for (auto mode : {SmtpDirectoryMode::smtp, SmtpDirectoryMode::lmtp}) {
    World w;
    w.serve_smtp(Server::normal, false, mode == SmtpDirectoryMode::lmtp);
    SmtpDirectory dir(w.sim, w.settings(), mode);
    Answers<AuthOutcome> a;
    dir.authenticate("ann@example.org", "correct horse", a.slot());
    dir.authenticate("ann@example.org", "wrong", a.slot());
    w.sim.run_until_idle();
    ASSERT_EQ(a.got.size(), 2u);
    EXPECT_EQ(a.got[0].status, AuthStatus::authenticated);
    EXPECT_EQ(a.got[0].principal, "ann@example.org");
    EXPECT_EQ(a.got[1].status, AuthStatus::rejected);
    ASSERT_EQ(w.smtp_peers.size(), 2u);
    for (const auto& p : w.smtp_peers) {
      EXPECT_EQ(p->received.rfind(mode == SmtpDirectoryMode::lmtp ? "LHLO " : "EHLO ", 0), 0u);
      EXPECT_NE(p->received.find("AUTH PLAIN "), std::string::npos);
      EXPECT_NE(p->received.find("QUIT\r\n"), std::string::npos);
    }
    EXPECT_EQ(dir.connections(), 0u);
  }
  World w;
  w.behaviour.auth_offered = false;
  w.serve_smtp(Server::normal);
  SmtpDirectory dir(w.sim, w.settings(), SmtpDirectoryMode::smtp);
  EXPECT_EQ(auth_once(w, dir, "ann@example.org", "correct horse"), AuthStatus::unavailable);
}

TEST(SmtpDirectory, ServerSideFailuresAreUnavailable) {
  for (Server how : {Server::refused, Server::garbage, Server::closes, Server::stalls}) {
    World w;
    w.serve_smtp(how);
    SmtpDirectory dir(w.sim, w.settings(), SmtpDirectoryMode::smtp);
    Answers<AuthOutcome> a;
    Answers<RecipientOutcome> r;
    dir.authenticate("ann@example.org", "correct horse", a.slot());
    dir.check_recipient("ann@example.org", r.slot());
    w.sim.run_until_idle();
    ASSERT_EQ(a.got.size(), 1u) << int(how);
    ASSERT_EQ(r.got.size(), 1u) << int(how);
    EXPECT_EQ(a.got[0].status, AuthStatus::unavailable) << int(how);
    EXPECT_EQ(r.got[0].status, RecipientStatus::unavailable) << int(how);
    EXPECT_EQ(dir.connections(), 0u);
  }
}

TEST(SmtpDirectory, ImplicitTlsAuth) {
  World w;
  w.serve_smtp(Server::normal, /*tls=*/true);
  SmtpDirectory dir(w.sim, w.settings(Tls::implicit), SmtpDirectoryMode::smtp);
  EXPECT_EQ(auth_once(w, dir, "ann@example.org", "correct horse"), AuthStatus::authenticated);
  EXPECT_TRUE(w.sim.peer_tls_active(w.peer_ids[0]));
}

TEST(SmtpDirectory, StartTlsThenAuth) {
  for (auto mode : {SmtpDirectoryMode::smtp, SmtpDirectoryMode::lmtp}) {
    const bool lmtp = mode == SmtpDirectoryMode::lmtp;
    const std::string hello = lmtp ? "LHLO localhost\r\n" : "EHLO localhost\r\n";
    World w;
    w.offer_starttls = true;
    w.auth_needs_tls = true;  // AUTH is offered only once TLS is up
    w.serve_smtp(Server::normal, /*tls=*/false, lmtp);
    SmtpDirectory dir(w.sim, w.settings(Tls::starttls), mode);
    Answers<AuthOutcome> a;
    dir.authenticate("ann@example.org", "correct horse", a.slot());
    dir.authenticate("ann@example.org", "wrong", a.slot());
    w.sim.run_until_idle();
    ASSERT_EQ(a.got.size(), 2u);
    EXPECT_EQ(a.got[0].status, AuthStatus::authenticated);
    EXPECT_EQ(a.got[0].principal, "ann@example.org");
    EXPECT_EQ(a.got[1].status, AuthStatus::rejected);
    ASSERT_EQ(w.smtp_peers.size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) {
      EXPECT_TRUE(w.sim.peer_tls_active(w.peer_ids[i]));
      const auto& p = *w.smtp_peers[i];
      EXPECT_EQ(before_tls(p.received, p.received_before_tls), hello + "STARTTLS\r\n");
      const std::string secure = after_tls(p.received, p.received_before_tls);
      EXPECT_EQ(secure.rfind(hello + "AUTH PLAIN ", 0), 0u) << secure;
      EXPECT_NE(secure.find("QUIT\r\n"), std::string::npos);
    }
    EXPECT_EQ(dir.connections(), 0u);
  }
}

TEST(SmtpDirectory, StartTlsThenRecipientProbe) {
  World w;
  w.offer_starttls = true;
  w.serve_smtp(Server::normal);
  SmtpDirectory dir(w.sim, w.settings(Tls::starttls), SmtpDirectoryMode::smtp);
  Answers<RecipientOutcome> r;
  dir.check_recipient("ann@example.org", r.slot());
  w.run_until([&] { return r.got.size() == 1; });
  ASSERT_EQ(r.got.size(), 1u);
  EXPECT_EQ(r.got[0].status, RecipientStatus::local);
  ASSERT_EQ(w.smtp_peers.size(), 1u);
  const auto& p = *w.smtp_peers[0];
  EXPECT_TRUE(w.sim.peer_tls_active(w.peer_ids[0]));
  EXPECT_EQ(before_tls(p.received, p.received_before_tls), "EHLO localhost\r\nSTARTTLS\r\n");
  EXPECT_NE(after_tls(p.received, p.received_before_tls).find("RCPT TO:<ann@example.org>"),
            std::string::npos);
  EXPECT_EQ(dir.idle_connections(), 1u);
}

TEST(SmtpDirectory, StartTlsNotOfferedIsUnavailable) {
  for (auto mode : {SmtpDirectoryMode::smtp, SmtpDirectoryMode::lmtp}) {
    World w;
    w.offer_starttls = false;  // and the server would take AUTH in clear
    w.serve_smtp(Server::normal, /*tls=*/false, mode == SmtpDirectoryMode::lmtp);
    SmtpDirectory dir(w.sim, w.settings(Tls::starttls), mode);
    Answers<AuthOutcome> a;
    Answers<RecipientOutcome> r;
    dir.authenticate("ann@example.org", "correct horse", a.slot());
    dir.check_recipient("ann@example.org", r.slot());
    w.sim.run_until_idle();
    ASSERT_EQ(a.got.size(), 1u);
    ASSERT_EQ(r.got.size(), 1u);
    EXPECT_EQ(a.got[0].status, AuthStatus::unavailable);
    EXPECT_EQ(r.got[0].status, RecipientStatus::unavailable);
    EXPECT_NE(dir.last_failure().find("STARTTLS"), std::string::npos) << dir.last_failure();
    ASSERT_EQ(w.smtp_peers.size(), 2u);
    for (const auto& p : w.smtp_peers) {
      EXPECT_EQ(p->received.find("AUTH"), std::string::npos);
      EXPECT_EQ(p->received.find("MAIL FROM"), std::string::npos);
      EXPECT_EQ(p->received.find("STARTTLS"), std::string::npos);
    }
    EXPECT_EQ(dir.cache().size(), 0u);
    EXPECT_EQ(dir.connections(), 0u);
  }
}

TEST(SmtpDirectory, StartTlsHandshakeFailureIsUnavailable) {
  World w;
  w.offer_starttls = true;
  w.fail_tls = true;
  w.serve_smtp(Server::normal);
  SmtpDirectory dir(w.sim, w.settings(Tls::starttls), SmtpDirectoryMode::smtp);
  Answers<AuthOutcome> a;
  Answers<RecipientOutcome> r;
  dir.authenticate("ann@example.org", "correct horse", a.slot());
  dir.check_recipient("ann@example.org", r.slot());
  w.sim.run_until_idle();
  ASSERT_EQ(a.got.size(), 1u);
  ASSERT_EQ(r.got.size(), 1u);
  EXPECT_EQ(a.got[0].status, AuthStatus::unavailable);
  EXPECT_EQ(r.got[0].status, RecipientStatus::unavailable);
  EXPECT_NE(dir.last_failure().find("STARTTLS with the remote directory failed: TLS handshake"),
            std::string::npos)
      << dir.last_failure();
  ASSERT_EQ(w.smtp_peers.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(w.smtp_peers[i]->received, "EHLO localhost\r\nSTARTTLS\r\n");  // then nothing
    EXPECT_TRUE(w.sim.peer_closed_by_engine(w.peer_ids[i]));
  }
  EXPECT_EQ(dir.cache().size(), 0u);
  EXPECT_EQ(dir.connections(), 0u);
}

TEST(SmtpDirectory, StartTlsOffStaysPlainEvenWhenOffered) {
  World w;
  w.offer_starttls = true;
  w.serve_smtp(Server::normal);
  auto settings = w.settings(Tls::plain);
  ASSERT_FALSE(settings.starttls);
  SmtpDirectory dir(w.sim, settings, SmtpDirectoryMode::smtp);
  EXPECT_EQ(auth_once(w, dir, "ann@example.org", "correct horse"), AuthStatus::authenticated);
  ASSERT_EQ(w.smtp_peers.size(), 1u);
  EXPECT_EQ(w.smtp_peers[0]->received.find("STARTTLS"), std::string::npos);
  EXPECT_EQ(w.smtp_peers[0]->received.rfind("EHLO localhost\r\nAUTH PLAIN ", 0), 0u);
  EXPECT_FALSE(w.sim.peer_tls_active(w.peer_ids[0]));
}

TEST(SmtpDirectory, DefaultSettingsRequireStartTls) {
  RemoteDirectorySettings defaults;
  EXPECT_FALSE(defaults.tls_implicit);
  EXPECT_TRUE(defaults.starttls);
  World w;
  w.serve_smtp(Server::normal);  // plain only, AUTH offered in clear
  defaults.address = kServer.ip;
  defaults.port = kServer.port;
  SmtpDirectory dir(w.sim, defaults, SmtpDirectoryMode::smtp);
  EXPECT_EQ(auth_once(w, dir, "ann@example.org", "correct horse"), AuthStatus::unavailable);
  ASSERT_EQ(w.smtp_peers.size(), 1u);
  EXPECT_EQ(w.smtp_peers[0]->received.find("AUTH"), std::string::npos);
}

TEST(SmtpDirectory, RecipientRepliesMapToOutcomes) {
  World w;
  w.behaviour.rcpt_replies = {
      {"gone", smtp::Reply{550, smtp::EnhancedStatus{5, 1, 1}, {"no such user"}}},
      {"moved", smtp::Reply{551, smtp::EnhancedStatus{5, 1, 6}, {"moved"}}},
      {"bad", smtp::Reply{553, smtp::EnhancedStatus{5, 1, 3}, {"bad"}}},
      {"later", smtp::Reply{450, smtp::EnhancedStatus{4, 2, 1}, {"try later"}}},
      {"full", smtp::Reply{552, smtp::EnhancedStatus{5, 2, 2}, {"full"}}},
  };
  w.serve_smtp(Server::normal, /*tls=*/false, /*lmtp=*/true);
  SmtpDirectory dir(w.sim, w.settings(), SmtpDirectoryMode::lmtp);
  Answers<RecipientOutcome> r;
  for (const char* who : {"Ann@example.org", "gone@example.org", "moved@example.org",
                          "bad@example.org", "later@example.org", "full@example.org",
                          "ann@elsewhere.example", "not an address@example.org"}) {
    dir.check_recipient(who, r.slot());
    const std::size_t want = r.got.size() + 1;
    w.run_until([&] { return r.got.size() == want; });  // idle: the idle timer would run
  }
  ASSERT_EQ(r.got.size(), 8u);
  EXPECT_EQ(r.got[0].status, RecipientStatus::local);
  EXPECT_EQ(r.got[0].principal, "ann@example.org");
  EXPECT_EQ(r.got[1].status, RecipientStatus::unknown);
  EXPECT_EQ(r.got[2].status, RecipientStatus::unknown);
  EXPECT_EQ(r.got[3].status, RecipientStatus::unknown);
  EXPECT_EQ(r.got[4].status, RecipientStatus::unavailable);
  EXPECT_EQ(r.got[5].status, RecipientStatus::unavailable);
  EXPECT_EQ(r.got[6].status, RecipientStatus::unknown);  // not a lookup domain
  EXPECT_EQ(r.got[7].status, RecipientStatus::unknown);  // not a path
  ASSERT_EQ(w.smtp_peers.size(), 1u);                    // six checks on one pooled connection
  const std::string& seen = w.smtp_peers[0]->received;
  EXPECT_EQ(count(seen, "MAIL FROM:<>\r\n"), 6u);
  EXPECT_EQ(count(seen, "RSET\r\n"), 5u);
  EXPECT_EQ(count(seen, "DATA"), 0u);
  EXPECT_EQ(dir.idle_connections(), 1u);
}

TEST(SmtpDirectory, ConnectionReusedUpToLimitsRcptThenReplaced) {
  World w;
  w.serve_smtp(Server::normal);
  auto settings = w.settings();
  settings.limits_rcpt = 3;
  SmtpDirectory dir(w.sim, settings, SmtpDirectoryMode::smtp);
  Answers<RecipientOutcome> r;
  for (int i = 0; i < 3; ++i) {
    dir.check_recipient("u" + std::to_string(i) + "@example.org", r.slot());
    w.sim.run_until([&] { return r.got.size() == static_cast<std::size_t>(i) + 1; },
                    Duration::seconds(5));
  }
  w.sim.run_for(Duration::seconds(1));
  EXPECT_EQ(w.connections, 1u);  // N checks: one connection, now closed with QUIT
  ASSERT_EQ(w.smtp_peers.size(), 1u);
  EXPECT_EQ(count(w.smtp_peers[0]->received, "RCPT TO:"), 3u);
  EXPECT_EQ(count(w.smtp_peers[0]->received, "QUIT\r\n"), 1u);
  EXPECT_EQ(dir.connections(), 0u);
  dir.check_recipient("u3@example.org", r.slot());  // N+1: a new connection
  w.sim.run_until([&] { return r.got.size() == 4; }, Duration::seconds(5));
  EXPECT_EQ(w.connections, 2u);
  for (const auto& o : r.got) EXPECT_EQ(o.status, RecipientStatus::local);
  EXPECT_EQ(count(w.smtp_peers[1]->received, "RSET"), 0u);
}

TEST(SmtpDirectory, ConcurrentChecksShareThePoolAndQueue) {
  World w;
  w.serve_smtp(Server::normal);
  auto settings = w.settings();
  settings.pool_max_connections = 2;
  settings.queue_max = 4;
  SmtpDirectory dir(w.sim, settings, SmtpDirectoryMode::smtp);
  Answers<RecipientOutcome> r;
  for (std::size_t i = 0; i < 7; ++i) {
    dir.check_recipient("u" + std::to_string(i) + "@example.org", r.slot(i));
  }
  EXPECT_EQ(dir.connections(), 2u);
  EXPECT_EQ(dir.queued(), 4u);
  w.sim.run_until_idle();
  ASSERT_EQ(r.got.size(), 7u);
  EXPECT_EQ(r.order[0], 6u);  // the 7th found the queue full
  EXPECT_EQ(r.got[0].status, RecipientStatus::unavailable);
  for (std::size_t i = 1; i < 7; ++i) EXPECT_EQ(r.got[i].status, RecipientStatus::local);
  EXPECT_EQ(w.connections, 2u);  // the queue drained onto the two pooled connections
}

TEST(SmtpDirectory, IdleConnectionIsClosedAndAuthTakesAnIdleSlot) {
  World w;
  w.serve_smtp(Server::normal);
  auto settings = w.settings();
  settings.pool_max_connections = 1;
  settings.idle_timeout = Duration::seconds(30);
  SmtpDirectory dir(w.sim, settings, SmtpDirectoryMode::smtp);
  Answers<RecipientOutcome> r;
  Answers<AuthOutcome> a;
  dir.check_recipient("ann@example.org", r.slot());
  w.run_until([&] { return r.got.size() == 1; });
  EXPECT_EQ(dir.idle_connections(), 1u);
  dir.authenticate("ann@example.org", "correct horse", a.slot());  // needs the only slot
  w.sim.run_until_idle();
  ASSERT_EQ(a.got.size(), 1u);
  EXPECT_EQ(a.got[0].status, AuthStatus::authenticated);
  EXPECT_EQ(w.connections, 2u);
  dir.check_recipient("ann@example.org", r.slot());
  w.run_until([&] { return r.got.size() == 2; });
  EXPECT_EQ(w.connections, 3u);
  w.sim.run_for(Duration::seconds(30) - Duration::milliseconds(10));
  EXPECT_EQ(dir.connections(), 1u);
  w.sim.run_for(Duration::seconds(1));
  EXPECT_EQ(dir.connections(), 0u);
  EXPECT_EQ(count(w.smtp_peers[2]->received, "QUIT\r\n"), 1u);
}

TEST(SmtpDirectory, PooledConnectionClosedByTheServerIsReplaced) {
  World w;
  w.serve_smtp(Server::normal);
  SmtpDirectory dir(w.sim, w.settings(), SmtpDirectoryMode::smtp);
  Answers<RecipientOutcome> r;
  dir.check_recipient("ann@example.org", r.slot());
  w.run_until([&] { return r.got.size() == 1; });
  w.sim.peer_close(w.peer_ids[0]);
  w.sim.run_for(Duration::milliseconds(10));
  EXPECT_EQ(dir.connections(), 0u);
  dir.check_recipient("ann@example.org", r.slot());
  w.sim.run_until_idle();
  ASSERT_EQ(r.got.size(), 2u);
  EXPECT_EQ(r.got[1].status, RecipientStatus::local);
  EXPECT_EQ(w.connections, 2u);
}

TEST(SmtpDirectory, StalledRcptTimesOut) {
  World w;
  w.serve_smtp(Server::normal);
  auto settings = w.settings();
  settings.timeout = Duration::seconds(15);
  SmtpDirectory dir(w.sim, settings, SmtpDirectoryMode::smtp);
  Answers<RecipientOutcome> r;
  dir.check_recipient("ann@example.org", r.slot());
  w.run_until([&] { return r.got.size() == 1; });
  // The server stops answering: the next check waits its full timeout, then gives up.
  w.smtp_peers[0]->stall();
  const Instant start = w.sim.now();
  dir.check_recipient("bob@example.org", r.slot());
  w.run_until([&] { return r.got.size() == 2; });
  ASSERT_EQ(r.got.size(), 2u);
  EXPECT_EQ(r.got[1].status, RecipientStatus::unavailable);
  EXPECT_EQ(w.sim.now() - start, Duration::seconds(15));
  EXPECT_EQ(dir.connections(), 0u);
}

// ---- The memory adapter --------------------------------------------------------------------

TEST(MemoryDirectoryAsync, AnswersThroughTheIo) {
  SimIo sim(1);
  MemoryDirectoryInput in;
  in.principals.push_back({"bob", std::string("{PLAIN}bobpass"), {"Bob@Example.org"}});
  in.lookup_domains = {"lookup.example"};
  auto built = MemoryDirectory::build(in);
  ASSERT_TRUE(built.directory.has_value());
  Answers<AuthOutcome> a;
  Answers<RecipientOutcome> r;
  Answers<SenderOutcome> s;
  {
    MemoryDirectoryAsync dir(std::move(*built.directory), sim);
    dir.authenticate("bob", "bobpass", a.slot());
    dir.authenticate("bob", "nope", a.slot());
    dir.check_recipient("bob@example.org", r.slot());
    dir.check_recipient("x@example.org", r.slot());
    dir.may_send_as("bob", "bob@example.org", s.slot());
    dir.may_send_as("bob", "x@example.org", s.slot());
    EXPECT_TRUE(a.got.empty() && r.got.empty() && s.got.empty());  // never inside the call
    EXPECT_TRUE(dir.is_local_domain("lookup.example"));
    EXPECT_FALSE(dir.is_local_domain("other.example"));
    sim.run_until_idle();
    ASSERT_EQ(a.got.size(), 2u);
    EXPECT_EQ(a.got[0].status, AuthStatus::authenticated);
    EXPECT_EQ(a.got[0].principal, "bob");
    EXPECT_EQ(a.got[1].status, AuthStatus::rejected);
    ASSERT_EQ(r.got.size(), 2u);
    EXPECT_EQ(r.got[0].status, RecipientStatus::local);
    EXPECT_EQ(r.got[0].principal, "bob");
    EXPECT_EQ(r.got[1].status, RecipientStatus::unknown);
    ASSERT_EQ(s.got.size(), 2u);
    EXPECT_EQ(s.got[0].status, SenderStatus::allowed);
    EXPECT_EQ(s.got[1].status, SenderStatus::not_owned);
    dir.authenticate("bob", "bobpass", a.slot());  // destroyed before it runs
  }
  sim.run_until_idle();
  EXPECT_EQ(a.got.size(), 2u);
}

// ---- Pieces --------------------------------------------------------------------------------

TEST(RemoteDirectory, IpLiterals) {
  for (const char* ok : {"127.0.0.1", "0.0.0.0", "255.255.255.255", "::1", "[::1]", "::",
                         "2001:db8::1", "2001:db8:0:0:0:0:0:1", "::ffff:192.0.2.1", "fe80::"}) {
    EXPECT_TRUE(is_ip_literal(ok)) << ok;
  }
  for (const char* bad : {"", "localhost", "256.0.0.1", "1.2.3", "1.2.3.4.5", "1..2.3",
                          "[127.0.0.1]", "2001:db8:::1", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7",
                          "::1::", "12345::", "g::1", " 127.0.0.1", "1.2.3.4 "}) {
    EXPECT_FALSE(is_ip_literal(bad)) << bad;
  }
}

TEST(RemoteDirectory, AuthCacheBoundsAndKeys) {
  AuthCache cache(Duration::minutes(60), Duration::minutes(10), 2, 0);
  const Instant t{0};
  auto k1 = *AuthCache::keys_for("ann", "pw1");
  auto k2 = *AuthCache::keys_for("ann", "pw2");
  auto k3 = *AuthCache::keys_for("bob", "pw");
  EXPECT_NE(k1.credentials, k2.credentials);
  EXPECT_EQ(k1.user, k2.user);
  // (user, password) framing: "ab"+"c" is not "a"+"bc".
  EXPECT_NE(AuthCache::keys_for("ab", "c")->credentials,
            AuthCache::keys_for("a", "bc")->credentials);
  const AuthOutcome good{AuthStatus::authenticated, "ann", {}, ""};
  cache.record(k1, good, t);
  cache.record(k2, good, t);
  EXPECT_EQ(cache.lookup(k1, t).hit, AuthCache::Hit::authenticated);
  cache.record(k3, good, t);  // the 3rd entry evicts the oldest
  EXPECT_EQ(cache.lookup(k1, t).hit, AuthCache::Hit::none);
  EXPECT_EQ(cache.lookup(k2, t).hit, AuthCache::Hit::authenticated);
  EXPECT_EQ(cache.lookup(k3, t).hit, AuthCache::Hit::authenticated);
  cache.record(k2, AuthOutcome{AuthStatus::unavailable, {}, {}, ""}, t);  // never cached
  EXPECT_EQ(cache.lookup(k2, t).hit, AuthCache::Hit::authenticated);
}

}  // namespace
}  // namespace tern::runtime::directory
