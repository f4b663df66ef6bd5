// adapters/sim/world_actors.hpp — the actors of the simulated world (internal to
// adapters/sim/world.cpp): the ledger of what every message should become, the client hosts
// that submit mail through the SimIo peer API, the remote SMTP/LMTP servers that receive
// what the engine delivers, and the directory the engine asks.
//
// Contract:
// - Ledger: every message gets a token "SIMTOKEN-<seed>-<n>" carried in its Subject and
//   body. observe(content, rcpt, where) reads a delivered message: a DSN
//   (multipart/report) counts one bounce per "Action: failed" recipient of the token it
//   carries, anything else one delivery of its token to `rcpt`. Violations are appended as
//   lines naming the invariant, the token and the recipient.
// - Client: one connection of a client host driving protocol::smtp::ClientSession over the
//   peer API (SMTP on 25, submission with STARTTLS and AUTH on 587, LMTP on 24), one or more
//   pipelined transactions. poll() must be called regularly: it notices a connection the
//   engine (or a crash) closed and fires the machine's timeouts.
// - RemoteServer: a listener of the far end (relay, LMTP store, MX hosts). Each connection
//   is a protocol::smtp::ServerSession whose answers are drawn per connection from the
//   script (greeting 421, RCPT 4xx/5xx, end of data 4xx/5xx, stalls, slow replies, close
//   mid-DATA) until heal(); after heal() it accepts everything. A 250 it sends records the
//   delivery in the ledger; a 250 never followed by another command on its connection is
//   "unconfirmed" (the engine may never have read it, so it may deliver again).
// - DirectoryServer: the external directory the engine asks when a seed's directory is
//   smtp, lmtp or imap (our own server machines, scripted). It knows the world's users
//   (login "u<i>@example.org", password "pw-u<i>"): SMTP/LMTP answer RCPT probes 250 for a
//   user and 550 5.1.1 for anyone else, AUTH PLAIN 235 or 535; IMAP verifies logins. Until
//   heal() it draws per connection a stall (never answers again), slow replies, a failed
//   STARTTLS handshake, and per answer a temporary failure (451 / 454 / NO [UNAVAILABLE]);
//   each is counted in faults(). While any of these can happen, or the server is down
//   (refuse/blackhole), failing() is true: a known user may then see a 4xx, never a 5xx.
// None of them throws; all run on the SimIo's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "adapters/sim/sim_io.hpp"
#include "protocol/smtp/client_session.hpp"
#include "protocol/smtp/server_session.hpp"
#include "runtime/directory/directory.hpp"

namespace tern::adapters::sim::world {

// The event log: each line is stamped with virtual time and folded into a hash.
class Trace {
 public:
  explicit Trace(SimIo& io) : io_(io) {}
  void add(const std::string& line);
  std::uint64_t hash() const { return hash_; }
  std::vector<std::string> lines;

 private:
  SimIo& io_;
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;
};

enum class Fate { unsent, unknown, acked, refused };

struct MessageTruth {
  std::string token;
  std::string sender;
  std::vector<std::string> rcpts;  // as submitted, lowercase
  std::set<std::string> accepted;  // recipients covered by the 250
  Fate fate = Fate::unsent;
  std::string queue_id;
  std::string repeat_reason;  // non-empty: a repeated delivery is allowed, and why
};

class Ledger {
 public:
  Ledger(std::uint64_t seed, Trace& trace) : seed_(seed), trace_(trace) {}
  std::size_t add_message(std::string sender, std::vector<std::string> rcpts);
  MessageTruth& message(std::size_t index) { return messages_[index]; }
  const std::vector<MessageTruth>& messages() const { return messages_; }
  std::string token(std::size_t index) const;
  // A delivered message: content as stored or received, rcpt the mailbox it reached.
  void observe(const std::string& content, const std::string& rcpt, const std::string& where);
  void violation(std::string line);
  std::optional<std::size_t> index_of(const std::string& content) const;
  bool finished(std::size_t index) const;  // every accepted recipient delivered or bounced
  void allow_repeat(std::size_t index, const std::string& why);

  std::map<std::pair<std::size_t, std::string>, int> deliveries;
  std::map<std::pair<std::size_t, std::string>, int> bounces;
  std::vector<std::string> violations;
  std::uint64_t delivered_total = 0;
  std::uint64_t bounced_total = 0;

 private:
  void observe_dsn(std::size_t index, const std::string& content, const std::string& rcpt,
                   const std::string& where);
  std::uint64_t seed_;
  Trace& trace_;
  std::vector<MessageTruth> messages_;
};

// What a recipient should get at RCPT in a calm world.
enum class RcptTruth { accept, unknown_user, relay_denied };

struct MessagePlan {
  std::size_t index = 0;  // into the ledger
  std::vector<RcptTruth> truths;
  std::string body;
};

enum class ClientKind { smtp, submission, lmtp };

struct ClientPlan {
  ClientKind kind = ClientKind::smtp;
  runtime::Duration start;
  std::string ip;
  std::string user;  // submission: the AUTH user (password "pw-<user>")
  std::vector<MessagePlan> messages;
  // Drawn from their own stream (world.variety), so the workload above stays as it was.
  std::string login;             // the AUTH login: user, or user@example.org (remote dir.)
  bool starttls = false;         // smtp/lmtp: STARTTLS when offered (submission: always)
  bool tls_fail = false;         // the client's TLS handshake fails (a fault)
  bool chunking = false;         // BDAT when offered (CHUNKING)
  std::uint32_t chunk_seed = 0;  // draws the BDAT chunk sizes
  // Issue 16's clients: one that names every accepted recipient twice (the engine answers
  // both and delivers once: invariant 1 counts copies), and one that sends its bytes a few
  // at a time, slow_ms apart (a slow but honest client still gets its mail through).
  bool duplicate_rcpts = false;
  std::uint32_t slow_ms = 0;  // 0: writes whole
};

class Client {
 public:
  Client(SimIo& io, Ledger& ledger, Trace& trace, ClientPlan plan, int number);
  bool begin();  // connects; false when nobody listens (the engine is down)
  void poll();
  bool done() const { return done_; }
  std::function<void(std::size_t)> on_acked;  // a 250 reached the client (invariant 2)
  // Whether the engine's directory may answer `unavailable` now (invariant 3 allows a
  // 451 4.4.3 only then); unset: never.
  std::function<bool()> directory_may_fail;

 private:
  void pump();
  void on_event(protocol::smtp::ClientEvent& event);
  void submit_next();
  bool send_body(const std::string& body);
  void drip();  // a slow client: the next few bytes of outbox_, when their time has come
  void check_directory_reply(const protocol::smtp::RecipientEvent& e);
  void resolve(bool message_done);
  void check_truth(const MessagePlan& plan, std::size_t i, const protocol::smtp::RecipientEvent& e);
  void finish(const std::string& why);

  SimIo& io_;
  Ledger& ledger_;
  Trace& trace_;
  ClientPlan plan_;
  int number_;
  PeerId peer_ = 0;
  std::optional<protocol::smtp::ClientSession> machine_;
  std::size_t next_message_ = 0;
  std::optional<std::size_t> current_;  // index into plan_.messages
  bool body_sent_ = false;
  bool done_pending_ = false;  // MessageDoneEvent seen; resolved at the next event
  std::vector<protocol::smtp::RecipientEvent> outcomes_;
  bool done_ = false;
  std::string inbox_;
  Prng chunks_{0};
  std::vector<std::size_t> rcpt_of_;  // envelope index -> the message's recipient index
  std::string outbox_;                // a slow client's bytes not yet written
  runtime::Instant next_drip_{};
};

struct RemoteScript {  // per million, drawn per connection while not healed
  std::uint32_t greet_421 = 0;
  std::uint32_t rcpt_temp = 0;
  std::uint32_t rcpt_perm = 0;
  std::uint32_t data_temp = 0;
  std::uint32_t data_perm = 0;
  std::uint32_t stall = 0;
  std::uint32_t slow = 0;
  std::uint32_t close_mid_data = 0;
};

class RemoteServer {
 public:
  RemoteServer(SimIo& io, Ledger& ledger, Trace& trace, std::string name, runtime::Endpoint at,
               bool lmtp, RemoteScript script, Prng prng, bool never_permanent);
  ~RemoteServer();
  void heal() { healed_ = true; }
  void serve();      // connections reach this server (the initial state)
  void refuse();     // connections are refused
  void blackhole();  // connections time out
  const std::string& name() const { return name_; }
  // Marks every token whose 250 was never confirmed as possibly repeated.
  void release_unconfirmed();
  std::uint64_t connections() const { return connections_; }

  struct Conn;

 private:
  friend struct Conn;
  void accept(PeerId peer);
  SimIo& io_;
  Ledger& ledger_;
  Trace& trace_;
  std::string name_;
  bool lmtp_;
  RemoteScript script_;
  Prng prng_;
  bool never_permanent_;
  runtime::Endpoint at_;
  bool healed_ = false;
  std::uint64_t connections_ = 0;
  std::vector<std::unique_ptr<Conn>> conns_;
};

enum class DirectoryKind { memory, smtp, lmtp, imap };

struct DirectoryScript {          // per million, drawn while not healed
  std::uint32_t answer_temp = 0;  // per answer: RCPT 451, AUTH 454, IMAP NO [UNAVAILABLE]
  std::uint32_t stall = 0;        // per connection: it never answers again
  std::uint32_t slow = 0;         // per connection: every reply 0.2..20 s late
  std::uint32_t tls_fail = 0;     // per STARTTLS: the handshake fails
};

class DirectoryServer {
 public:
  DirectoryServer(SimIo& io, Trace& trace, DirectoryKind kind, runtime::Endpoint at,
                  DirectoryScript script, Prng prng, std::size_t users);
  ~DirectoryServer();
  void heal() { healed_ = true; }
  void serve();
  void refuse();
  void blackhole();
  bool failing() const;  // it may fail an answer now (script or down)
  const std::map<std::string, std::uint64_t>& faults() const { return faults_; }
  std::uint64_t connections() const { return connections_; }

  struct Conn;
  template <class Machine>
  struct ConnOf;

 private:
  template <class Machine>
  friend struct ConnOf;
  void accept(PeerId peer);
  bool known(const std::string& login, const std::string& password) const;
  bool known_address(const std::string& address) const;
  void count(const std::string& name);
  SimIo& io_;
  Trace& trace_;
  DirectoryKind kind_;
  runtime::Endpoint at_;
  DirectoryScript script_;
  Prng prng_;
  std::size_t users_;
  bool healed_ = false;
  bool down_ = false;
  std::uint64_t connections_ = 0;
  std::map<std::string, std::uint64_t> faults_;
  std::vector<std::unique_ptr<Conn>> conns_;
};

// The directory: users u0..u(n-1) at example.org, password "pw-<user>".
class WorldDirectory final : public runtime::directory::Directory {
 public:
  WorldDirectory(runtime::Io& io, std::size_t users) : io_(io), users_(users) {}
  void authenticate(std::string_view user, std::string_view password,
                    std::function<void(runtime::directory::AuthOutcome)> done) override;
  void check_recipient(std::string_view address,
                       std::function<void(runtime::directory::RecipientOutcome)> done) override;
  void may_send_as(std::string_view principal, std::string_view address,
                   std::function<void(runtime::directory::SenderOutcome)> done) override;
  bool is_local_domain(std::string_view domain) const override;
  std::optional<std::string> principal_of(std::string_view address) const;

 private:
  runtime::Io& io_;
  std::size_t users_;
};

inline constexpr std::string_view kLocalDomain = "example.org";
bool chance(Prng& prng, std::uint32_t per_million);

}  // namespace tern::adapters::sim::world
